"""schemathesis against the live order backend (`python -m bot.orders serve`, over HTTP,
with the action server's token; the staff route with the staff token): requests
generated from its OpenAPI document, valid and invalid (schemathesis' examples, coverage
and fuzzing phases, in both generation modes), must get no server error, no status the
document does not list, and content types, headers and bodies as documented.

The document is built by `create_app` at import (schemathesis' pytest integration reads
it at collection; its fixture-based loader does not work with pytest 9), and a test checks
the live server serves exactly that document. The failure limit is raised so that random
e-mails and numbers reach the rules instead of stopping at 429 (its answers are tested in
tests/test_orders_guessing.py). The module prints how many requests it sent (`-s`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from bot.orders.app import create_app
from tests.orders_helpers import AUTH, order_servers, settings_for

MAX_EXAMPLES = 100  # fuzzed requests per operation and generation mode
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    missing_required_header,
    ignored_auth,
    unsupported_method,
]
SENT: Counter[str] = Counter()  # requests per documented operation, or "other methods"
ANSWERED: Counter[int] = Counter()  # responses per status


def documented() -> dict[str, Any]:
    """The backend's OpenAPI document, as `create_app` builds it (no database is opened)."""
    return create_app(settings_for("sqlite:///:memory:")).openapi()


schema = schemathesis.openapi.from_dict(documented())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder: Path = tmp_path_factory.mktemp("schemathesis")
    database = f"sqlite:///{folder / 'orders.db'}"
    with order_servers(database, folder, verify_failure_limit=1_000_000) as [url]:
        seeded = httpx.post(f"{url}/v1/admin/seed", headers=AUTH)
        assert seeded.status_code == 200, seeded.text
        yield url
    print(
        f"\nschemathesis sent {sum(SENT.values())} requests: "
        f"{', '.join(f'{op}: {n}' for op, n in SENT.most_common())}; "
        f"answers by status: {dict(sorted(ANSWERED.items()))}"
    )


def token_for(path: str) -> dict[str, str]:
    staff = settings_for("sqlite:///:memory:").orders_staff_token.get_secret_value()
    return {"Authorization": f"Bearer {staff}"} if path.startswith("/v1/staff/") else AUTH


def test_the_live_backend_serves_the_document_tested(server: str) -> None:
    assert httpx.get(f"{server}/openapi.json").json() == documented()


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_the_order_api_answers_as_documented(server: str, case: schemathesis.Case[Any]) -> None:
    response = case.call(base_url=server, headers=token_for(case.path), timeout=30)
    documented_method = case.method.lower() in schema.raw_schema["paths"][case.path]
    SENT[f"{case.method} {case.path}" if documented_method else "other methods"] += 1
    ANSWERED[response.status_code] += 1
    case.validate_response(response, checks=CHECKS, headers=token_for(case.path))
