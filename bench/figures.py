"""The `--json PATH` option every bench shares: its figures, baselines included, as JSON
for bench/report.py. What a bench prints does not change with it."""

from __future__ import annotations

import argparse
import json
import math
import os
from pathlib import Path
from typing import Any


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        type=Path,
        metavar="PATH",
        help="also write the figures (baselines included) to this JSON file",
    )


def write_json(path: Path | None, figures: dict[str, Any]) -> None:
    """`figures` with the core count, to `path` (nothing when no path was given). A NaN
    (a percentile of no measurements) becomes null: JSON has no NaN."""
    if path is None:
        return
    data = {"cores": os.cpu_count(), **figures}
    path.write_text(json.dumps(_finite(data), indent=2) + "\n")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
