"""The chat gateway: the widget's WebSocket in front of Rasa's REST channel."""
