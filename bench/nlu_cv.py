"""Intent and entity quality of the NLU pipeline: 5-fold cross-validation.

Runs `rasa test nlu --cross-validation --folds 5` on data/nlu.yml with config.yml and
prints intent macro-F1 (target >= 0.95) with the per-intent F1, beside the entity F1.
Takes several minutes (it trains five models).

Usage: .venv/bin/python bench/nlu_cv.py [--folds N] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from bot.rasa_model import RASA_BIN, rasa_env
from bot.settings import PROJECT_ROOT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument(
        "--out", type=Path, help="keep Rasa's reports here (intent_errors.json, ...)"
    )
    args = parser.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="nlu-cv-"))
    started = time.perf_counter()
    subprocess.run(
        [
            str(RASA_BIN),
            "test",
            "nlu",
            "--nlu",
            "data/nlu.yml",
            "--config",
            "config.yml",
            "--cross-validation",
            "--folds",
            str(args.folds),
            "--out",
            str(out),
        ],
        cwd=PROJECT_ROOT,
        env=rasa_env(),
        check=True,
        capture_output=True,
    )
    intents = json.loads((out / "intent_report.json").read_text())
    print(
        f"NLU {args.folds}-fold cross-validation ({time.perf_counter() - started:.0f} s), "
        f"data/nlu.yml + config.yml"
    )
    macro = intents["macro avg"]
    print(
        f"  intent macro-F1 {macro['f1-score']:.3f} (target >= 0.95), "
        f"weighted F1 {intents['weighted avg']['f1-score']:.3f}, "
        f"accuracy {intents.get('accuracy', float('nan')):.3f}"
    )
    for name, row in sorted(intents.items()):
        if (
            isinstance(row, dict)
            and "support" in row
            and name not in ("macro avg", "weighted avg", "micro avg")
        ):
            print(f"    {name:22} F1 {row['f1-score']:.3f}  (n={row['support']})")
    for report in sorted(out.glob("*Extractor_report.json")) + sorted(out.glob("DIET*report.json")):
        if "intent" in report.name:
            continue
        data = json.loads(report.read_text())
        if "macro avg" in data:
            print(f"  entities ({report.stem}): macro-F1 {data['macro avg']['f1-score']:.3f}")


if __name__ == "__main__":
    main()
