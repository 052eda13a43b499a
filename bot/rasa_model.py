"""Training and locating the Rasa model, keyed by what it is trained from.

The model is named by a hash of config.yml, domain.yml, every file under data/ and the
NLU component's code (rasa_runtime/, except the launcher, which the model does not use), so
`make train` retrains only when one of them changed, and a running Rasa always loads the
model that matches the checkout.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

from bot.settings import PROJECT_ROOT

RASA_BIN = PROJECT_ROOT / ".venv-rasa" / "bin" / "rasa"
TRAINING_INPUTS = ("config.yml", "domain.yml")
KEEP_MODELS = 3


def training_hash(root: Path = PROJECT_ROOT) -> str:
    digest = hashlib.sha256()
    files = [root / name for name in TRAINING_INPUTS]
    files += sorted(p for p in (root / "data").rglob("*") if p.is_file())
    # Not recursive on purpose: rasa_runtime/speedups/ and serving/ (like launch.py) change
    # how Rasa runs, not what it learns, so changing them must not retrain.
    files += sorted(p for p in (root / "rasa_runtime").glob("*.py") if p.name != "launch.py")
    for path in files:
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def model_path(model_dir: Path, root: Path = PROJECT_ROOT) -> Path:
    return model_dir / f"rasa-{training_hash(root)}.tar.gz"


def rasa_env() -> dict[str, str]:
    """Environment for Rasa's processes: quiet, offline, no telemetry."""
    env = dict(os.environ)
    env.update(
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        SQLALCHEMY_SILENCE_UBER_WARNING="1",
        PYTHONWARNINGS="ignore",
    )
    return env


def train(model_dir: Path, root: Path = PROJECT_ROOT, force: bool = False) -> tuple[Path, bool]:
    """Train unless the model for the current inputs exists; returns (path, trained)."""
    target = model_path(model_dir, root)
    if target.is_file() and not force:
        return target, False
    if not RASA_BIN.is_file():
        raise RuntimeError(
            "the Rasa runtime is missing: run `make install` (it creates .venv-rasa)"
        )
    model_dir.mkdir(parents=True, exist_ok=True)
    log = model_dir / "rasa-train.log"
    with log.open("wb") as out:
        done = subprocess.run(
            [
                str(RASA_BIN),
                "train",
                "--config",
                "config.yml",
                "--domain",
                "domain.yml",
                "--data",
                "data",
                "--out",
                str(model_dir),
                "--fixed-model-name",
                target.name.removesuffix(".tar.gz"),
            ],
            cwd=root,
            env=rasa_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    if done.returncode != 0:
        tail = log.read_text(errors="replace").splitlines()[-25:]
        raise RuntimeError(f"rasa train failed (full log: {log}):\n" + "\n".join(tail))
    _prune(model_dir, keep=target)
    return target, True


def _prune(model_dir: Path, keep: Path) -> None:
    models = sorted(model_dir.glob("rasa-*.tar.gz"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in [m for m in models if m != keep][KEEP_MODELS - 1 :]:
        old.unlink(missing_ok=True)
