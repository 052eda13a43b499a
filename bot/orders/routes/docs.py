"""OpenAPI descriptions of the error answers the routes share."""

from __future__ import annotations

from typing import Any

from bot.orders.schemas import ProblemBody, Unauthorized, problem_example

UNAUTHORIZED_RESPONSE: dict[int | str, dict[str, Any]] = {
    401: {
        "model": Unauthorized,
        "description": "No `Authorization: Bearer <token>` header, or the wrong token.",
    }
}

NOT_FOUND_RESPONSE: dict[int | str, dict[str, Any]] = {
    404: {
        "model": ProblemBody,
        "description": "No order has this number and e-mail (the same answer whichever "
        "part is wrong).",
        "content": {
            "application/json": {
                "example": problem_example("not_found", "No order matches these details.")
            }
        },
    }
}

REPLAY_HEADER = "Idempotent-Replayed"
REPLAY_HEADERS = {
    REPLAY_HEADER: {
        "description": "`true` when this answer repeats the record created earlier under "
        "the same idempotency key (nothing new was written).",
        "schema": {"type": "string", "enum": ["true", "false"]},
    }
}


def refusals(description: str, **examples: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """A documented 409 with one named example per refusal reason."""
    return {
        409: {
            "model": ProblemBody,
            "description": description,
            "content": {
                "application/json": {
                    "examples": {name: {"value": value} for name, value in examples.items()}
                }
            },
        }
    }


KEY_REUSED = problem_example(
    "idempotency_key_reused",
    "This idempotency key was already used for a different request; use a new key.",
)
