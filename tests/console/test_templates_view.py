"""Custom provider templates in the console: created and edited through PUT /templates, errors beside
their field, nothing stored on a refusal; built-in ones are not editable."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.console.inprocess import ADMIN_TOKEN, _csrf, _sign_in, app_client, key_file

__all__ = ["app_client", "key_file"]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def _form(csrf: str, **fields: str) -> dict[str, str]:
    base = {
        "csrf_token": csrf,
        "metadata.name": "acme",
        "metadata.description": "Acme LLM",
        "spec.baseUrl": "https://llm.acme.test/api",
        "spec.credential.location": "header",
        "spec.credential.name": "X-Acme-Key",
        "spec.credential.prefix": "Token ",
        "spec.clientKeyHeaders": "x-acme-key",
        "spec.defaultHeaders": "Acme-Version: 2",
        "spec.requestModel.bodyField": "model",
        "spec.streaming.bodyFlag": "stream",
        "spec.responseModel": "model",
        "spec.usage.promptTokens": "usage.input",
        "spec.usage.completionTokens": "usage.output",
        "spec.usage.totalTokens": "",
        "spec.usage.cachedTokens": "usage.cached",
        "spec.errorFormat": "openai",
    }
    return {**base, **fields}


def test_a_custom_template_is_created_and_edited_as_a_document(app_client: TestClient) -> None:
    _sign_in(app_client)
    csrf = _csrf(app_client.get("/console/templates/new").text)
    answer = app_client.post("/console/templates/new", data=_form(csrf))
    assert answer.status_code == 303
    doc = app_client.get("/api/v1/templates/acme", headers=ADMIN).json()
    assert doc["metadata"]["description"] == "Acme LLM"
    spec = doc["spec"]
    assert spec["baseUrl"] == "https://llm.acme.test/api"
    assert spec["credential"] == {"location": "header", "name": "X-Acme-Key", "prefix": "Token "}
    assert spec["defaultHeaders"] == {"Acme-Version": "2"}
    assert spec["usage"] == {
        "promptTokens": ["usage.input"],
        "completionTokens": ["usage.output"],
        "totalTokens": [],
        "cachedTokens": ["usage.cached"],
    }

    page = app_client.get("/console/templates/acme/edit")
    assert 'value="Token "' in page.text
    edited = _form(_csrf(page.text), **{"spec.errorFormat": "anthropic"})
    edited["version"] = doc["metadata"]["resourceVersion"]
    assert app_client.post("/console/templates/acme/edit", data=edited).status_code == 303
    assert app_client.get("/api/v1/templates/acme", headers=ADMIN).json()["spec"]["errorFormat"] == "anthropic"
    stale = app_client.post("/console/templates/acme/edit", data=edited)  # the version it was read at is gone
    assert stale.status_code == 409


def test_an_invalid_field_is_shown_beside_it_and_nothing_is_stored(app_client: TestClient) -> None:
    _sign_in(app_client)
    csrf = _csrf(app_client.get("/console/templates/new").text)
    answer = app_client.post("/console/templates/new", data=_form(csrf, **{"spec.requestModel.pathPattern": "/m/.+"}))
    assert answer.status_code == 422
    error = 'data-field-error="spec.requestModel.pathPattern">'
    assert error in answer.text
    assert "needs one capturing group for the model" in answer.text.split(error)[1].split("<")[0]
    assert app_client.get("/api/v1/templates/acme", headers=ADMIN).status_code == 404
    duplicate = app_client.post("/console/templates/new", data=_form(csrf, **{"metadata.name": "openai"}))
    assert duplicate.status_code == 409
    assert "a template named &#39;openai&#39; already exists" in duplicate.text
