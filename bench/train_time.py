"""How long a full `make train` takes from nothing (no caches), part by part.

Fine-tunes the FAQ encoder into a temporary folder and trains the Rasa model with an
empty Rasa cache, then prints both times and their sum (target: <= 4 minutes).

Usage: .venv/bin/python bench/train_time.py [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from figures import add_json_option, write_json

from bot.rasa_model import RASA_BIN, rasa_env
from bot.settings import PROJECT_ROOT


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=PROJECT_ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_json_option(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="train-time-") as tmp:
        scratch = Path(tmp)
        faq_env = {
            **os.environ,
            "FAQ_MODEL": str(scratch / "faq-encoder"),
            "FAQ_CACHE_DIR": str(scratch / "faq-cache"),
        }
        faq = timed([sys.executable, "-m", "bot.cli", "faq", "train", "--force"], faq_env)
        rasa_cache_env = {**rasa_env(), "RASA_CACHE_DIRECTORY": str(scratch / "rasa-cache")}
        rasa = timed(
            [
                str(RASA_BIN),
                "train",
                "--out",
                str(scratch / "models"),
                "--fixed-model-name",
                "bench",
            ],
            rasa_cache_env,
        )
    print("Full training from nothing (no caches):")
    print(f"  {'FAQ encoder fine-tuning + ONNX export + index':48} {faq:6.1f} s")
    print(f"  {'Rasa model (NLU + policies)':48} {rasa:6.1f} s")
    print(f"  {'total':48} {faq + rasa:6.1f} s (target <= 240 s)")
    write_json(
        args.json,
        {"faq_encoder_s": faq, "rasa_model_s": rasa, "total_s": faq + rasa, "target_s": 240.0},
    )


if __name__ == "__main__":
    main()
