"""Custom actions of the Rasa assistant (rasa-sdk), one module per capability.

They stay thin: the work is done by `bot.*`. The action server loads every Action
subclass found here: `python -m rasa_sdk --actions actions`.
"""
