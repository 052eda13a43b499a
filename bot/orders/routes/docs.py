"""OpenAPI descriptions of the error answers the routes share."""

from __future__ import annotations

from typing import Any

from bot.orders.domain import WriteDeadlineExceeded, key_reused
from bot.orders.errors import BODY_TOO_LARGE, DATABASE_UNAVAILABLE
from bot.orders.schemas import ErrorText, ProblemBody, Unauthorized, problem_example

Responses = dict[int | str, dict[str, Any]]

UNAUTHORIZED_RESPONSE: Responses = {
    401: {
        "model": Unauthorized,
        "description": "No `Authorization: Bearer <token>` header, or the wrong token.",
    }
}

BODY_TOO_LARGE_RESPONSE: Responses = {
    413: {
        "model": ErrorText,
        "description": "The request body is over 64 KiB.",
        "content": {"application/json": {"example": {"detail": BODY_TOO_LARGE}}},
    }
}

# Every status a `/v1` route may answer besides its own: the token, a body that is not
# readable JSON (FastAPI: not UTF-8, or nested too deep to parse), its size, the database.
COMMON_RESPONSES: Responses = {
    **UNAUTHORIZED_RESPONSE,
    400: {
        "model": ErrorText,
        "description": "The body could not be parsed (e.g. JSON nested too deeply).",
        "content": {
            "application/json": {"example": {"detail": "There was an error parsing the body"}}
        },
    },
    **BODY_TOO_LARGE_RESPONSE,
    503: {
        "model": ProblemBody,
        "description": "The order database could not answer in time; nothing was written. "
        "Trying again later (with the same idempotency key) is safe.",
        "content": {
            "application/json": {
                "examples": {
                    "write_deadline_exceeded": {
                        "value": {"detail": WriteDeadlineExceeded().detail()}
                    },
                    "database_unavailable": {"value": {"detail": DATABASE_UNAVAILABLE}},
                }
            }
        },
    },
}

LOCKED_RESPONSE: Responses = {
    429: {
        "model": ProblemBody,
        "description": "Too many failed ownership checks within the window for this "
        "e-mail address, order number or client: the check was not evaluated (even the "
        "right pair gets this answer).",
        "content": {
            "application/json": {
                "example": problem_example(
                    "verification_locked",
                    "There have been too many unsuccessful attempts to confirm an order with "
                    "these details, so they can't be checked here for now. Please write to "
                    "service@kntofficial.com and the team will help you.",
                )
            }
        },
    }
}

NOT_FOUND_RESPONSE: Responses = {
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


def refusals(description: str, **examples: dict[str, Any]) -> Responses:
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


KEY_REUSED = problem_example(**key_reused().detail())
