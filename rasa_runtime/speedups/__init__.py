"""Patches that keep the cost of a Rasa turn flat as a conversation grows (issue 11).

Applied by the launcher (rasa_runtime/launch.py) inside Rasa's process only. Each one
leaves Rasa's answers exactly as they were; tests/test_rasa_runtime_turn_cost.py compares
them with unpatched Rasa. Kept in this subpackage, not beside the NLU component: the
model is keyed by the code it runs (bot/rasa_model.py hashes rasa_runtime/*.py, not the
launcher's subpackages), and none of this is part of the model.
"""
