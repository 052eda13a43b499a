"""Intent and entity quality of the NLU pipeline: 5-fold cross-validation.

Runs `rasa test nlu --cross-validation --folds 5` on data/nlu.yml with config.yml and
prints intent macro-F1 (target >= 0.95) with the per-intent F1, beside the entity F1.
Then the baseline, cross-validated the same way in the same run: config.yml without the
sentence-vector featurizer (word and character n-grams alone), so the line shows what
the MiniLM sentence vectors add (`--no-baseline` skips it). Takes several minutes (it
trains five models per pipeline).

Usage: .venv/bin/python bench/nlu_cv.py [--folds N] [--out DIR] [--no-baseline] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from figures import add_json_option, write_json

from bot.rasa_model import RASA_BIN, rasa_env
from bot.settings import PROJECT_ROOT

SENTENCE_VECTORS = "rasa_runtime.sentence_embeddings.SentenceEmbeddingFeaturizer"


def cross_validate(config: Path, folds: int, out: Path) -> float:
    """Rasa's cross-validation of `config` on data/nlu.yml, reports in `out`; seconds."""
    started = time.perf_counter()
    subprocess.run(
        [
            str(RASA_BIN),
            "test",
            "nlu",
            "--nlu",
            "data/nlu.yml",
            "--config",
            str(config),
            "--cross-validation",
            "--folds",
            str(folds),
            "--out",
            str(out),
        ],
        cwd=PROJECT_ROOT,
        env=rasa_env(),
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - started


def baseline_config(directory: Path) -> Path:
    """config.yml without the sentence vectors, written into `directory`."""
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text())
    config["pipeline"] = [c for c in config["pipeline"] if c["name"] != SENTENCE_VECTORS]
    path = directory / "config-ngrams-only.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def entity_f1(out: Path) -> dict[str, float]:
    scores = {}
    for report in sorted(out.glob("*Extractor_report.json")) + sorted(out.glob("DIET*report.json")):
        if "intent" in report.name:
            continue
        data = json.loads(report.read_text())
        if "macro avg" in data:
            scores[report.stem] = data["macro avg"]["f1-score"]
    return scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--out", type=Path, help="keep Rasa's reports here (intent_errors.json, ...)"
    )
    parser.add_argument("--no-baseline", action="store_true", help="skip the n-grams-only baseline")
    add_json_option(parser)
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="nlu-cv-"))
    seconds = cross_validate(PROJECT_ROOT / "config.yml", args.folds, out)
    intents = json.loads((out / "intent_report.json").read_text())
    print(f"NLU {args.folds}-fold cross-validation ({seconds:.0f} s), data/nlu.yml + config.yml")
    macro = intents["macro avg"]
    print(
        f"  intent macro-F1 {macro['f1-score']:.3f} (target >= 0.95), "
        f"weighted F1 {intents['weighted avg']['f1-score']:.3f}, "
        f"accuracy {intents.get('accuracy', float('nan')):.3f}"
    )
    per_intent = {}
    for name, row in sorted(intents.items()):
        if (
            isinstance(row, dict)
            and "support" in row
            and name not in ("macro avg", "weighted avg", "micro avg")
        ):
            print(f"    {name:22} F1 {row['f1-score']:.3f}  (n={row['support']})")
            per_intent[name] = row["f1-score"]
    entities = entity_f1(out)
    for stem, f1 in entities.items():
        print(f"  entities ({stem}): macro-F1 {f1:.3f}")
    figures: dict[str, Any] = {
        "folds": args.folds,
        "seconds": seconds,
        "intent_macro_f1": macro["f1-score"],
        "intent_weighted_f1": intents["weighted avg"]["f1-score"],
        "intent_accuracy": intents.get("accuracy"),
        "intent_macro_f1_target": 0.95,
        "per_intent_f1": per_intent,
        "entity_macro_f1": entities,
    }
    if not args.no_baseline:
        base_out = out / "baseline"
        base_seconds = cross_validate(baseline_config(out), args.folds, base_out)
        base = json.loads((base_out / "intent_report.json").read_text())
        print(
            f"  baseline, config.yml without the sentence vectors (n-grams only, "
            f"{base_seconds:.0f} s): intent macro-F1 {base['macro avg']['f1-score']:.3f}, "
            f"accuracy {base.get('accuracy', float('nan')):.3f}"
        )
        figures["baseline_ngrams_only"] = {
            "seconds": base_seconds,
            "intent_macro_f1": base["macro avg"]["f1-score"],
            "intent_accuracy": base.get("accuracy"),
            "entity_macro_f1": entity_f1(base_out),
        }
    write_json(args.json, figures)


if __name__ == "__main__":
    main()
