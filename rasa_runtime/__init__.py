"""Code that runs inside the Rasa runtime (.venv-rasa, Python 3.10) and never imports
`bot`: the NLU's sentence-embedding featurizer (named in config.yml) and the launcher
that starts Rasa (`python -m rasa_runtime.launch run ...`)."""
