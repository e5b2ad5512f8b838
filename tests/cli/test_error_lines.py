"""How the CLI prints an API refusal: each reason once, whether or not the message already lists it."""

from __future__ import annotations

import pytest

from tollgate.cli._app import Application
from tollgate.control.client import ManagementError


def _printed(exc: ManagementError, capsys: pytest.CaptureFixture[str]) -> tuple[int | str | None, list[str]]:
    with pytest.raises(SystemExit) as stopped:
        Application(url="http://127.0.0.1:1", token="t", output="table").fail(exc)
    return stopped.value.code, capsys.readouterr().err.splitlines()


def test_a_reason_the_message_already_names_is_not_repeated(capsys: pytest.CaptureFixture[str]) -> None:
    detail = {"resource": "APIKey 'k'", "field": "spec.valueFromEnv", "reason": "environment variable K is not set"}
    message = "APIKey 'k': spec.valueFromEnv: environment variable K is not set"
    assert _printed(ManagementError(422, message, [detail]), capsys) == (1, [f"Error: {message}"])


def test_reasons_the_message_does_not_name_are_listed(capsys: pytest.CaptureFixture[str]) -> None:
    details = [
        {"resource": "LLMProvider 'a'", "field": "spec.context", "reason": "taken"},
        {"resource": "LLMProvider 'b'", "field": "spec.template", "reason": "no such template"},
    ]
    assert _printed(ManagementError(422, "2 validation errors", details), capsys) == (
        1,
        [
            "Error: 2 validation errors",
            "  - LLMProvider 'a': spec.context: taken",
            "  - LLMProvider 'b': spec.template: no such template",
        ],
    )
