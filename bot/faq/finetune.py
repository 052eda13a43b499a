"""Fine-tune the sentence encoder on the corpus itself (`bot faq train`, `make train`).

Contrastive training with MultipleNegativesRankingLoss: each batch holds one
(paraphrase, other text of the same entry) pair per FAQ entry or out-of-scope topic,
and every other pair in the batch is a negative. Nothing from tests/data is used.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from bot.faq.corpus import Corpus
from bot.faq.encoder import TRAINING_STAMP, _stay_offline

STAMP = TRAINING_STAMP


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 2
    batch_size: int = 32
    learning_rate: float = 3e-5
    seed: int = 13


def _groups(corpus: Corpus) -> list[list[str]]:
    """Texts that mean the same thing: one group per entry and per out-of-scope topic."""
    groups = [e.texts for e in corpus.entries]
    groups += [t.examples for t in corpus.out_of_scope if len(t.examples) > 1]
    return groups


def _batches(
    groups: list[list[str]], cfg: TrainConfig, rng: random.Random
) -> list[list[tuple[str, str]]]:
    """Each text once as an anchor per epoch; no two pairs of one batch share a group
    (they would be false negatives for each other)."""
    anchors = [(g, t) for g, texts in enumerate(groups) for t in texts]
    rng.shuffle(anchors)
    batches: list[list[tuple[str, str]]] = []
    pending = anchors
    while pending:
        batch: list[tuple[str, str]] = []
        used: set[int] = set()
        rest = []
        for g, text in pending:
            if g in used or len(batch) >= cfg.batch_size:
                rest.append((g, text))
                continue
            others = [t for t in groups[g] if t != text]
            batch.append((text, rng.choice(others)))
            used.add(g)
        batches.append(batch)
        pending = rest
    return batches


def finetune(
    corpus: Corpus, base_model: Path, out_dir: Path, cfg: TrainConfig | None = None
) -> float:
    """Train and save to `out_dir`; returns the seconds it took."""
    cfg = cfg or TrainConfig()
    _stay_offline()
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    started = time.perf_counter()
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    model = SentenceTransformer(str(base_model), device="cpu")
    loss_fn = MultipleNegativesRankingLoss(model)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.learning_rate)
    groups = _groups(corpus)
    model.train()
    for _epoch in range(cfg.epochs):
        for batch in _batches(groups, cfg, rng):
            anchors = model.preprocess([a for a, _ in batch])
            positives = model.preprocess([p for _, p in batch])
            loss = loss_fn([anchors, positives], torch.empty(0))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
    model.eval()
    tmp = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save(str(tmp))
    stamp = {"corpus": corpus.fingerprint, "config": asdict(cfg), "base": str(base_model)}
    (tmp / STAMP).write_text(json.dumps(stamp, indent=2))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    tmp.rename(out_dir)
    return time.perf_counter() - started


def trained_on(model_dir: Path) -> tuple[str, TrainConfig] | None:
    """(corpus fingerprint, config) a fine-tuned model was made from, if it is one."""
    try:
        stamp = json.loads((model_dir / STAMP).read_text())
        return stamp["corpus"], TrainConfig(**stamp["config"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
