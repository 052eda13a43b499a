"""The `bot faq search` contract, through the real command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from bot.settings import PROJECT_ROOT

KEYS = {"query", "faq_id", "question", "answer", "score", "abstained", "alternatives", "error"}


def bot(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
        timeout=300,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )


def test_json_stream_one_object_per_line_in_order():
    lines = [
        "how long does shipping take?",
        "",
        "do you sell gift cards",
        "can I get a full refund " * 2000,  # very long
        "¿Puedo devolver mi anillo? 💍",
        "   ",
        "klarna ok?",
    ]
    out = bot("faq", "search", "--json", stdin="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    rows = [json.loads(r) for r in out.stdout.splitlines()]
    assert [r["query"] for r in rows] == lines
    for row in rows:
        assert set(row) == KEYS
        assert isinstance(row["score"], float)
        assert isinstance(row["abstained"], bool)
        assert (row["answer"] is None) == row["abstained"]
        assert (row["faq_id"] is None) == row["abstained"]
        for alt in row["alternatives"]:
            assert set(alt) == {"faq_id", "score"}
    empty = rows[1]
    assert empty["abstained"] and empty["error"] == "empty question" and empty["alternatives"] == []
    assert rows[5]["error"] == "empty question"
    assert rows[2]["abstained"] and rows[2]["error"] is None and len(rows[2]["alternatives"]) == 3
    assert rows[6]["faq_id"] == "payments_bnpl" and rows[6]["error"] is None
    assert rows[0]["answer"].startswith("Our products are mostly made-to-order")
    assert rows[4]["query"] == "¿Puedo devolver mi anillo? 💍"  # not mangled to \\u escapes
    assert "💍" in out.stdout


def test_json_stream_survives_invalid_utf8():
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "faq", "search", "--json"],
        input=b"klarna?\n\xff\xfe broken bytes\n",
        capture_output=True,
        cwd=PROJECT_ROOT,
        timeout=300,
    )
    assert proc.returncode == 0
    rows = [json.loads(r) for r in proc.stdout.decode().splitlines()]
    assert len(rows) == 2 and rows[0]["faq_id"] == "payments_bnpl"


def test_single_question_human_output():
    out = bot("faq", "search", "can i cancel my order")
    assert out.returncode == 0, out.stderr
    assert "[returns_cancel_order] score" in out.stdout
    assert "As long as your product is still in the production phase" in out.stdout
    nope = bot("faq", "search", "tell me a joke about cats")
    assert nope.returncode == 0
    assert "abstains" in nope.stdout


def test_single_question_json_and_usage_errors():
    out = bot("faq", "search", "--json", "klarna?")
    assert json.loads(out.stdout)["faq_id"] == "payments_bnpl"
    usage = bot("faq", "search")
    assert usage.returncode == 2
    assert "give a question" in usage.stderr
    empty = bot("faq", "search", "  ")
    assert empty.returncode == 2 and "empty question" in empty.stderr
