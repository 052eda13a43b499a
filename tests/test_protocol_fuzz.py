"""Protocol fuzz: hostile and broken widget frames against a real gateway process, with
the live stack's real Rasa behind it, over a real WebSocket.

Every frame a client may send is tried, valid and invalid: bad JSON, nesting deep enough
to exhaust a parser, integers beyond 64 bits, tokens with non-ASCII signatures, the wrong
type in every field, frames at and over the size cap, unicode torture, unknown types,
frames out of order. After each one a plain message ("hi") on the same socket must still
be answered. Counted: stuck conversations (that message not answered), unexpected closes,
server errors, and answers that break the protocol's promise for that frame (a malformed
frame is answered `bad_request`, an oversized one `too_large`, a valid message is
acknowledged).

`make fuzz` (KNT_FUZZ_FRAMES=10000) runs 10,000 frames and prints the counts; `make test`
runs a few hundred, and hypothesis shrinks a failure to the smallest frames that show it.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.database import DirectoryBasedExampleDatabase
from sqlalchemy import create_engine, text

from bot.gateway.chat import storable
from bot.settings import PROJECT_ROOT, Settings
from bot.supervisor import free_port

from .live import Live, gateway_process
from .widget_client import ConnectionClosed, Probe, Refused, WidgetClient

FUZZ_FRAMES = int(os.environ.get("KNT_FUZZ_FRAMES", "300"))
BENCH = FUZZ_FRAMES > 1000  # the long run: count everything, report at the end, no shrinking
CAP: int = Settings.model_fields["gateway_max_message_bytes"].default
PROBE_SECONDS = 90.0
VALID_TOKEN = "<the token of an earlier session>"  # drawn by hypothesis, swapped in at hello
KNOWN_TYPES = {"hello", "message", "feedback", "restart", "ping", "typing", "contact", "history"}

# What this suite found that the gateway does not handle yet. While a key is here, the
# fuzzer does not generate that kind of frame and its edge case below is a strict xfail:
# delete the key when the gateway is fixed (the xfail then fails as XPASS until you do).
KNOWN_FAILURES: dict[str, str] = {}


# --- the gateway under test -------------------------------------------------------------
@dataclass
class Target:
    url: str
    origin: str
    database_url: str
    backend: str
    valid_token: str = ""
    valid_session: str = ""


def fuzz_settings(base: Settings, database_url: str) -> Settings:
    """The live stack's settings for a gateway of our own: its own port and database, and
    limits high enough that a fast client is not rate limited (the flood test does that)."""
    port = free_port()
    return base.model_copy(
        update={
            "gateway_port": port,
            "gateway_allowed_origins": [f"http://127.0.0.1:{port}"],
            "staff_allowed_origins": [f"http://127.0.0.1:{port}"],
            "database_url": database_url,
            "gateway_session_rate": 1000.0,
            "gateway_session_burst": 1000,
            "gateway_ip_rate": 1000.0,
            "gateway_ip_burst": 1000,
            "gateway_max_connections_per_ip": 1000,
            "gateway_rasa_timeout_seconds": 20,
        }
    )


@contextmanager
def fuzz_gateway(live: Live, workdir: Path, backend: str) -> Iterator[Target]:
    with _database(backend, workdir) as database_url:
        s = fuzz_settings(live.settings, database_url)
        with gateway_process(s, workdir / f"gateway-{backend}.log") as gateway:
            target = Target(gateway.url, s.gateway_allowed_origins[0], database_url, backend)
            client, session = hello(target, None)
            with client:
                assert client.probe().answered
            target.valid_token, target.valid_session = session["token"], session["session_id"]
            yield target


@contextmanager
def _database(backend: str, workdir: Path) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{workdir / f'fuzz-{uuid.uuid4().hex[:8]}.db'}"
        return
    from .orders_helpers import postgres_database

    with postgres_database() as url:
        yield url


@pytest.fixture(scope="module")
def target(live: Live, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    backend = os.environ.get("KNT_FUZZ_DATABASE", "sqlite")
    with fuzz_gateway(live, tmp_path_factory.mktemp("fuzz"), backend) as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def edge_target(
    request: pytest.FixtureRequest, live: Live, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    with fuzz_gateway(live, tmp_path_factory.mktemp("edges"), request.param) as running:
        yield running


REFUSALS = Counter[str]()


def hello(target: Target, token: Any) -> tuple[WidgetClient, dict[str, Any]]:
    """Connect and say hello; waits out the gateway's limit on new connections per IP
    (a limit working as meant: counted, not failed)."""
    for _ in range(240):
        client = WidgetClient.connect(target.url, target.origin)
        try:
            return client, client.hello(target.valid_token if token == VALID_TOKEN else token)
        except Refused as refused:
            client.close()
            code = refused.frame.get("code") if refused.frame else None
            if code != "too_many_connections" and refused.code != 4429:
                raise
            REFUSALS["too_many_connections"] += 1
            time.sleep(0.5)
    raise AssertionError("the gateway refused new connections for 2 minutes")


# --- frames -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Frame:
    """A frame to send and what the protocol promises for it: `valid` (never refused as
    malformed), `bad` (a `bad_request`, or `too_large` over the cap) or `any` (no promise
    but the general ones). `ack`: a message id that must be acknowledged."""

    data: str | bytes
    expect: str
    ack: str | None = None

    @property
    def size(self) -> int:
        return len(self.data) if isinstance(self.data, bytes) else len(self.data.encode())

    def __repr__(self) -> str:
        shown = self.data if len(self.data) <= 300 else self.data[:300]
        cut = "…" if len(self.data) > 300 else ""
        return f"Frame({self.expect}, {shown!r}{cut}, {self.size} bytes)"


def encode(obj: Any, ascii_only: bool = True) -> str:
    """JSON as a widget could send it; `\\u` escapes for what UTF-8 cannot carry (lone
    surrogates are valid JSON escapes, not valid UTF-8)."""
    raw = json.dumps(obj, ensure_ascii=ascii_only)
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError:
        raw = json.dumps(obj, ensure_ascii=True)
    return raw


def frame(data: str | bytes, expect: str, ack: str | None = None) -> Frame:
    made = Frame(data, expect, ack)
    return Frame(data, "bad", None) if made.size > CAP else made


def classify(data: str | bytes) -> Frame:
    """A raw frame: `bad` unless it happens to be a JSON object (then no promise)."""
    raw = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError):
        return frame(data, "bad")
    return frame(data, "any" if isinstance(parsed, dict) else "bad")


def _has_surrogate(value: str) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in value)


NASTY = [
    "²",
    "١٢٣",
    "߁߂",
    "KNT-１００１",
    "ＫＮＴ－１００１",
    "\u200b",
    "\u200f",
    "\u202e",
    "\ufeff",
    "\u00a0",
    "\u2028",
    "🏳️‍🌈",
    "👨‍👩‍👧‍👦",
    "Z̸̡͓̈̀a̶̛̹l̷g̴o̵",
    "ﷺ",
    "𒐫",
    "\U0010ffff",
    "\x00",
    "\t",
    "\r\n",
    "ava@example.com",
    "/restart",
    " /restart",
    "\n/restart",
    "\u200b/restart",
    "/",
    "//",
    '/inform{"order_number":"KNT-1001","email":"ava@example.com"}',
    "/human_handoff",
    "/session_start",
    "null",
    "<script>alert(1)</script>",
    "'; DROP TABLE chat_messages; --",
    "%s%s%n",
    "{{7*7}}",
    "${jndi:ldap://x}",
]
if "lone surrogates" not in KNOWN_FAILURES:
    NASTY += ["\ud800", "a\udc80b"]
# The largest frame the fuzzer sends.
LARGEST = 60_000 if "over 64 KiB" in KNOWN_FAILURES else 200_000
torture = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=60),
    st.lists(st.one_of(st.sampled_from(NASTY), st.text(max_size=8)), max_size=8).map("".join),
    st.text(st.characters(categories=["Nd", "No", "Cf", "Zs", "Mn", "So", "Co"]), max_size=40),
)
long_text = st.text(min_size=300, max_size=2200)
json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=2**63 - 2, max_value=2**80),
        st.floats(),
        torture,
    ),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
client_ids = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True)
db_ids = st.integers(min_value=1, max_value=10**6)


def _is_client_id(v: Any) -> bool:
    return (
        isinstance(v, str)
        and 1 <= len(v) <= 64
        and all(c.isascii() and (c.isalnum() or c in "_-") for c in v)
    )


def _is_type(v: Any) -> bool:
    return isinstance(v, str) and v in KNOWN_TYPES


def _is_db_id(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**63


# Each field of each frame, and what the protocol accepts in it.
FIELDS: dict[str, dict[str, Any]] = {
    "message": {
        "id": _is_client_id,
        # What is left once stored (NUL goes: PostgreSQL refuses it) must say something.
        "text": lambda v: isinstance(v, str) and bool(storable(v).strip()),
        "payload": lambda v: v is None or isinstance(v, str),
    },
    "feedback": {"message_id": _is_db_id, "value": lambda v: v in ("up", "down")},
    "typing": {"on": lambda v: isinstance(v, bool)},
    "contact": {"email": lambda v: isinstance(v, str)},
    "history": {"before": _is_db_id},
    "type": {"type": lambda v: _is_type(v)},
}
BASE: dict[str, dict[str, Any]] = {
    "message": {"type": "message", "id": "fuzz", "text": "hello"},
    "feedback": {"type": "feedback", "message_id": 1, "value": "up"},
    "typing": {"type": "typing", "on": True},
    "contact": {"type": "contact", "email": "shopper@example.com"},
    "history": {"type": "history", "before": 1},
    "type": {"type": "ping"},
}


@st.composite
def messages(draw: st.DrawFn) -> Frame:
    body = draw(st.one_of(torture, long_text))
    client_id = draw(client_ids)
    obj: dict[str, Any] = {"type": "message", "id": client_id, "text": body}
    payload = draw(st.one_of(st.none(), st.sampled_from(NASTY), torture))
    if payload is not None or draw(st.booleans()):
        obj["payload"] = payload
    raw = encode(obj, draw(st.booleans()))
    if _has_surrogate(body) or (payload and _has_surrogate(payload)):
        return frame(raw, "any")  # may be stored with replacement characters, or refused
    if not storable(body).strip():  # nothing left once NUL is dropped for storing
        return frame(raw, "bad")
    return frame(raw, "valid", ack=client_id)


@st.composite
def other_valid(draw: st.DrawFn) -> Frame:
    kind = draw(st.sampled_from(["ping", "restart", "typing", "feedback", "history"]))
    obj = {
        "ping": {"type": "ping"},
        "restart": {"type": "restart"},
        "typing": {"type": "typing", "on": draw(st.booleans())},
        "feedback": {
            "type": "feedback",
            "message_id": draw(db_ids),
            "value": draw(st.sampled_from(["up", "down"])),
        },
        "history": {"type": "history", "before": draw(db_ids)},
    }[kind]
    return frame(encode(obj), "valid")


@st.composite
def no_promise(draw: st.DrawFn) -> Frame:
    """Frames whose answer depends on the conversation: an e-mail for a hand-off that
    may not exist, a hello after the hello."""
    obj = draw(
        st.one_of(
            st.builds(lambda e: {"type": "contact", "email": e}, st.one_of(st.emails(), torture)),
            st.builds(lambda t: {"type": "hello", "token": t}, tokens),
        )
    )
    return frame(encode(obj, draw(st.booleans())), "any")


@st.composite
def wrong_field(draw: st.DrawFn) -> Frame:
    """A valid frame with one field missing or of a value the protocol does not accept."""
    kind = draw(st.sampled_from(sorted(FIELDS)))
    name = draw(st.sampled_from(sorted(FIELDS[kind])))
    accepts = FIELDS[kind][name]
    obj = dict(BASE[kind])
    if name != "payload" and draw(st.booleans()):
        del obj[name]
    else:
        obj[name] = draw(json_values.filter(lambda v: not accepts(v)))
    extra = draw(
        st.dictionaries(st.text(max_size=6).filter(lambda k: k not in obj), json_values, max_size=2)
    )
    return frame(encode({**obj, **extra}, draw(st.booleans())), "bad")


@st.composite
def garbage(draw: st.DrawFn) -> Frame:
    choice = draw(st.integers(0, 6))
    if choice == 0:
        return classify(draw(st.text(max_size=300)))
    if choice == 1:
        return classify(draw(st.binary(max_size=300)))
    if choice == 2:  # a valid frame cut short
        whole = draw(st.sampled_from([encode(b) for b in BASE.values()]))
        return classify(whole[: draw(st.integers(0, len(whole) - 1))])
    if choice == 3:  # nesting deep enough to exhaust a recursive parser
        depth = draw(st.one_of(st.integers(1, 3000), st.sampled_from([999, 1000, 1001, 100_000])))
        opener = draw(st.sampled_from(["[", '{"a":', '{"type":"message","id":"x","text":[']))
        depth = min(depth, LARGEST // (len(opener) + 1))
        closed = draw(st.booleans())
        body = opener * depth + ("]" * depth if closed and opener == "[" else "")
        return classify(body)
    if choice == 4:  # JSON that is not an object
        return classify(
            draw(
                st.sampled_from(
                    [
                        "NaN",
                        "-Infinity",
                        "1e999",
                        "null",
                        "true",
                        '"message"',
                        "[]",
                        "[{}]",
                        "0",
                        "9" * 2000,
                    ]
                )
            )
        )
    if choice == 5:  # ids beyond 64 bits (or beyond Python's int parsing limit)
        digits = draw(st.integers(19, 2040))
        key = draw(
            st.sampled_from(
                ['"type":"feedback","value":"up","message_id"', '"type":"history","before"']
            )
        )
        return frame("{" + key + ":" + "9" * digits + "}", "bad")
    kind = draw(st.sampled_from(sorted(KNOWN_TYPES | {"", "MESSAGE", "message ", "Message"})))
    if kind in KNOWN_TYPES:
        return frame(encode({"type": draw(json_values.filter(lambda v: not _is_type(v)))}), "bad")
    return frame(encode({"type": kind}), "bad")


@st.composite
def sized(draw: st.DrawFn) -> Frame:
    """A message frame of exactly a size around the cap (in UTF-8 bytes)."""
    sizes = [CAP - 1, CAP, CAP + 1, CAP + 2, CAP * 4, 60_000, 70_000, 100_000]
    size = draw(st.sampled_from([n for n in sizes if n <= LARGEST]))
    char = draw(st.sampled_from(["a", "é", "€", "😀", "ﷺ"]))
    client_id = draw(client_ids)
    obj = {"type": "message", "id": client_id, "text": ""}
    room = size - len(encode(obj, False).encode())
    count = room // len(char.encode())
    body = char * count + "a" * (room - count * len(char.encode()))
    obj["text"] = body
    raw = encode(obj, False)
    assert len(raw.encode()) == size
    return frame(raw, "valid", ack=client_id)


tokens = st.one_of(
    st.none(),
    st.just(""),
    st.just(VALID_TOKEN),
    st.text(max_size=80),
    st.builds(
        lambda sig: f"v1.{uuid.uuid4().hex[:22]}.{int(time.time())}.{sig}",
        st.text(min_size=1, max_size=43).filter(lambda s: not s.isascii()),
    ),
    st.sampled_from(
        ["v1...", "v2.abc.1.sig", "v1.abc.99999999999999999999.sig", "\x00", "é", "v1." * 80]
    ),
    json_values,
)
frames = st.one_of(messages(), other_valid(), no_promise(), wrong_field(), garbage(), sized())


# --- running and counting ---------------------------------------------------------------
@dataclass
class Tally:
    frames: int = 0
    expected: Counter[str] = field(default_factory=Counter)
    codes: Counter[str] = field(default_factory=Counter)
    probes: int = 0
    stuck: int = 0
    closes: Counter[str] = field(default_factory=Counter)
    server_errors: int = 0
    failed_replies: int = 0
    broken_promises: int = 0
    problems: list[str] = field(default_factory=list)
    probe_seconds: list[float] = field(default_factory=list)

    @property
    def unexpected_closes(self) -> int:
        return sum(self.closes.values())

    def summary(self, seconds: float, statuses: Counter[str]) -> str:
        p50 = sorted(self.probe_seconds)[len(self.probe_seconds) // 2] if self.probe_seconds else 0
        lines = [
            f"protocol fuzz: {self.frames} frames in {seconds:.0f} s "
            f"({dict(self.expected)}), {self.probes} probes answered in {p50 * 1000:.0f} ms p50",
            f"  stuck conversations      {self.stuck}",
            f"  unexpected closes        {self.unexpected_closes} {dict(self.closes) or ''}",
            f"  server errors            {self.server_errors}",
            f"  broken promises          {self.broken_promises}",
            f"  'hi' answered as failed  {self.failed_replies}",
            f"  messages left pending    {statuses['pending']}",
            f"  shopper messages stored  {dict(statuses)} (failed: Rasa or an action could "
            "not answer; the shopper was told and offered a person)",
            f"  error codes seen         {dict(self.codes)}",
            f"  connections refused (too many, waited out) {REFUSALS['too_many_connections']}",
        ]
        lines += [f"  - {p}" for p in self.problems[:20]]
        return "\n".join(lines)


def check(sent: Frame, probe: Probe, tally: Tally) -> list[str]:
    """What went wrong with one frame and the "hi" after it."""
    problems = []
    codes = [f.get("code") for f in probe.before if f.get("type") == "error"]
    tally.codes.update(str(c) for c in codes)
    if "server_error" in codes:
        tally.server_errors += 1
        problems.append(f"server_error for {sent!r}")
    if probe.error is not None:
        tally.stuck += 1
        problems.append(f"'hi' refused ({probe.error.get('code')}) after {sent!r}")
    elif probe.failed:
        tally.failed_replies += 1
        problems.append(f"'hi' answered as failed after {sent!r}")
    else:
        tally.probe_seconds.append(probe.seconds)
    broken = None
    if sent.expect == "bad":
        want = {"too_large"} if sent.size > CAP else {"bad_request", "rate_limited"}
        if not want & set(codes):
            broken = f"expected an error {sorted(want)}, got {codes or 'none'}"
    elif sent.expect == "valid":
        if {"bad_request", "too_large"} & set(codes):
            broken = f"a valid frame refused with {codes}"
        elif sent.ack and "rate_limited" not in codes:
            acks = [f for f in probe.before if f.get("type") == "ack" and f.get("id") == sent.ack]
            if not acks:
                broken = "a valid message not acknowledged"
    if broken:
        tally.broken_promises += 1
        problems.append(f"{broken} for {sent!r}")
    return problems


def run_example(target: Target, tally: Tally, token: Any, sent: list[Frame]) -> list[str]:
    """One connection: a hello with `token`, then each frame followed by a "hi"."""
    client, session = hello(target, token)
    with client:
        if token == VALID_TOKEN:
            if session["renewed"] or session["session_id"] != target.valid_session:
                return [f"a valid token was not honoured: {session}"]
        elif token and not session["renewed"]:
            return [f"an invalid token {token!r} did not renew the session: {session}"]
        for one in sent:
            tally.frames += 1
            tally.expected[one.expect] += 1
            try:
                client.send(one.data)
                probe = client.probe(timeout=PROBE_SECONDS)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
                tally.closes[str(code)] += 1
                return [f"the socket was closed ({code}) after {one!r}"]
            except TimeoutError:
                tally.stuck += 1
                return [f"stuck: 'hi' not answered within {PROBE_SECONDS:.0f} s after {one!r}"]
            tally.probes += 1
            problems = check(one, probe, tally)
            if problems:
                return problems
    return []


def shopper_statuses(database_url: str) -> Counter[str]:
    """How the gateway's database left the shopper messages: answered, failed (Rasa or an
    action could not answer; the shopper was told), pending (waiting: stuck, here)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT status, count(*) FROM chat_messages WHERE role = 'shopper' "
                    "GROUP BY status"
                )
            )
            return Counter({str(status): int(n) for status, n in rows})
    finally:
        engine.dispose()


@pytest.mark.timeout(max(900, FUZZ_FRAMES * 3))
def test_fuzzed_frames_never_close_the_socket_or_leave_the_chat_stuck(
    target: Target, capsys: pytest.CaptureFixture[str]
) -> None:
    tally = Tally()

    @settings(
        max_examples=500 if BENCH else max(1, FUZZ_FRAMES // 5),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None
        if BENCH
        else DirectoryBasedExampleDatabase(PROJECT_ROOT / ".cache" / "hypothesis"),
        phases=[Phase.generate] if BENCH else list(Phase),
        derandomize=False,
    )
    @given(token=tokens, sent=st.lists(frames, min_size=1, max_size=5))
    def fuzz(token: Any, sent: list[Frame]) -> None:
        problems = run_example(target, tally, token, sent)
        tally.problems += problems
        assert BENCH or not problems, "\n".join(problems)

    started = time.monotonic()
    while tally.frames < FUZZ_FRAMES:
        fuzz()
    statuses = shopper_statuses(target.database_url)
    report = tally.summary(time.monotonic() - started, statuses)
    with capsys.disabled():
        print("\n" + report)
    assert not tally.problems and statuses["pending"] == 0, report


# --- the frames that once broke the chat, one by one, on SQLite and PostgreSQL ----------
def _at(size: int, client_id: str) -> str:
    """A message frame of exactly `size` bytes."""
    obj = {"type": "message", "id": client_id, "text": ""}
    obj["text"] = "é" * ((size - len(encode(obj).encode())) // 2)
    raw = encode(obj, False)
    return raw + " " * (size - len(raw.encode()))  # JSON allows trailing whitespace


EDGES: dict[str, tuple[str | bytes, set[str]]] = {
    "deep array under the cap": ("[" * 2000, {"bad_request"}),
    "deep array far over the cap": ("[" * 100_000, {"too_large"}),
    "deep objects under the cap": ('{"a":' * 400, {"bad_request"}),
    "balanced deep array": ("[" * 1000 + "]" * 1000, {"bad_request"}),
    "feedback id 2**64": (
        encode({"type": "feedback", "message_id": 2**64, "value": "up"}),
        {"bad_request"},
    ),
    "feedback id 2**63": (
        encode({"type": "feedback", "message_id": 2**63, "value": "up"}),
        {"bad_request"},
    ),
    "feedback id of 1900 digits": (
        '{"type":"feedback","value":"up","message_id":' + "9" * 1900 + "}",
        {"bad_request"},
    ),
    "feedback id -1": (
        encode({"type": "feedback", "message_id": -1, "value": "up"}),
        {"bad_request"},
    ),
    "feedback id 1.5": (
        encode({"type": "feedback", "message_id": 1.5, "value": "up"}),
        {"bad_request"},
    ),
    "feedback id true": (
        encode({"type": "feedback", "message_id": True, "value": "up"}),
        {"bad_request"},
    ),
    "history before 2**64": (encode({"type": "history", "before": 2**64}), {"bad_request"}),
    "message id an integer": (
        encode({"type": "message", "id": 2**64, "text": "hi"}),
        {"bad_request"},
    ),
    "message text a list": (
        encode({"type": "message", "id": "x1", "text": ["hi"]}),
        {"bad_request"},
    ),
    "payload an object": (
        encode({"type": "message", "id": "x2", "text": "hi", "payload": {}}),
        {"bad_request"},
    ),
    "type a list": (encode({"type": ["message"]}), {"bad_request"}),
    "unknown type": (encode({"type": "transfer_money"}), {"bad_request"}),
    "no type": ("{}", {"bad_request"}),
    "NaN": ("NaN", {"bad_request"}),
    "1e999": ("1e999", {"bad_request"}),
    "null": ("null", {"bad_request"}),
    "a string": ('"message"', {"bad_request"}),
    "not JSON": ("{type: message}", {"bad_request"}),
    "empty frame": ("", {"bad_request"}),
    "binary garbage": (b"\xff\xfe\xfd\x00", {"bad_request"}),
    "lone surrogate in the text": (
        '{"type":"message","id":"s1","text":"hi \\ud800"}',
        {"ack", "bad_request"},
    ),
    "NUL in the text": (encode({"type": "message", "id": "n1", "text": "a\x00b"}), {"ack"}),
    "only slashes and spaces": (encode({"type": "message", "id": "o1", "text": " / /"}), {"ack"}),
    "exactly at the cap": (_at(CAP, "c1"), {"ack"}),
    "one byte over the cap": (_at(CAP + 1, "c2"), {"too_large"}),
}


# The edge cases of KNOWN_FAILURES, and the database they fail on (None: every one).
EDGES_FAILING = {
    "deep array far over the cap": ("over 64 KiB", None),
    "lone surrogate in the text": ("lone surrogates", None),
    "NUL in the text": ("NUL on PostgreSQL", "postgresql"),
}


@pytest.mark.parametrize("name", list(EDGES))
def test_a_hostile_frame_gets_its_answer_and_the_chat_goes_on(
    edge_target: Target, name: str, request: pytest.FixtureRequest
) -> None:
    known, backend = EDGES_FAILING.get(name, ("", None))
    if known in KNOWN_FAILURES and backend in (None, edge_target.backend):
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_FAILURES[known]))
    data, answers = EDGES[name]
    client, _ = hello(edge_target, None)
    with client:
        client.send(data)
        try:
            probe = client.probe(timeout=PROBE_SECONDS)
        except ConnectionClosed as exc:
            pytest.fail(f"the socket was closed ({exc.rcvd.code if exc.rcvd else None})")
        seen = {f.get("code") if f["type"] == "error" else f["type"] for f in probe.before}
        assert seen & answers, f"expected one of {answers}, got {probe.before}"
        assert "server_error" not in seen, probe.before
        assert probe.answered and not probe.failed, probe


HELLO_TOKENS: dict[str, Any] = {
    "non-ASCII signature": "v1.abcdefghijklmnopqrstuv.1700000000.ééééééé",
    "non-ASCII session id": "v1.ééé.1700000000.abc",
    "an integer beyond 64 bits": 2**70,
    "a list": ["v1", "x"],
    "an object": {"token": "v1"},
    "true": True,
    "a float": 1.5,
    "NUL": "\x00",
    "lone surrogate": "v1.\ud800.1.x",
    "256 characters": "v" * 256,
    "257 characters": "v" * 257,
    "signed with another secret": "v1.abcdefghijklmnopqrstuv.1700000000." + "A" * 43,
}


@pytest.mark.parametrize("name", list(HELLO_TOKENS))
def test_every_invalid_token_is_a_renewed_session(edge_target: Target, name: str) -> None:
    client, session = hello(edge_target, HELLO_TOKENS[name])
    with client:
        assert session["renewed"] is True and session["notice"], session
        assert session["history"] == []
        assert client.probe().answered
