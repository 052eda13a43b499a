"""The dialogue states of a tracker, computed once per event instead of once per call.

Every policy prediction turns the whole history into states
(`Domain.states_for_tracker_history`: replay every applied event into a new tracker and
take a state before each action), MemoizationPolicy once and RulePolicy up to twice per
prediction, two or more predictions a turn; and `tracker.applied_events()` walks every
event each time it is asked, a dozen times a turn. At turn 40 that was 3.5 ms per states
call and 0.6 ms per applied-events call, growing with every turn.

Both are left folds over the events, so here each keeps its fold state at a checkpoint
and continues from there: for the states, the replay tracker just before the latest
user message (that message, and only that one, can still change in place: see
tracker_copy.py), so the latest turn is replayed on each call and everything before it
once. A checkpoint is used only when the tracker's events start with exactly the event
objects it was built from (an identity check, microseconds); anything else (a revert, a
new loop name, another tracker) recomputes from the start, as Rasa does.

Checkpoints live in a memo shared by a tracker and its cheap copies (tracker_copy.py),
so the tracker cache (tracker_cache.py) carries them from one turn to the next.
"""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass, field
from typing import Any

from rasa_runtime.speedups.tracker_copy import MEMO, copy_tracker


def same_prefix(prefix: list[Any], events: Any) -> bool:
    if len(prefix) > len(events):
        return False
    return all(map(operator.is_, prefix, events))


@dataclass(frozen=True)
class AppliedFold:
    """`applied_events()` over `events` (the objects it read), folded with `loop_names`
    (those of the whole tracker it was computed for); `own_names`: those in `events`."""

    events: list[Any]
    own_names: frozenset[str]
    loop_names: frozenset[str]
    applied: list[Any]


EMPTY = AppliedFold([], frozenset(), frozenset(), [])


def memo_of(tracker: Any) -> dict[Any, Any]:
    memo: dict[Any, Any] = tracker.__dict__.setdefault(MEMO, {})
    return memo


def memoize_applied_events() -> None:
    from rasa.shared.core.events import ActiveLoop
    from rasa.shared.core.trackers import DialogueStateTracker

    original = DialogueStateTracker.applied_events
    if getattr(original, "knt_memoized", False):
        return

    def applied_events(self: DialogueStateTracker) -> list[Any]:
        from rasa.shared.core.events import UserUttered

        def names_in(part: list[Any]) -> frozenset[str]:
            return frozenset(e.name for e in part if isinstance(e, ActiveLoop) and e.name)

        events = list(self.events)
        memo = memo_of(self)
        # The latest fold, else the one that stopped before the latest user message of its
        # turn (a copy of the SQL store's kept tracker shares only that far with the
        # previous turn's tracker: the store read that turn's events back as new objects).
        fold = EMPTY
        for name in ("applied", "applied before the latest user message"):
            found: AppliedFold | None = memo.get(name)
            if found is not None and same_prefix(found.events, events):
                fold = found
                break
        # Rasa treats a loop's executions by the loop names of *all* the tracker's events:
        # with other names than the fold's, fold again from the start.
        names = fold.own_names | names_in(events[len(fold.events) :])
        if names != fold.loop_names:
            fold = AppliedFold([], frozenset(), names, [])
        if len(fold.events) == len(events):
            return list(fold.applied)
        last_user = next(
            (i for i in range(len(events) - 1, len(fold.events) - 1, -1)
             if isinstance(events[i], UserUttered)),
            None,
        )  # fmt: skip
        applied = list(fold.applied)
        if last_user is not None and last_user > len(fold.events):
            # Rasa's loop over the new events only, in two steps to keep the checkpoint.
            fold_more(self, events[len(fold.events) : last_user], names, applied)
            memo["applied before the latest user message"] = AppliedFold(
                events[:last_user],
                fold.own_names | names_in(events[len(fold.events) : last_user]),
                names,
                list(applied),
            )
            fold_more(self, events[last_user:], names, applied)
        else:
            fold_more(self, events[len(fold.events) :], names, applied)
        memo["applied"] = AppliedFold(events, names, names, applied)
        return list(applied)

    def fold_more(
        self: DialogueStateTracker, new: list[Any], loop_names: frozenset[str], applied: list[Any]
    ) -> None:
        from rasa.shared.core.events import (
            ActionExecuted,
            ActionReverted,
            Restarted,
            SessionStarted,
            UserUtteranceReverted,
            UserUttered,
        )

        for event in new:
            if isinstance(event, (Restarted, SessionStarted)):
                applied.clear()
            elif isinstance(event, ActionReverted):
                self._undo_till_previous(ActionExecuted, applied)
            elif isinstance(event, UserUtteranceReverted):
                self._undo_till_previous(UserUttered, applied)
                self._undo_till_previous(ActionExecuted, applied)
            elif (
                isinstance(event, ActionExecuted)
                and event.action_name in loop_names
                and not self._first_loop_execution_or_unhappy_path(event.action_name, applied)
            ):
                self._undo_till_previous_loop_execution(event.action_name, applied)
            else:
                applied.append(event)

    applied_events.knt_memoized = True  # type: ignore[attr-defined]
    DialogueStateTracker.applied_events = applied_events  # type: ignore[method-assign]


@dataclass
class StatesFold:
    """Domain.states_for_tracker_history's loop, stopped after `events` (applied events)."""

    domain: Any
    replay: Any  # the replay tracker after `events`
    events: list[Any] = field(default_factory=list)
    states: list[Any] = field(default_factory=list)
    last_ml_action_sub_state: Any = None
    turn_was_hidden: bool = False

    def fork(self) -> StatesFold:
        return StatesFold(
            self.domain,
            copy_tracker(self.replay),
            list(self.events),
            list(self.states),
            self.last_ml_action_sub_state,
            self.turn_was_hidden,
        )


def memoize_dialogue_states() -> None:
    import rasa.shared.core.constants as core_constants
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, UserUttered

    original = Domain.states_for_tracker_history
    if getattr(original, "knt_memoized", False):
        return
    previous_action = core_constants.PREVIOUS_ACTION

    def step(
        domain: Domain,
        fold: StatesFold,
        event: Any,
        omit_unset_slots: bool,
        ignore_rule_only_turns: bool,
        rule_only_data: dict[str, Any] | None,
    ) -> None:
        # One step of generate_all_prior_trackers + states_for_tracker_history (Rasa 3.6).
        if isinstance(event, ActionExecuted):
            take_state(domain, fold, event.hide_rule_turn, omit_unset_slots,
                       ignore_rule_only_turns, rule_only_data)  # fmt: skip
        fold.replay.update(event)
        fold.events.append(event)

    def take_state(
        domain: Domain,
        fold: StatesFold,
        hide_rule_turn: bool,
        omit_unset_slots: bool,
        ignore_rule_only_turns: bool,
        rule_only_data: dict[str, Any] | None,
    ) -> None:
        tr = fold.replay
        if ignore_rule_only_turns:
            if not fold.turn_was_hidden:
                fold.last_ml_action_sub_state = domain._get_prev_action_sub_state(tr)
            if not tr.followup_action and tr.latest_action_name != tr.active_loop_name:
                fold.turn_was_hidden = hide_rule_turn
            if fold.turn_was_hidden:
                return
        state = domain.get_active_state(tr, omit_unset_slots=omit_unset_slots)
        if ignore_rule_only_turns:
            domain._remove_rule_only_features(state, rule_only_data)
            if fold.states:
                domain._substitute_rule_only_user_input(state, fold.states[-1])
            if fold.last_ml_action_sub_state:
                state[previous_action] = fold.last_ml_action_sub_state
        fold.states.append(domain._clean_state(state))

    def states_for_tracker_history(
        self: Domain,
        tracker: Any,
        omit_unset_slots: bool = False,
        ignore_rule_only_turns: bool = False,
        rule_only_data: dict[str, Any] | None = None,
    ) -> list[Any]:
        applied = tracker.applied_events()
        args = (omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        key = (
            "states",
            omit_unset_slots,
            ignore_rule_only_turns,
            json.dumps(rule_only_data, sort_keys=True),
        )
        memo = memo_of(tracker)
        fold: StatesFold | None = memo.get(key)
        if fold is None or fold.domain is not self or not same_prefix(fold.events, applied):
            fold = StatesFold(self, tracker.init_copy())
        # The checkpoint: just before the latest user message (it may still change).
        last_user = len(applied)
        for i in range(len(applied) - 1, len(fold.events) - 1, -1):
            if isinstance(applied[i], UserUttered):
                last_user = i
                break
        if last_user > len(fold.events):
            fold = fold.fork()
            for event in applied[len(fold.events) : last_user]:
                step(self, fold, event, *args)
            memo[key] = fold
        tail = fold.fork()
        for event in applied[len(tail.events) :]:
            step(self, tail, event, *args)
        take_state(self, tail, False, *args)  # the final yield: the tracker as it is now
        # Callers change the states they get (e.g. drop the text of a user sub-state).
        return [
            {k: dict(v) if isinstance(v, dict) else v for k, v in s.items()} for s in tail.states
        ]

    states_for_tracker_history.knt_memoized = True  # type: ignore[attr-defined]
    Domain.states_for_tracker_history = states_for_tracker_history  # type: ignore[method-assign]
