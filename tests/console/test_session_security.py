"""The console's session, CSRF and header rules, in-process (no browser): what a cookie carries, what a
form without its token gets, that logging out revokes the API token, and that a new key shows once."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi.testclient import TestClient

from tests.console.inprocess import ADMIN_TOKEN, PASSWORD, _csrf, _sign_in, app_client, key_file
from tollgate.console.headers import CONTENT_SECURITY_POLICY

__all__ = ["app_client", "key_file"]


def test_the_session_cookie_is_http_only_strict_and_scoped_to_the_console(app_client: TestClient) -> None:
    cookie = _sign_in(app_client)
    assert re.match(
        r"tollgate_console=[A-Za-z0-9_\-.]+; HttpOnly; Max-Age=43200; Path=/console; SameSite=strict", cookie
    )
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back


def test_over_https_the_cookie_is_secure(app_client: TestClient) -> None:
    app_client.base_url = app_client.base_url.copy_with(scheme="https")
    assert "; Secure" in _sign_in(app_client)


def test_sign_in_without_the_forms_token_is_refused_before_the_password_is_checked(app_client: TestClient) -> None:
    answer = app_client.post("/console/login", data={"username": "ann", "password": PASSWORD})
    assert answer.status_code == 403
    assert "tollgate_console=" not in answer.headers.get("set-cookie", "")


def test_a_wrong_password_says_so_without_saying_which_part(app_client: TestClient) -> None:
    page = app_client.get("/console/login")
    answer = app_client.post(
        "/console/login", data={"csrf_token": _csrf(page.text), "username": "ann", "password": "x"}
    )
    assert answer.status_code == 401
    assert (
        '<div class="alert" role="alert" data-testid="login-error">Invalid user name or password.</div>' in answer.text
    )


def test_pages_carry_the_strict_csp_and_are_never_cached(app_client: TestClient) -> None:
    for path in ("/console/login", "/console/static/console.js"):
        answer = app_client.get(path)
        assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert answer.headers["x-frame-options"] == "DENY"
    assert app_client.get("/console/login").headers["cache-control"] == "no-store"
    assert "script-src 'self';" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_no_inline_script_or_style_in_any_template() -> None:
    templates = Path(__file__).parents[2] / "src/tollgate/console/templates"
    for template in templates.glob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template.name
        assert "<style" not in text and " style=" not in text and " on" + "click=" not in text, template.name


def test_a_form_without_the_sessions_token_changes_nothing(app_client: TestClient) -> None:
    _sign_in(app_client)
    answer = app_client.post("/console/secrets", data={"name": "s1", "value": "v"})
    assert answer.status_code == 403
    forged = app_client.post("/console/secrets", data={"name": "s1", "value": "v", "csrf_token": "0" * 64})
    assert forged.status_code == 403
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    assert app_client.get("/api/v1/secrets", headers=admin).json() == []


def test_signing_out_revokes_the_api_session_token(app_client: TestClient) -> None:
    _sign_in(app_client)
    token = app_client.cookies["tollgate_console"]
    page = app_client.get("/console/providers")
    assert page.status_code == 200
    answer = app_client.post("/console/logout", data={"csrf_token": _csrf(page.text)})
    assert answer.status_code == 303
    assert app_client.get("/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    app_client.cookies.set("tollgate_console", token, path="/console")
    assert app_client.get("/console/providers").headers["location"] == "/console/login"


def test_a_generated_key_is_shown_on_the_next_page_only(app_client: TestClient) -> None:
    _sign_in(app_client)
    page = app_client.get("/console/providers/p1")
    answer = app_client.post(
        "/console/providers/p1/keys", data={"csrf_token": _csrf(page.text), "expiry": "7d", "key_name": "k1"}
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/providers/p1?tab=connection"
    shown = app_client.get("/console/providers/p1")
    value = re.search(r'data-testid="new-key">(tg_[0-9a-f]{12}_[^<]+)<', shown.text)
    assert value is not None
    assert 'tollgate_console_new_key=""' in shown.headers["set-cookie"]  # deleted by the page that shows it
    again = app_client.get("/console/providers/p1?tab=keys")
    assert value.group(1) not in again.text
    assert value.group(1)[:15] in again.text  # masked tg_<id>... in the keys table
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    keys = app_client.get("/api/v1/keys", headers=admin).json()
    assert [(k["name"], k["status"], k["expiresAt"] is not None) for k in keys] == [("k1", "active", True)]


def test_regenerating_a_key_shows_the_new_value_once_and_keeps_its_id(app_client: TestClient) -> None:
    _sign_in(app_client)
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    created = app_client.post(
        "/api/v1/keys", json={"name": "k2", "target": {"kind": "LLMProvider", "name": "p1"}}, headers=admin
    ).json()
    page = app_client.get("/console/providers/p1?tab=keys")
    assert 'data-testid="regenerate-k2"' in page.text
    answer = app_client.post(
        "/console/providers/p1/regenerate-key", data={"csrf_token": _csrf(page.text), "key_id": created["id"]}
    )
    assert answer.headers["location"] == "/console/providers/p1?tab=keys"
    shown = re.search(
        r'data-testid="new-key">(tg_[0-9a-f]{12}_[^<]+)<', app_client.get(answer.headers["location"]).text
    )
    assert shown is not None
    assert shown.group(1) != created["value"]
    assert shown.group(1)[3:15] == created["id"]
    assert shown.group(1) not in app_client.get("/console/providers/p1?tab=keys").text
