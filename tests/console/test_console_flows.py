"""The console's six flows (issue 9) in headless chromium, against a real Tollgate over the mock vendors.

Each snippet is read from the page (the text the Copy button copies) and run unchanged with the real
vendor SDK. The flows share one Tollgate, in order: 1 and 2 create the routes and keys that 3 revokes
and 6 counts; 4 and 5 check refusals. A screenshot of each main screen goes to test-artifacts/console/.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from tests.console.console_harness import PASSWORD, TollgateProcess, run_snippet
from tollgate.mock import MockServer

pytestmark = pytest.mark.slow

OPENAI_REPLY = "Hello from the mock OpenAI API."
ANTHROPIC_REPLY = "Hello from the mock Anthropic API."


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    """What one flow leaves for the next (route names, key values, snippet code)."""
    return {}


@pytest.fixture
def page(browser: Any, tollgate: TollgateProcess, artifacts: Path, request: pytest.FixtureRequest) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("dialog", lambda dialog: dialog.accept())
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:  # the screen the test failed on, for the reader of the report
        page.screenshot(path=str(artifacts / f"FAILED-{request.node.name}.png"), full_page=True)
        (artifacts / f"FAILED-{request.node.name}.html").write_text(page.content())
        print(f"log of tollgate:\n{tollgate.log_tail()}")
    context.close()
    assert errors == [], f"script errors or CSP violations in the browser: {errors}"


def sign_in(page: Any, tollgate: TollgateProcess, user: str) -> None:
    page.goto(tollgate.console_url + "/")
    assert page.url.endswith("/console/login")
    page.fill("#username", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/console/providers")
    assert page.get_by_test_id("whoami").inner_text().split()[0] == user


def shot(page: Any, artifacts: Path, name: str) -> None:
    page.screenshot(path=str(artifacts / f"{name}.png"), full_page=True)


def add_provider(page: Any, template: str, name: str, upstream: str, secret_value: str) -> None:
    page.get_by_test_id("create-providers").click()
    page.get_by_test_id(f"tile-{template}").focus()  # the tiles are links: Enter picks one
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/console/providers/new/{template}")
    page.fill("#f-metadata-name", name)
    page.fill("#f-spec-context", f"/{name}")
    page.fill("#f-spec-upstreamUrl", upstream)
    page.fill("#f-secret-metadata-name", f"{name}-upstream")
    page.fill("#f-secret-value", secret_value)
    page.get_by_test_id("create-submit").click()
    page.wait_for_url(f"**/console/providers/{name}?created=1")


def deploy_and_generate_key(page: Any) -> str:
    page.get_by_test_id("tab-deployments").click()
    page.get_by_test_id("deploy").click()
    page.wait_for_url("**tab=deployments")
    page.select_option("#key-expiry", "never")
    page.get_by_test_id("generate-key").click()
    page.wait_for_url("**tab=deployments")
    key = str(page.get_by_test_id("new-key").inner_text())
    assert key.startswith("tg_")
    return key


def snippet_of(page: Any, client: str) -> str:
    """Select the client's tab and return the code its Copy button copies."""
    page.locator("[role=tab]", has_text=client).first.click()
    panel = page.locator(f"[role=tabpanel][data-client='{client}']")
    assert panel.is_visible()
    return str(panel.get_by_test_id("snippet-code").text_content())


def test_flow1_openai_provider_from_tile_to_running_snippet(
    page: Any,
    tollgate: TollgateProcess,
    mock_vendors: MockServer,
    artifacts: Path,
    tmp_path: Path,
    state: dict[str, Any],
) -> None:
    sign_in(page, tollgate, "alice")
    shot(page, artifacts, "01-providers-empty")
    page.get_by_test_id("create-providers").click()
    shot(page, artifacts, "02-template-tiles")
    page.go_back()
    add_provider(page, "openai", "openai-main", mock_vendors.url("openai"), mock_vendors.keys["openai"])
    page.get_by_test_id("tab-security").click()
    page.select_option("#f-spec-security-location", "query")
    page.fill("#f-spec-security-name", "api_key")
    page.uncheck("input[name='spec.security.acceptVendorHeaders']")
    page.get_by_test_id("save").click()
    page.wait_for_url("**tab=security&saved=1")
    assert page.input_value("#f-spec-security-name") == "api_key"
    shot(page, artifacts, "03-provider-security")
    key = deploy_and_generate_key(page)
    shot(page, artifacts, "04-provider-get-started-new-key")
    # the snippet tabs work from the keyboard too: arrow keys move between clients
    page.locator("[role=tab]", has_text="openai").first.focus()
    page.keyboard.press("ArrowRight")
    assert page.locator("[role=tabpanel][data-client='langchain-openai']").is_visible()
    assert not page.locator("[role=tabpanel][data-client='openai']").is_visible()
    code = snippet_of(page, "openai")
    assert f'API_KEY = "{key}"' in code
    assert 'default_query={"api_key": API_KEY}' in code
    assert f'INVOKE_URL = "{tollgate.url}/openai-main/v1"' in code

    run = run_snippet(code, tmp_path, "openai_snippet")
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines() == [OPENAI_REPLY, "1 2 3 4 5"]
    # the key went in the query parameter, and the upstream got the secret, not the gateway key
    sent = mock_vendors.requests("openai")[-2:]
    assert [r["headers"].get("authorization") for r in sent] == [f"Bearer {mock_vendors.keys['openai']}"] * 2
    assert [r["query"] for r in sent] == ["", ""]
    state["openai"] = {"key": key, "code": code}

    page.reload()  # the key is never shown again: masked in the list, a placeholder in the snippets
    assert page.get_by_test_id("new-key").count() == 0
    assert key not in page.content()
    page.get_by_test_id("tab-keys").click()
    assert key[:15] in page.get_by_test_id("keys-table").inner_text()
    assert key not in page.content()
    shot(page, artifacts, "05-provider-keys")


def test_flow2_anthropic_proxy_streams_with_the_copied_snippet(
    page: Any,
    tollgate: TollgateProcess,
    mock_vendors: MockServer,
    artifacts: Path,
    tmp_path: Path,
    state: dict[str, Any],
) -> None:
    sign_in(page, tollgate, "alice")
    page.goto(tollgate.console_url + "/providers")
    add_provider(page, "anthropic", "claude", mock_vendors.url("anthropic"), mock_vendors.keys["anthropic"])
    page.get_by_test_id("tab-deployments").click()
    page.get_by_test_id("deploy").click()
    page.wait_for_url("**tab=deployments")

    page.goto(tollgate.console_url + "/proxies")
    shot(page, artifacts, "06-proxies-empty")
    page.get_by_test_id("create-proxies").click()
    page.fill("#f-metadata-name", "support-bot")
    page.fill("#f-spec-context", "/apps/support-bot")
    page.select_option("#f-spec-provider", "claude")
    page.get_by_test_id("create-submit").click()
    page.wait_for_url("**/console/proxies/support-bot?created=1")
    key = deploy_and_generate_key(page)
    shot(page, artifacts, "07-proxy-get-started")
    code = snippet_of(page, "anthropic")
    assert f'INVOKE_URL = "{tollgate.url}/apps/support-bot"' in code

    run = run_snippet(code, tmp_path, "anthropic_snippet")
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.splitlines() == [ANTHROPIC_REPLY, "1 2 3 4 5"]
    basic, streamed = mock_vendors.requests("anthropic")[-2:]
    assert "stream" not in json.loads(basic["body"])
    assert json.loads(streamed["body"])["stream"] is True
    assert streamed["headers"].get("x-api-key") == mock_vendors.keys["anthropic"]
    state["anthropic"] = {"key": key, "code": code}


def test_flow3_revoking_in_the_console_fails_the_snippet_within_a_second(
    page: Any, tollgate: TollgateProcess, artifacts: Path, tmp_path: Path, state: dict[str, Any]
) -> None:
    if "openai" not in state:
        pytest.skip("flow 1 did not leave a key")
    sign_in(page, tollgate, "alice")
    page.goto(tollgate.console_url + "/providers/openai-main?tab=keys")
    key = state["openai"]["key"]
    name = page.locator("tr", has_text=key[:15]).locator("td").first.inner_text()
    page.get_by_test_id(f"revoke-{name}").click()
    page.wait_for_url("**tab=keys")
    assert "revoked" in page.locator("tr", has_text=key[:15]).inner_text()
    revoked_at = time.monotonic()
    # the snippet's own client, built in this process by the copied code (so polling costs no interpreter start)
    setup: dict[str, Any] = {}
    passed = 0
    exec(state["openai"]["code"].split("response = ")[0], setup)
    while True:
        try:
            setup["client"].chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
        except openai.AuthenticationError as exc:
            refused_after = time.monotonic() - revoked_at
            assert exc.status_code == 401
            break
        passed += 1
        assert time.monotonic() - revoked_at < 3.0, "the revoked key still works"
        time.sleep(0.05)
    assert refused_after < 1.5  # the promise is a second; half a second of slack for a loaded test host
    run = run_snippet(state["openai"]["code"], tmp_path, "after_revoke")  # and the snippet as copied fails
    assert run.returncode == 1
    assert run.stdout == ""
    assert "openai.AuthenticationError: Error code: 401" in run.stderr
    state["after_revoke"] = {"passed": passed, "refused": 2}  # what flow 6 must count besides flows 1 and 2


def test_flow4_duplicate_context_is_shown_beside_the_field_and_nothing_is_stored(
    page: Any, tollgate: TollgateProcess, mock_vendors: MockServer, artifacts: Path
) -> None:
    sign_in(page, tollgate, "alice")
    with tollgate.api() as api:
        api.put(
            "/providers/taken",
            json={"metadata": {"name": "taken"}, "spec": {"template": "openai", "context": "/taken"}},
        ).raise_for_status()
        before = api.get("/providers").json()
    page.get_by_test_id("create-providers").click()
    page.get_by_test_id("tile-openai").click()
    page.fill("#f-metadata-name", "second")
    page.fill("#f-spec-context", "/taken")
    page.fill("#f-secret-value", "sk-something")
    page.get_by_test_id("create-submit").click()
    error = page.locator("[data-field-error='spec.context']")
    assert error.is_visible()
    assert "taken" in error.inner_text()
    assert page.locator("#f-spec-context").get_attribute("aria-invalid") == "true"
    assert page.input_value("#f-metadata-name") == "second"  # the form keeps what was typed
    shot(page, artifacts, "08-validation-error")
    with tollgate.api() as api:
        assert api.get("/providers").json() == before
        assert api.get("/secrets/second-upstream").status_code == 404


def test_flow5_a_viewer_sees_no_create_buttons_and_the_api_refuses_a_forced_action(
    page: Any, tollgate: TollgateProcess, artifacts: Path
) -> None:
    with tollgate.api() as api:
        doc = {"metadata": {"name": "shown"}, "spec": {"template": "openai", "context": "/shown"}}
        api.put("/providers/shown", json=doc).raise_for_status()
    sign_in(page, tollgate, "vic")
    assert page.get_by_test_id("create-providers").count() == 0
    page.goto(tollgate.console_url + "/proxies")
    assert page.get_by_test_id("create-proxies").count() == 0
    page.goto(tollgate.console_url + "/providers/shown")
    assert page.get_by_test_id("generate-key").count() == 0
    assert page.get_by_test_id("save").count() == 0
    assert page.locator("#f-spec-context").is_disabled()
    shot(page, artifacts, "09-viewer-provider")
    # forced: post the "new provider" form anyway, with the viewer's own valid CSRF token
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    form = {"csrf_token": csrf, "metadata.name": "forced", "spec.context": "/forced", "credential": "none"}
    answer = page.request.post(tollgate.console_url + "/providers/new/openai", form=form, max_redirects=0)
    assert answer.status == 403
    alert = answer.text().split('data-testid="form-error">')[1].split("<")[0]
    assert alert == "providers:write: not granted to role &#39;viewer&#39;"  # the API's own refusal
    # the same with the viewer's own session token straight at the management API
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "tollgate_console")
    forced = {"metadata": {"name": "forced"}, "spec": {"template": "openai", "context": "/forced"}}
    direct = httpx.put(
        f"{tollgate.admin_url}/api/v1/providers/forced", json=forced, headers={"Authorization": f"Bearer {token}"}
    )
    assert direct.status_code == 403
    assert direct.json()["error"]["message"] == "permission denied: providers:write is not granted to role 'viewer'"
    with tollgate.api() as api:
        assert api.get("/providers/forced").status_code == 404
    # and without a CSRF token nothing is even tried
    answer = page.request.post(tollgate.console_url + "/providers/new/openai", form={"metadata.name": "x"})
    assert answer.status == 403


def test_flow6_the_usage_chart_shows_the_requests_of_flows_1_and_2(
    page: Any, tollgate: TollgateProcess, artifacts: Path, state: dict[str, Any]
) -> None:
    if "openai" not in state or "anthropic" not in state:
        pytest.skip("flows 1 and 2 did not run")
    sign_in(page, tollgate, "alice")
    deadline = time.monotonic() + 15
    while True:
        page.goto(tollgate.console_url + "/usage?range=1h")
        groups = page.get_by_test_id("usage-groups")
        text = groups.inner_text() if groups.count() else ""
        if ("openai-main" in text and "support-bot" in text) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    rows = [row.split("\t") for row in groups.inner_text().splitlines()[1:]]
    by_route = {(r[0], r[1], r[2]): (r[4], r[5], r[6]) for r in rows}  # requests, errors, tokens
    late = state.get("after_revoke", {"passed": 0, "refused": 0})  # flow 3's calls: before and after the refusal
    openai_row = by_route[("openai-main", "", "gpt-4o")]
    assert openai_row[:2] == (str(2 + late["passed"]), "0")  # flow 1: a call and a stream
    if late["passed"] == 0:
        assert openai_row[2] == "21"
    assert by_route[("claude", "support-bot", "claude-sonnet-4-5")] == ("2", "0", "21")  # flow 2: the same
    refused = str(late["refused"])
    assert by_route[("openai-main", "", "")] == (refused, refused, "0")  # flow 3: the revoked key's 401s
    total = 4 + late["passed"] + late["refused"]
    assert page.get_by_test_id("total-requests").inner_text() == str(total)
    chart = page.locator("#usage-chart")
    page.wait_for_function("document.getElementById('usage-chart').dataset.drawn === 'true'")
    data = page.evaluate("JSON.parse(document.getElementById('usage-chart').dataset.chart)")
    ok = sum(data["datasets"][0]["data"])
    failed = sum(data["datasets"][1]["data"])
    assert (ok, failed) == (4 + late["passed"], late["refused"])
    assert chart.bounding_box()["height"] > 100
    page.wait_for_function("document.getElementById('latency-chart').dataset.drawn === 'true'")
    latency = page.evaluate("JSON.parse(document.getElementById('latency-chart').dataset.chart)")
    assert any(v is not None and v > 0 for v in latency["datasets"][0]["data"])  # average latency of the bucket
    assert sum(latency["datasets"][1]["data"]) > 0  # gpt-4o and claude have prices
    shot(page, artifacts, "10-usage")
    # a narrow window: everything reflows, only wide tables scroll inside their own box
    page.set_viewport_size({"width": 420, "height": 900})
    for path in ("/usage?range=1h", "/providers/openai-main"):
        page.goto(tollgate.console_url + path)
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
    shot(page, artifacts, "12-narrow-provider")


def test_a_rate_limit_set_on_the_rate_limiting_tab_is_enforced_and_its_errors_are_shown(
    page: Any, tollgate: TollgateProcess, artifacts: Path, tmp_path: Path, state: dict[str, Any]
) -> None:
    if "anthropic" not in state:
        pytest.skip("flow 2 did not leave a proxy and key")
    sign_in(page, tollgate, "alice")
    page.goto(tollgate.console_url + "/proxies/support-bot?tab=limits")
    assert page.get_by_test_id("no-policies").is_visible()
    form = page.get_by_test_id("policy-form-rate-limit")
    page.locator("details", has=form).locator("summary").click()
    form.locator("textarea[name='p.limits']").fill("- requests: 0\n  per: minute")
    form.locator("button[type=submit]").click()
    alert = page.get_by_test_id("form-error")
    assert alert.inner_text() == (  # the API's own message, naming the field
        "spec.policies.0: policy 'rate-limit': params.limits[0].requests: Input should be greater than 0"
    )
    with tollgate.api() as api:
        assert api.get("/proxies/support-bot").json()["spec"]["policies"] == []
    form = page.get_by_test_id("policy-form-rate-limit")
    assert form.locator("textarea[name='p.limits']").input_value() == "- requests: 0\n  per: minute"
    form.locator("textarea[name='p.limits']").fill("- requests: 1\n  per: minute")
    form.locator("button[type=submit]").click()
    page.wait_for_url("**tab=limits&saved=1")
    assert "rate-limit" in page.get_by_test_id("policies-table").inner_text()
    shot(page, artifacts, "11-proxy-rate-limiting")
    with tollgate.api() as api:
        policies = api.get("/proxies/support-bot").json()["spec"]["policies"]
    assert policies == [{"name": "rate-limit", "params": {"limits": [{"requests": 1, "per": "minute"}]}, "paths": []}]
    time.sleep(1.5)  # the gateway swaps in the new snapshot within a second
    run = run_snippet(state["anthropic"]["code"], tmp_path, "rate_limited")
    assert run.stdout.splitlines() == [ANTHROPIC_REPLY]  # the basic call passes, the streamed one is refused
    assert "anthropic.RateLimitError: Error code: 429" in run.stderr
