"""KNT support assistant: FAQ retrieval, order backend, gateway and tools (app runtime)."""
