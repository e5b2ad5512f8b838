"""Schemathesis against the served OpenAPI document: never a 5xx, every answer as documented.

Bounded to stay fast on a shared machine: few examples per operation, SQLite; no per-example
deadline (a loaded host made it flaky).
A second pass seeds real resources so the generated calls also reach the found-it code paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.control.conftest import ADMIN_TOKEN, KNOWN_TEMPLATES
from tests.control.docs import api_key, provider, proxy, secret
from tollgate.control.app import create_app
from tollgate.control.auth import AdminAuth
from tollgate.store import Store


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    base: Path = tmp_path_factory.mktemp("contract")
    with Store.open(
        f"sqlite:///{base / 'tollgate.db'}", secret_key_file=base / "secret.key", known_templates=KNOWN_TEMPLATES
    ) as store:
        store.apply_documents([], deploy=False)
        app = create_app(store, auth=AdminAuth(store, env_token=ADMIN_TOKEN))
        with TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as seed:
            seed.post(
                "/api/v1/apply",
                json={"documents": [secret(), provider(), proxy(), api_key()], "gateway": "default"},
            ).raise_for_status()
        yield schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_server_errors(api_schema: schemathesis.BaseSchema) -> None:
    """Every operation, a handful of generated cases each (hypothesis drives them one operation at a time)."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20
    statuses: list[int] = []

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
            statuses.append(response.status_code)

        check()
    assert len(statuses) > 3 * len(operations)
    assert {200, 404, 422} <= set(statuses)


#: Operations whose rules JSON Schema cannot carry, so schema-valid input may get the 422 (or 400)
#: their description states. Everything else is checked with positive data: optional parameters are
#: documented as absent-or-string (never null), a gateway's base URL as one pattern of the server's
#: rules, a service account as taking no password (if/then), two versions that disagree as a 409.
#: - PUT of templates, providers, proxies: the body's `metadata.name` must be the URL's name (a rule
#:   between path and body), and what it references must exist in the store (a template, a secret,
#:   a provider), and its context be free: rules on the store's contents.
#: - POST /apply: the same rules across the documents of a batch and the store.
#: - GET /usage/records: `cursor` is opaque: only a cursor this API returned decodes.
#: - GET /usage/summary: `bucket=minute` needs `from`, and a range of at most MAX_BUCKETS buckets
#:   (rules between parameters).
#: - POST /tokens and POST /tokens/{id}/rotate: `expiresAt` must be in the future (a rule on the
#:   clock); POST /tokens also needs `user` when the caller is TOLLGATE_ADMIN_TOKEN (a rule on the
#:   caller: that token has no user to own the new one).
#: - POST /keys and PATCH /keys/{id}: a key's `limits` need at least one entry, distinct window
#:   lengths, and durations the parser knows (rules across fields, and a string grammar).
POSITIVE_DATA_EXCEPTIONS = {
    "PUT /api/v1/templates/{name}",
    "PUT /api/v1/providers/{name}",
    "PUT /api/v1/proxies/{name}",
    "POST /api/v1/apply",
    "GET /api/v1/usage/records",
    "GET /api/v1/usage/summary",
    "POST /api/v1/tokens",
    "POST /api/v1/tokens/{token_id}/rotate",
    "POST /api/v1/keys",
    "PATCH /api/v1/keys/{key_id}",
}


def test_responses_conform_and_schema_valid_input_is_accepted(api_schema: schemathesis.BaseSchema) -> None:
    """Every answer is documented (status, headers, content type, body schema); a method the path does
    not serve gets 405 with `Allow`; schema-valid input is accepted (2xx, or 401/404/409) except where
    `POSITIVE_DATA_EXCEPTIONS` says why not."""
    headers = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    conformance = [
        not_a_server_error,
        status_code_conformance,
        content_type_conformance,
        response_headers_conformance,
        response_schema_conformance,
        unsupported_method,
    ]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    checked: list[str] = []
    for operation in operations:
        positive = operation.label not in POSITIVE_DATA_EXCEPTIONS
        checks = [*conformance, positive_data_acceptance] if positive else conformance

        @given(case=operation.as_strategy())
        @settings(
            max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=checks)  # noqa: B023 - called within the iteration

        check()
        checked.append(operation.label)
    assert len(checked) > 20 and set(checked) >= POSITIVE_DATA_EXCEPTIONS
