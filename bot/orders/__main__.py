"""`python -m bot.orders serve|seed|migrate`: the order backend without the `bot` CLI."""

from __future__ import annotations

import argparse
import sys

from bot.orders.db import migrate
from bot.orders.runner import seed_command, serve
from bot.settings import Settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.orders", description=__doc__)
    parser.add_argument("command", choices=("serve", "seed", "migrate"))
    args = parser.parse_args(argv)
    settings = Settings()
    if args.command == "serve":
        serve(settings)
        return 0
    if args.command == "seed":
        return seed_command(settings)
    migrate(settings.orders_database_url)
    print("order database migrated to the latest revision")
    return 0


if __name__ == "__main__":
    sys.exit(main())
