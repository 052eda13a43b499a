"""`python -m bot.orders serve|seed|migrate`: the order backend without the `bot` command's
other tools. The commands are `bot orders ...` (bot/cli.py), the one set of them."""

from __future__ import annotations

from bot.cli import orders_app

if __name__ == "__main__":
    orders_app(prog_name="python -m bot.orders")
