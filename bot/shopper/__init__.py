"""Helpers for what the shopper-facing actions say and read."""
