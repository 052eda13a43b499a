"""The evaluation data and the metrics/abstention arithmetic behind `bot faq eval`."""

from __future__ import annotations

import json
import math

import numpy as np

from bot.faq.corpus import load_corpus
from bot.faq.evaluate import (
    DevQuestion,
    Ranked,
    Threshold,
    calibrate,
    load_dev,
    mark_novel,
    metrics,
)
from bot.settings import PROJECT_ROOT

from .conftest import DATA

IDS = ["a", "b", "c"]


def q(labels: tuple[str, ...], split: str = "tune") -> DevQuestion:
    return DevQuestion("x", "x", labels, split)


def test_metrics_by_hand():
    ranked = [
        Ranked(np.array([0.9, 0.2, 0.1])),  # in-scope a, answered right
        Ranked(np.array([0.3, 0.8, 0.1])),  # in-scope a, wrong top-1, a is 2nd
        Ranked(np.array([0.4, 0.1, 0.0])),  # in-scope a, right but below threshold
        Ranked(np.array([0.2, 0.1, 0.45])),  # out of scope, abstained
        Ranked(np.array([0.1, 0.7, 0.0])),  # out of scope, wrongly answered
    ]
    questions = [q(("a",)), q(("a",)), q(("a",)), q(()), q(())]
    m = metrics(ranked, questions, IDS, Threshold(0.5))
    assert m.n_in == 3 and m.n_out == 2
    assert math.isclose(m.top1, 2 / 3)
    assert math.isclose(m.mrr3, (1 + 0.5 + 1) / 3)
    assert math.isclose(m.answered_right, 1 / 3)
    assert math.isclose(m.abstain_recall, 1 / 2)
    assert math.isclose(m.abstain_precision, 1 / 2)  # abstained on 2: one OOS, one in-scope
    assert math.isclose(m.overall, 2 / 5)


def test_oos_gap_and_margin_make_it_abstain():
    r = [Ranked(np.array([0.9, 0.2, 0.1]), oos_gap=0.2), Ranked(np.array([0.9, 0.89, 0.1]))]
    questions = [q(()), q(())]
    assert metrics(r, questions, IDS, Threshold(0.5)).abstain_recall == 0
    assert metrics(r, questions, IDS, Threshold(0.5, 0.05, 0.1)).abstain_recall == 1


def test_calibrate_puts_the_threshold_in_the_middle_of_the_gap():
    ranked = [Ranked(np.array([s, 0.0, 0.0])) for s in (0.9, 0.8, 0.7, 0.3, 0.2)]
    questions = [q(("a",)), q(("a",)), q(("a",)), q(()), q(())]
    t = calibrate(ranked, questions, IDS)
    assert math.isclose(t.min_score, 0.5)  # halfway between 0.3 and 0.7
    assert metrics(ranked, questions, IDS, t).overall == 1.0


def test_dev_set_is_big_enough_labelled_and_independent_of_the_corpus():
    corpus = load_corpus(PROJECT_ROOT / "faq_corpus")
    dev = load_dev(DATA / "faq_dev.jsonl", corpus)
    fresh = load_dev(DATA / "faq_fresh.jsonl", corpus, default_split="fresh")
    in_scope = [d for d in dev if d.labels]
    assert len(in_scope) >= 150
    assert len(dev) - len(in_scope) >= 25
    assert {d.split for d in dev} == {"tune", "test"}
    assert {d.split for d in fresh} == {"fresh"}
    for split in ("tune", "test"):
        part = [d for d in dev if d.split == split]
        assert sum(1 for d in part if not d.labels) >= 25
        assert {d.labels[0] for d in part if d.labels} == set(corpus.ids)
    # Held-out questions are new wording, not copies of what the engine indexes: the
    # only overlaps are short stock questions two writers both thought of ("cancel order"),
    # and `bot faq eval` also reports every split without them.
    for split, part in (("test", dev), ("fresh", fresh)):
        held = [d for d in mark_novel(part, corpus) if d.split == split]
        shared = [d.query for d in held if not d.novel]
        assert all(len(q.split()) <= 10 for q in shared), shared
        assert len(shared) / len(held) < 0.15, (split, len(shared))
    ids = [json.loads(line)["id"] for line in (DATA / "faq_dev.jsonl").read_text().splitlines()]
    assert len(ids) == len(set(ids))
