"""On-disk caches: reused while valid, rebuilt when the corpus or the model changes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bot.faq import FaqEngine
from bot.faq.encoder import model_key
from bot.settings import PROJECT_ROOT, Settings


def isolated(settings: Settings, corpus_dir: Path, cache: Path) -> Settings:
    # Reuse the exported encoder (its own cache, keyed by model) so only the index is new.
    (cache / "encoders").mkdir(parents=True, exist_ok=True)
    for exported in (settings.faq_cache_dir / "encoders").iterdir():
        link = cache / "encoders" / exported.name
        if not link.exists():
            link.symlink_to(exported)
    return settings.model_copy(update={"faq_corpus_dir": corpus_dir, "faq_cache_dir": cache})


def index_files(cache: Path) -> set[str]:
    return {p.name for p in (cache / "index").iterdir()}


def test_index_is_reused_then_rebuilt_when_the_corpus_changes(
    engine, settings, corpus_dir, tmp_path
):
    cache = tmp_path / "cache"
    s = isolated(settings, corpus_dir, cache)
    first = FaqEngine.load(s)
    files = index_files(cache)
    assert len(files) == 2  # vectors + lemmas, both keyed by the corpus fingerprint
    mtimes = {p: p.stat().st_mtime_ns for p in (cache / "index").iterdir()}

    again = FaqEngine.load(s)
    assert {p: p.stat().st_mtime_ns for p in (cache / "index").iterdir()} == mtimes
    assert again.corpus.fingerprint == first.corpus.fingerprint

    # A store adds a way of asking: the new text must be searchable at once.
    path = corpus_dir / "03_shipping.yml"
    entries = yaml.safe_load(path.read_text(encoding="utf-8"))
    store = next(e for e in entries if e["id"] == "shipping_physical_store")
    store["paraphrases"].append("zorblax quintessential flagship emporium visit")
    path.write_text(yaml.safe_dump(entries, allow_unicode=True, sort_keys=False), encoding="utf-8")

    changed = FaqEngine.load(s)
    assert changed.corpus.fingerprint != first.corpus.fingerprint
    assert len(index_files(cache) - files) == 2
    hit = changed.search("zorblax quintessential flagship emporium visit")
    assert hit.entry is not None and hit.entry.id == "shipping_physical_store"


def test_model_key_changes_when_model_files_change(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "modules.json").write_text("[]")
    (model / "model.safetensors").write_bytes(b"x" * 10)
    before = model_key(model)
    assert model_key(model) == before
    time.sleep(0.01)
    (model / "model.safetensors").write_bytes(b"y" * 11)
    assert model_key(model) != before


def test_warm_start_from_valid_caches_is_fast(engine):
    # The engine fixture built the caches; a new process must load from them alone.
    code = (
        "import time, sys; t = time.perf_counter()\n"
        "from bot.settings import Settings\nfrom bot.faq import FaqEngine\n"
        "e = FaqEngine.load(Settings()); e.search('klarna?')\n"
        "print(time.perf_counter() - t); print('torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        check=True,
        env={**os.environ},
    )
    seconds, torch_loaded = out.stdout.split()
    # A warm start never needs torch (that import alone costs over a second here);
    # the seconds are reported by bench/faq_latency.py, not asserted.
    assert torch_loaded == "False", out.stderr
    assert float(seconds) > 0


def test_missing_model_says_how_to_fix(settings, tmp_path):
    s = settings.model_copy(update={"faq_model": str(tmp_path / "nope"), "faq_cache_dir": tmp_path})
    try:
        FaqEngine.load(s)
    except RuntimeError as exc:
        assert "make train" in str(exc)
    else:
        raise AssertionError("loading a missing model must fail")
    shutil.rmtree(tmp_path, ignore_errors=True)


def test_touching_the_training_stamp_keeps_the_caches(tmp_path):
    # `make train` touches the stamp when nothing changed; that must not force a re-export.
    model = tmp_path / "model"
    model.mkdir()
    (model / "model.safetensors").write_bytes(b"weights")
    (model / "knt_training.json").write_text("{}")
    before = model_key(model)
    later = time.time() + 60
    os.utime(model / "knt_training.json", (later, later))
    assert model_key(model) == before


def test_an_onnx_export_leaves_the_multiprocessing_start_method_alone(tmp_path):
    # The action server (Sanic) refuses to start when something fixed the start method
    # first; a cold cache exports the encoder inside that process.
    code = (
        "import multiprocessing as mp, pathlib, sys\n"
        "from bot.faq.encoder import export_onnx\n"
        "export_onnx(pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]))\n"
        "print(mp.get_start_method(allow_none=True))\n"
    )
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            str(PROJECT_ROOT / "models" / "faq-encoder"),
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
    )
    assert out.stdout.strip().splitlines()[-1] == "None"
    assert (tmp_path / "x" / "model.onnx").is_file()
