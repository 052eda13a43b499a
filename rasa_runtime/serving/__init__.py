"""How the Rasa server runs, not what its model learns (like speedups/, outside the
training hash of bot/rasa_model.py): TensorFlow left out of `rasa run`."""
