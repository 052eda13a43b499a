"""`python -m rasa_runtime.launch run ...`: Rasa's own command line, with one speed fix
and the API's secret taken from the environment.

The secret: `rasa run --jwt-secret S` would put S in /proc/PID/cmdline, which every local
user can read (`ps`). The launcher reads it from RASA_TOKEN instead and hands it to Rasa's
argument parser inside this process (a change to sys.argv here does not show in
/proc/PID/cmdline). Rasa then requires a JWT signed with it (Authorization header) on every
API endpoint; `--auth-token`, the token as a URL parameter, is refused.

Rasa 3.6 checks every reply of the action server with `jsonschema.validate`, which first
validates the (constant) schema itself against the draft 2020-12 meta-schema, on every
call. Profiled under load (py-spy, 4 concurrent shoppers) that was half of Rasa's CPU
time and capped the whole assistant at ~15 messages per second on two cores. Here the
validator is built once; replies are checked against the same schema with the same
error (jsonschema's best match, Rasa's message), exactly as before.
"""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping
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


def with_api_secret(args: list[str], environ: MutableMapping[str, str]) -> list[str]:
    """`rasa run` arguments with the API's JWT secret from RASA_TOKEN (removed from the
    environment, so nothing Rasa starts inherits it). Exits with a message when the secret
    is missing (Rasa would then serve its API to anyone) or given on the command line."""
    if args[:1] != ["run"]:
        return args
    if any(a == "--auth-token" or a.startswith(("--auth-token=", "--jwt-secret")) for a in args):
        raise SystemExit(
            "rasa_runtime.launch: do not pass Rasa's secret on the command line (every local "
            "user can read it there); set RASA_TOKEN in the environment instead"
        )
    secret = environ.pop("RASA_TOKEN", "")
    if not secret:
        raise SystemExit(
            "rasa_runtime.launch: RASA_TOKEN is not set, and without it Rasa's HTTP API "
            "would be open to anyone; set it (`bot run` does, from settings)"
        )
    return [*args, "--jwt-secret", secret, "--jwt-method", "HS256"]


def main() -> None:
    args = with_api_secret(sys.argv[1:], os.environ)
    patch_action_result_validation()
    from rasa.__main__ import main as rasa_main

    sys.argv = ["rasa", *args]
    rasa_main()


if __name__ == "__main__":
    main()
