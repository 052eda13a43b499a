"""The SQL tracker store keeps each conversation's tracker between turns and reads only
the events it has not seen.

Rasa rebuilds the tracker from every stored event of the session on each read: at turn
40 (243 events) 3 ms of JSON, 12 ms of finding event classes (event_types.py) and 3 ms
of replaying them. Here the store keeps, per conversation, the tracker built from the
rows up to the newest id it read, and on the next read replays only the newer rows onto
it, which is exactly what replaying all rows gives (a tracker is a left fold over its
events). It hands out a cheap copy (tracker_copy.py), never the kept tracker.

Several Rasa processes may write to one store (PostgreSQL, Redis locks): the kept tracker
is used only if, in the database, the conversation's rows up to the newest id read are
still the same number and its latest session start is the same; newer rows written by
another process are simply read. Anything else (a row committed behind, a new session,
another model's domain, a latest message changed by a turn that was never saved) reads
everything again as Rasa does. Each check is one indexed query per turn.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from rasa_runtime.speedups.tracker_copy import copy_tracker

# Conversations kept per Rasa process (least recently used dropped first). A tracker of
# 40 turns is a few hundred KB; a dropped one is only read again in full.
KEEP_CONVERSATIONS = 500


@dataclass
class Kept:
    tracker: Any  # built from the rows with id <= max_id; never handed out
    domain: Any
    session_start: float | None
    max_id: int
    count: int  # the conversation's rows with id <= max_id, all sessions
    latest: tuple[list[Any], Any] | None


def latest_of(tracker: Any) -> tuple[list[Any], Any] | None:
    message = tracker.latest_message
    if message is None:
        return None
    return list(message.entities), message.use_text_for_featurization


def cache_sql_trackers() -> None:
    import sqlalchemy as sa
    from rasa.core import tracker_store
    from rasa.shared.core.events import SessionStarted, deserialise_events
    from rasa.shared.core.trackers import DialogueStateTracker

    store = tracker_store.SQLTrackerStore
    original = store._retrieve
    if getattr(original, "knt_cached", False):
        return
    event = store.SQLEvent

    async def _retrieve(
        self: Any, sender_id: str, fetch_events_from_all_sessions: bool
    ) -> DialogueStateTracker | None:
        if fetch_events_from_all_sessions or not self.domain:
            return await original(self, sender_id, fetch_events_from_all_sessions)
        kept_trackers: OrderedDict[str, Kept] = self.__dict__.setdefault("_knt_kept", OrderedDict())
        kept = kept_trackers.pop(sender_id, None)
        with self.session_scope() as session:
            start = (
                session.query(sa.func.max(event.timestamp))
                .filter(event.sender_id == sender_id, event.type_name == SessionStarted.type_name)
                .scalar()
            )
            if kept is not None and not still_valid(kept, self.domain, start, session):
                kept = None
            if kept is None:
                kept = read_all(self, session, sender_id, start)
            else:
                read_newer(kept, session, sender_id)
        if kept is None:
            return None
        kept_trackers[sender_id] = kept
        while len(kept_trackers) > KEEP_CONVERSATIONS:
            kept_trackers.popitem(last=False)
        return copy_tracker(kept.tracker)

    def still_valid(kept: Kept, domain: Any, start: float | None, session: Any) -> bool:
        if kept.domain is not domain or kept.session_start != start:
            return False
        if latest_of(kept.tracker) != kept.latest:
            return False
        count = (
            session.query(sa.func.count(event.id))
            .filter(event.sender_id == kept.tracker.sender_id, event.id <= kept.max_id)
            .scalar()
        )
        return bool(count == kept.count)

    def read_all(self: Any, session: Any, sender_id: str, start: float | None) -> Kept | None:
        max_id, count = (
            session.query(sa.func.max(event.id), sa.func.count(event.id))
            .filter(event.sender_id == sender_id)
            .one()
        )
        if max_id is None:
            return None
        query = self._event_query(session, sender_id, False).filter(event.id <= max_id)
        dicts = [json.loads(data) for (data,) in query.with_entities(event.data)]
        if not dicts:
            return None
        tracker = DialogueStateTracker.from_dict(sender_id, dicts, self.domain.slots)
        return Kept(tracker, self.domain, start, max_id, count, latest_of(tracker))

    def read_newer(kept: Kept, session: Any, sender_id: str) -> None:
        rows = (
            session.query(event.id, event.timestamp, event.data)
            .filter(event.sender_id == sender_id, event.id > kept.max_id)
            .order_by(event.id)
            .all()
        )
        if not rows:
            return
        start = kept.session_start
        # The rows Rasa's own query takes: those at or after the latest session start.
        dicts = [json.loads(data) for (_, ts, data) in rows if start is None or ts >= start]
        for new in deserialise_events(dicts):
            kept.tracker.update(new)
        kept.max_id = rows[-1][0]
        kept.count += len(rows)
        kept.latest = latest_of(kept.tracker)

    _retrieve.knt_cached = True  # type: ignore[attr-defined]
    _retrieve.knt_original = original  # type: ignore[attr-defined]  # a full read, for tests
    store._retrieve = _retrieve
