"""Code that runs inside the Rasa runtime (.venv-rasa, Python 3.10); never imports `bot`."""
