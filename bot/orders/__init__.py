"""The order backend: its own FastAPI service over its own SQL database.

It owns the store's order rules (`rules.py`), so every client (the action server, the
staff console) gets the same answers. Nothing is built at import: `create_app(settings)`
in `app.py` builds the engines; `runner.py` migrates and serves; `seed.py` fills an empty
database with the demo orders.
"""
