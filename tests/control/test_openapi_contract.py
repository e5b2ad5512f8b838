"""Schemathesis against the served OpenAPI document: whatever the generated input, never a 5xx.

Bounded to stay fast on a shared machine: few examples per operation, a per-example deadline, SQLite.
A second pass seeds real resources so the generated calls also reach the found-it code paths.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

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
            max_examples=6, deadline=2000, suppress_health_check=list(HealthCheck), derandomize=True, database=None
        )
        def check(case: schemathesis.Case) -> None:
            response = case.call_and_validate(headers=headers, checks=[not_a_server_error])
            statuses.append(response.status_code)

        check()
    assert len(statuses) > 3 * len(operations)
    assert {200, 404, 422} <= set(statuses)
