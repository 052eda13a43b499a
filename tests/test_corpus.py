"""The FAQ corpus: faithful to the store's text, and a schema that names what is wrong."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.faq.check import near_duplicates
from bot.faq.corpus import CorpusError, load_corpus
from bot.settings import PROJECT_ROOT

from .conftest import DATA

SEED_COPY = DATA / "store_faq.txt"
SHARED_SEED = PROJECT_ROOT.parent / "shared" / "seed" / "000_a78e5ff7ea6b9cb0.txt"


def store_faq() -> dict[str, list[str]]:
    """The store's FAQ: section heading -> answer paragraphs (one per line)."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in SEED_COPY.read_text(encoding="utf-8").splitlines():
        if re.fullmatch(r"[A-Z &]+", line.strip()):
            current = line.strip()
            sections[current] = []
        elif line.strip():
            assert current is not None
            sections[current].append(line.strip())
    return sections


@pytest.mark.skipif(not SHARED_SEED.is_file(), reason="shared/ seed not beside this checkout")
def test_seed_copy_matches_the_store_text():
    assert SEED_COPY.read_bytes() == SHARED_SEED.read_bytes()


def test_every_store_answer_is_one_entry_verbatim():
    corpus = load_corpus(PROJECT_ROOT / "faq_corpus")
    seed = store_faq()
    answers = [a for paragraphs in seed.values() for a in paragraphs]
    assert len(answers) == 29
    assert sorted(e.answer for e in corpus.entries) == sorted(answers)
    # Each entry sits in the section its answer comes from.
    for heading, paragraphs in seed.items():
        sections = {e.section.lower() for e in corpus.entries if e.answer in paragraphs}
        assert sections == {heading.lower()}


def test_both_lead_times_are_kept_as_written():
    corpus = load_corpus(PROJECT_ROOT / "faq_corpus")
    assert "2 to 3 weeks to ship" in corpus.get("orders_ship_time").answer
    assert "3 to 5 weeks to complete" in corpus.get("shipping_production_time").answer


def test_shipped_corpus_is_rich_and_clean():
    corpus = load_corpus(PROJECT_ROOT / "faq_corpus")
    assert len(corpus) == 29
    for entry in corpus.entries:
        assert len(entry.paraphrases) >= 10, entry.id
        lowered = [p.lower() for p in entry.paraphrases]
        assert len(set(lowered)) == len(lowered), f"{entry.id} repeats a paraphrase"
    assert near_duplicates(corpus) == []
    assert sum(len(t.examples) for t in corpus.out_of_scope) >= 100
    cancel = corpus.get("returns_cancel_order").follow_up
    assert cancel is not None and cancel.title == "Cancel my order"


def write(folder: Path, name: str, entries: object) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(entries, sort_keys=False), encoding="utf-8")
    return path


GOOD = {
    "id": "demo_entry",
    "section": "Demo",
    "question": "Is this a demo?",
    "paraphrases": ["demo?"],
    "answer": "Yes.",
}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"answer": None}, "field 'answer'"),
        ({"question": "   "}, "field 'question'"),
        ({"colour": "red"}, "field 'colour': unknown key"),
        ({"paraphrases": ["ok", ""]}, "field 'paraphrases.1'"),
        ({"id": "Bad Id!"}, "field 'id'"),
        ({"follow_up": {"title": "Go"}}, "field 'follow_up.payload'"),
    ],
)
def test_bad_entry_names_file_entry_and_field(tmp_path, change, expected):
    entry = {**GOOD, **change}
    entry = {k: v for k, v in entry.items() if v is not None}
    path = write(tmp_path, "01_demo.yml", [entry])
    with pytest.raises(CorpusError) as err:
        load_corpus(tmp_path)
    message = str(err.value)
    assert str(path) in message
    assert "entry 1" in message
    assert expected in message


def test_missing_answer_is_reported_as_missing(tmp_path):
    write(tmp_path, "01_demo.yml", [{k: v for k, v in GOOD.items() if k != "answer"}])
    with pytest.raises(CorpusError, match=r"entry 1 \('demo_entry'\): field 'answer': missing"):
        load_corpus(tmp_path)


def test_duplicate_id_across_files_names_both_files(tmp_path):
    first = write(tmp_path, "01_a.yml", [GOOD])
    second = write(tmp_path, "02_b.yml", [GOOD])
    with pytest.raises(CorpusError) as err:
        load_corpus(tmp_path)
    assert str(second) in str(err.value)
    assert str(first) in str(err.value)
    assert "duplicate id" in str(err.value)


def test_not_yaml_and_not_a_list_are_clear(tmp_path):
    (tmp_path / "01_bad.yml").write_text("- id: [unclosed\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="not valid YAML"):
        load_corpus(tmp_path)
    (tmp_path / "01_bad.yml").write_text("id: x\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="expected a list"):
        load_corpus(tmp_path)


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(CorpusError, match="no FAQ files"):
        load_corpus(tmp_path)


def test_near_duplicates_across_entries_are_listed(tmp_path):
    other = {
        **GOOD,
        "id": "other_entry",
        "question": "Something else?",
        "paraphrases": ["Is this a DEMO??"],
    }
    write(tmp_path, "01_demo.yml", [GOOD, other])
    pairs = near_duplicates(load_corpus(tmp_path))
    assert [(p.a_id, p.b_id, p.similarity) for p in pairs] == [("demo_entry", "other_entry", 1.0)]


def run_cli(*args: str, corpus: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {"FAQ_CORPUS_DIR": str(corpus), "PATH": "/usr/bin:/bin", "ENVIRONMENT": "local"}
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=120,
    )


def test_check_command_on_good_and_bad_corpus(tmp_path):
    ok = run_cli("faq", "check", corpus=PROJECT_ROOT / "faq_corpus")
    assert ok.returncode == 0, ok.stderr
    assert "corpus OK: 29 entries" in ok.stdout
    assert "no near-duplicate paraphrases" in ok.stdout

    write(tmp_path, "01_demo.yml", [{**GOOD, "answer": ""}])
    bad = run_cli("faq", "check", corpus=tmp_path)
    assert bad.returncode == 1
    assert "01_demo.yml: entry 1 ('demo_entry'): field 'answer'" in bad.stderr

    other = {**GOOD, "id": "other_entry", "question": "Other?", "paraphrases": ["is this a demo"]}
    write(tmp_path, "01_demo.yml", [GOOD, other])
    dup = run_cli("faq", "check", "--strict", corpus=tmp_path)
    assert dup.returncode == 1
    assert "near-duplicate (1.00): demo_entry" in dup.stdout
