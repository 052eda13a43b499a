"""Alembic migrations of the order database (run by `bot.orders.db.migrate`)."""
