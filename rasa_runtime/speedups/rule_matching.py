"""RulePolicy matches its rules against the dialogue states from the newest backwards, for
every state of the conversation (`_get_possible_keys`), although a rule of n states is
decided by the newest n: from there on `_is_rule_applicable` keeps every rule (Rasa's
own comment: "we got further in the conversation history than the rule's length"). At
turn 40 that walk was 0.9 ms of each prediction. Here it stops once no rule still in
play is longer than the states walked: the same rules remain.

Each lookup also formatted every state of the conversation into text for a debug log
line (`format_tracker_states`), with debug logging off too: 0.15 ms a lookup at turn
40, twice a prediction. That text is now made only when the line is logged.
"""

from __future__ import annotations

import logging
from typing import Any

RULE_POLICY_LOGGER = "rasa.core.policies.rule_policy"


def stop_rule_matching_at_the_longest_rule() -> None:
    from rasa.core.policies.rule_policy import RulePolicy

    original = RulePolicy._get_possible_keys
    if getattr(original, "knt_short", False):
        return
    lengths: dict[str, int] = {}

    def length(key: str) -> int:
        n = lengths.get(key)
        if n is None:
            n = lengths[key] = len(RulePolicy._rule_key_to_state(key))
        return n

    def _get_possible_keys(self: Any, lookup: dict[str, str], states: list[Any]) -> set[str]:
        possible_keys = set(lookup.keys())
        longest = max(map(length, possible_keys), default=0)
        for i, state in enumerate(reversed(states)):
            if i >= longest:
                # Every rule left is applicable here and beyond. Rasa would still rebuild
                # the set once per state; its order decides ties in `max(keys, key=len)`,
                # so rebuild it as often (microseconds: a set of a rule or two).
                for _ in range(len(states) - i):
                    possible_keys = {key for key in possible_keys}
                break
            possible_keys = {
                key for key in possible_keys if self._is_rule_applicable(key, i, state)
            }
            longest = max(map(length, possible_keys), default=0)
        return possible_keys

    _get_possible_keys.knt_short = True  # type: ignore[attr-defined]
    RulePolicy._get_possible_keys = _get_possible_keys
    format_states_only_when_logged()


def format_states_only_when_logged() -> None:
    """RulePolicy's debug line about the states (Rasa's structlog filters by the stdlib
    level of the policy's logger) gets its text only when that level lets it through."""
    from rasa.core.policies.policy import Policy
    from rasa.core.policies.rule_policy import RulePolicy

    if getattr(RulePolicy.format_tracker_states, "knt_lazy", False):
        return
    original = Policy.format_tracker_states
    logger = logging.getLogger(RULE_POLICY_LOGGER)

    def format_tracker_states(states: list[dict[str, Any]]) -> str:
        return str(original(states)) if logger.isEnabledFor(logging.DEBUG) else ""

    format_tracker_states.knt_lazy = True  # type: ignore[attr-defined]
    RulePolicy.format_tracker_states = staticmethod(format_tracker_states)
