"""`python -m rasa_runtime.launch run ...`: Rasa's own command line, with one speed fix.

Rasa 3.6 checks every reply of the action server with `jsonschema.validate`, which first
validates the (constant) schema itself against the draft 2020-12 meta-schema, on every
call. Profiled under load (py-spy, 4 concurrent shoppers) that was half of Rasa's CPU
time and capped the whole assistant at ~15 messages per second on two cores. Here the
validator is built once; replies are checked against the same schema with the same
error (jsonschema's best match, Rasa's message), exactly as before.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Any


def patch_action_result_validation() -> None:
    from jsonschema import validators
    from jsonschema.exceptions import best_match
    from rasa.core.actions import action as rasa_action

    remote_action = rasa_action.RemoteAction
    original = remote_action._validate_action_result

    @lru_cache(maxsize=1)
    def validator() -> Any:
        schema = remote_action.action_response_format_spec()  # a constant
        cls = validators.validator_for(schema)
        cls.check_schema(schema)
        return cls(schema)

    def validate_action_result(self: Any, result: dict[str, Any]) -> bool:
        if best_match(validator().iter_errors(result)) is None:
            return True
        # Invalid: let Rasa raise its own error (same best match, its message).
        return bool(original(self, result))

    remote_action._validate_action_result = validate_action_result


def main() -> None:
    patch_action_result_validation()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *sys.argv[1:]]
    rasa_main()


if __name__ == "__main__":
    main()
