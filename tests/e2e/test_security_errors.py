"""Inbound security and error behaviour through the real gateway, with each SDK family's own
exceptions: bad keys (wrong, malformed, missing, expired, revoked, cross-resource) give 401; no
route 404; model not allowed 400; body too large 413; malformed JSON 400; upstream unreachable 502;
upstream timeout 504; upstream errors passed through as is. Every error carries `x-request-id` and
no secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import anthropic
import httpx
import openai
import pytest
from e2e_clients import anthropic_client, chat_anthropic, chat_gemini, chat_openai, genai_client, mistral_client
from e2e_clients import openai_client as sdk_openai_client
from e2e_harness import ALLOWED_MODELS, E2E, FAMILY_MODELS, FIRST_BYTE_TIMEOUT_S, RESTRICTED_MAX_BYTES, key_id
from google.genai import errors as genai_errors
from mistralai.client import errors as mistral_errors

from tollgate.resources.keys import generate_key
from tollgate.store import Store

FAMILIES = list(FAMILY_MODELS)
#: a vendor data-plane path and minimal body per family, for raw HTTP checks
RAW_PATHS: dict[str, tuple[str, dict[str, Any]]] = {
    "openai": ("/v1/chat/completions", {"model": "gpt-4o", "messages": [{"role": "user", "content": "Hi"}]}),
    "anthropic": (
        "/v1/messages",
        {"model": "claude-sonnet-4-5", "max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]},
    ),
    "gemini": (
        "/v1/models/gemini-2.5-flash:generateContent",
        {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]},
    ),
    "mistral": (
        "/v1/chat/completions",
        {"model": "mistral-small-latest", "messages": [{"role": "user", "content": "Hi"}]},
    ),
}


# --- one call per SDK family ------------------------------------------------------------------------


def call(
    family: str,
    url: str,
    key: str,
    *,
    prompt: str = "Hello",
    model: str | None = None,
    stream: bool = False,
    sdk_key: str | None = None,
) -> str:
    """One chat call with the family's own SDK, configured as the guide shows; returns the text."""
    model = model or FAMILY_MODELS[family]
    messages = [{"role": "user", "content": prompt}]
    if family == "openai":
        client = sdk_openai_client(url, key) if sdk_key is None else _openai_with(url, key, sdk_key)
        if not stream:
            return str(client.chat.completions.create(model=model, messages=messages).choices[0].message.content)
        out = []
        for chunk in client.chat.completions.create(model=model, messages=messages, stream=True):
            if chunk.choices and chunk.choices[0].delta.content:
                out.append(chunk.choices[0].delta.content)
        return "".join(out)
    if family == "anthropic":
        client = anthropic_client(url, key) if sdk_key is None else _anthropic_with(url, key, sdk_key)
        if not stream:
            return str(client.messages.create(model=model, max_tokens=256, messages=messages).content[0].text)
        with client.messages.stream(model=model, max_tokens=256, messages=messages) as s:
            return "".join(s.text_stream)
    if family == "gemini":
        client = genai_client(url, key)
        if not stream:
            return str(client.models.generate_content(model=model, contents=prompt).text)
        return "".join(c.text or "" for c in client.models.generate_content_stream(model=model, contents=prompt))
    if family == "mistral":
        client = mistral_client(url, key)
        if not stream:
            return str(client.chat.complete(model=model, messages=messages).choices[0].message.content)
        out = []
        with client.chat.stream(model=model, messages=messages) as events:
            for event in events:
                if event.data.choices and event.data.choices[0].delta.content:
                    out.append(str(event.data.choices[0].delta.content))
        return "".join(out)
    raise AssertionError(family)


def _openai_with(url: str, header_key: str, sdk_key: str) -> Any:
    headers = {"X-API-Key": header_key} if header_key else {}
    return openai.OpenAI(api_key=sdk_key, base_url=url + "/v1", default_headers=headers, timeout=15, max_retries=0)


def _anthropic_with(url: str, header_key: str, sdk_key: str) -> Any:
    headers = {"X-API-Key": header_key} if header_key else {}
    return anthropic.Anthropic(api_key=sdk_key, base_url=url, default_headers=headers, timeout=15, max_retries=0)


#: the exception class each family raises, by HTTP status
OPENAI_CLASSES = {
    400: openai.BadRequestError,
    401: openai.AuthenticationError,
    404: openai.NotFoundError,
    413: openai.APIStatusError,
    429: openai.RateLimitError,
    500: openai.InternalServerError,
    502: openai.InternalServerError,
    504: openai.InternalServerError,
}
ANTHROPIC_CLASSES = {
    400: anthropic.BadRequestError,
    401: anthropic.AuthenticationError,
    404: anthropic.NotFoundError,
    413: anthropic.ContentTooLargeError,
    429: anthropic.RateLimitError,
    500: anthropic.InternalServerError,
    502: anthropic.InternalServerError,
    504: anthropic.GatewayTimeoutError,
}


def expect_error(family: str, status: int, fn: Callable[[], object]) -> tuple[BaseException, str]:
    """Run `fn`, which must raise the family's exception for `status`; returns it and its readable message."""
    with pytest.raises(Exception) as info:
        fn()
    exc = info.value
    if family == "openai":
        assert isinstance(exc, OPENAI_CLASSES[status]), f"{type(exc).__name__}: {exc}"
        assert isinstance(exc, openai.APIStatusError) and exc.status_code == status
        assert exc.response.headers.get("x-request-id"), "no x-request-id on the error response"
        message = exc.message
    elif family == "anthropic":
        assert isinstance(exc, ANTHROPIC_CLASSES[status]), f"{type(exc).__name__}: {exc}"
        assert isinstance(exc, anthropic.APIStatusError) and exc.status_code == status
        assert exc.response.headers.get("x-request-id"), "no x-request-id on the error response"
        message = str(exc)
    elif family == "gemini":
        expected = genai_errors.ClientError if status < 500 else genai_errors.ServerError
        assert isinstance(exc, expected), f"{type(exc).__name__}: {exc}"
        assert isinstance(exc, genai_errors.APIError) and exc.code == status
        message = str(exc.message or "")
    else:
        assert isinstance(exc, mistral_errors.SDKError), f"{type(exc).__name__}: {exc}"
        assert exc.status_code == status
        assert exc.raw_response.headers.get("x-request-id"), "no x-request-id on the error response"
        message = str(exc)
    assert message and len(message) < 2000, f"unreadable message: {message!r}"
    return exc, message


def assert_no_secret(e2e: E2E, text: str) -> None:
    assert "tg_" not in text, f"a gateway key is echoed: {text}"
    for value in e2e.mock.keys.values():
        assert value not in text, f"an upstream credential is echoed: {text}"


# --- 401 -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize(
    "case", ["wrong", "malformed", "missing", "expired", "proxy-key-on-provider", "provider-key-on-proxy"]
)
def test_bad_key_is_401(e2e: E2E, family: str, case: str) -> None:
    route = family
    key = {
        "wrong": generate_key().value,  # well-formed, unknown id
        "malformed": "sk-not-a-gateway-key",
        "missing": "",
        "expired": e2e.key(f"{family}-expired"),
        "proxy-key-on-provider": e2e.key(f"{family}-app"),
        "provider-key-on-proxy": e2e.key(family),
    }[case]
    if case == "provider-key-on-proxy":
        route = f"{family}-app"
    url = e2e.invoke_url(route)
    if case == "missing":
        # no X-API-Key at all; the SDK's own key argument is a placeholder (not a gateway key)
        fn: Callable[[], object] = {
            "openai": lambda: _openai_with(url, "", "placeholder").chat.completions.create(
                model="gpt-4o", messages=[{"role": "user", "content": "Hi"}]
            ),
            "anthropic": lambda: _anthropic_with(url, "", "placeholder").messages.create(
                model="claude-sonnet-4-5", max_tokens=64, messages=[{"role": "user", "content": "Hi"}]
            ),
            "gemini": lambda: _genai_without_key(url).models.generate_content(model="gemini-2.5-flash", contents="Hi"),
            "mistral": lambda: _mistral_without_key(url).chat.complete(
                model="mistral-small-latest", messages=[{"role": "user", "content": "Hi"}]
            ),
        }[family]
    else:
        fn = lambda: call(family, url, key)  # noqa: E731
    before = len(e2e.mock.requests())
    _, message = expect_error(family, 401, fn)
    assert "key" in message.lower(), f"the 401 message does not say what is wrong: {message}"
    assert_no_secret(e2e, message)
    assert len(e2e.mock.requests()) == before, "a request with a bad key reached the upstream"


def _genai_without_key(url: str) -> Any:
    from google import genai
    from google.genai import types as genai_types

    retry = genai_types.HttpRetryOptions(attempts=1)
    options = genai_types.HttpOptions(base_url=url, timeout=15000, retry_options=retry)
    client = genai.Client(api_key="placeholder", http_options=options)
    _KEEP.append(client)  # a collected genai Client closes its HTTP client under the running call
    return client


_KEEP: list[Any] = []


def _mistral_without_key(url: str) -> Any:
    import httpx2
    from mistralai.client import Mistral

    return Mistral(api_key="placeholder", server_url=url, client=httpx2.Client(timeout=15), timeout_ms=15000)


@pytest.mark.parametrize("family", FAMILIES)
def test_revoked_key_is_401_within_seconds(e2e: E2E, family: str) -> None:
    url, key = e2e.invoke_url(family), e2e.key(f"{family}-revoke")
    assert call(family, url, key)  # works before
    with Store.open(f"sqlite:///{e2e.db_path}") as store:
        store.revoke_key(key_id(key))
    deadline = time.monotonic() + 3.0
    while True:
        try:
            call(family, url, key)
        except Exception:
            break
        assert time.monotonic() < deadline, "the revoked key still works 3 s after revocation"
        time.sleep(0.1)
    expect_error(family, 401, lambda: call(family, url, key))
    assert call(family, url, e2e.key(family))  # other keys of the provider still work


def test_langchain_wrappers_raise_their_auth_errors(e2e: E2E) -> None:
    """LangChain re-raises the SDK's class (a subclass of it) for a gateway 401."""
    from langchain_core.messages import HumanMessage

    bad = generate_key().value
    with pytest.raises(openai.AuthenticationError):
        chat_openai(e2e.invoke_url("openai"), bad, "gpt-4o").invoke([HumanMessage(content="Hi")])
    with pytest.raises(anthropic.AuthenticationError):
        chat_anthropic(e2e.invoke_url("anthropic"), bad).invoke([HumanMessage(content="Hi")])
    with pytest.raises(Exception) as info:
        chat_gemini(e2e.invoke_url("gemini"), bad).invoke([HumanMessage(content="Hi")])
    cause: BaseException | None = info.value
    while cause is not None and not isinstance(cause, genai_errors.APIError):
        cause = cause.__cause__
    assert isinstance(cause, genai_errors.ClientError) and cause.code == 401, repr(info.value)


def test_azure_clients_get_401(e2e: E2E) -> None:
    from e2e_clients import azure_client

    for route, version in (("azure", "2024-10-21"), ("foundry", "2024-05-01-preview")):
        client = azure_client(e2e.invoke_url(route), generate_key().value, version)
        with pytest.raises(openai.AuthenticationError):
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}])


# --- key in a query parameter ----------------------------------------------------------------------


def test_key_in_query_parameter(e2e: E2E) -> None:
    url, key = e2e.invoke_url("openai-query"), e2e.key("openai-query")
    client = openai.OpenAI(
        api_key="unused", base_url=url + "/v1", default_query={"api_key": key}, timeout=15, max_retries=0
    )
    response = client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "What is WSO2? qparam-check"}]
    )
    assert response.choices[0].message.content == "Hello from the mock OpenAI API."
    upstream = [r for r in e2e.mock.requests("openai") if "qparam-check" in str(r["body"])]
    assert len(upstream) == 1
    assert "api_key" not in upstream[0]["query"] and key not in upstream[0]["query"]
    # X-API-Key is not where this route looks (the SDK key argument is not the gateway key here)
    header_client = _openai_with(url, key, "unused")
    expect_error(
        "openai",
        401,
        lambda: header_client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}]),
    )
    # nothing at all: the message says where the key goes
    raw = httpx.post(url + "/v1/chat/completions", json={"model": "gpt-4o", "messages": []}, timeout=15)
    assert raw.status_code == 401 and "api_key" in raw.json()["error"]["message"], raw.text
    # a wrong value in the query parameter
    wrong = openai.OpenAI(
        api_key="unused",
        base_url=url + "/v1",
        default_query={"api_key": generate_key().value},
        timeout=15,
        max_retries=0,
    )
    expect_error(
        "openai",
        401,
        lambda: wrong.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "Hi"}]),
    )


# --- gateway-made errors -----------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
def test_no_route_is_404(e2e: E2E, family: str) -> None:
    _, message = expect_error(family, 404, lambda: call(family, e2e.url + "/no-such-context", e2e.key(family)))
    assert_no_secret(e2e, message)


@pytest.mark.parametrize("family", FAMILIES)
def test_model_allow_list(e2e: E2E, family: str) -> None:
    url, key = e2e.invoke_url(f"r-{family}"), e2e.key(f"r-{family}")
    assert call(family, url, key, model=ALLOWED_MODELS[family])
    _, message = expect_error(family, 400, lambda: call(family, url, key))
    assert FAMILY_MODELS[family] in message, f"the 400 does not name the refused model: {message}"


@pytest.mark.parametrize("family", FAMILIES)
def test_body_too_large_is_413(e2e: E2E, family: str) -> None:
    url, key = e2e.invoke_url(f"r-{family}"), e2e.key(f"r-{family}")
    big = "word " * (RESTRICTED_MAX_BYTES // 4)
    before = len(e2e.mock.requests())
    _, message = expect_error(family, 413, lambda: call(family, url, key, prompt=big, model=ALLOWED_MODELS[family]))
    assert str(RESTRICTED_MAX_BYTES) in message or "large" in message.lower()
    assert len(e2e.mock.requests()) == before


@pytest.mark.parametrize("family", FAMILIES)
def test_malformed_json_is_400(e2e: E2E, family: str) -> None:
    path, _ = RAW_PATHS[family]
    response = httpx.post(
        e2e.invoke_url(family) + path,
        content=b'{"model": "x", "messages": [',
        headers={"X-API-Key": e2e.key(family), "content-type": "application/json"},
        timeout=15,
    )
    assert response.status_code == 400, response.text
    assert response.headers.get("x-request-id")
    error = response.json()
    assert "error" in error or error.get("object") == "error", error  # Mistral's shape is flat
    assert_no_secret(e2e, response.text)


@pytest.mark.parametrize("family", FAMILIES)
def test_upstream_unreachable_is_502(e2e: E2E, family: str) -> None:
    _, message = expect_error(
        family, 502, lambda: call(family, e2e.invoke_url(f"down-{family}"), e2e.key(f"down-{family}"))
    )
    assert_no_secret(e2e, message)
    assert "unreachable" in message.lower(), f"the 502 does not say the upstream is unreachable: {message}"
    assert "127.0.0.1" not in message, "the 502 reveals the upstream address"


@pytest.mark.parametrize("family", FAMILIES)
def test_upstream_timeout_is_504(e2e: E2E, family: str) -> None:
    started = time.monotonic()
    _, message = expect_error(
        family,
        504,
        lambda: call(family, e2e.invoke_url(f"slow-{family}"), e2e.key(f"slow-{family}"), prompt="Hi [mock:hang]"),
    )
    elapsed = time.monotonic() - started
    assert FIRST_BYTE_TIMEOUT_S * 0.8 <= elapsed < FIRST_BYTE_TIMEOUT_S + 4, f"504 after {elapsed:.2f}s"
    assert "time" in message.lower(), f"the 504 does not say the upstream timed out: {message}"
    assert_no_secret(e2e, message)


#: what each vendor mock says for a 429 (the gateway must pass it through as is)
MOCK_429 = {
    "openai": "Rate limit reached for requests",
    "anthropic": "Number of request tokens has exceeded your per-minute rate limit.",
    "gemini": "Resource has been exhausted",
    "mistral": "Requests rate limit exceeded",
}


@pytest.mark.parametrize("stream", [False, True], ids=["basic", "stream"])
@pytest.mark.parametrize("family", FAMILIES)
def test_upstream_error_passes_through(e2e: E2E, family: str, stream: bool) -> None:
    url, key = e2e.invoke_url(family), e2e.key(family)
    _, message = expect_error(family, 429, lambda: call(family, url, key, prompt="Hi [mock:error=429]", stream=stream))
    assert MOCK_429[family] in message, f"the upstream's own message was not passed through: {message}"
    _, message = expect_error(family, 500, lambda: call(family, url, key, prompt="Hi [mock:error=500]", stream=stream))
    assert_no_secret(e2e, message)


def test_upstream_error_body_and_headers_as_is(e2e: E2E) -> None:
    """Raw view: the upstream's status, body and retry-after reach the client unchanged."""
    path, body = RAW_PATHS["openai"]
    body = {**body, "messages": [{"role": "user", "content": "Hi [mock:error=429]"}]}
    response = httpx.post(
        e2e.invoke_url("openai") + path, json=body, headers={"X-API-Key": e2e.key("openai")}, timeout=15
    )
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["code"] == "rate_limit_exceeded" and error["type"] == "requests"
    assert response.headers.get("retry-after") == "1"
    assert response.headers.get("x-request-id")
    assert response.headers.get("x-upstream-request-id", "").startswith("req_")


@pytest.mark.parametrize("case", ["no-key", "bad-key", "no-route", "bad-json", "too-large", "unreachable"])
@pytest.mark.parametrize("family", FAMILIES)
def test_raw_error_responses_have_request_id_and_no_secret(e2e: E2E, family: str, case: str) -> None:
    path, body = RAW_PATHS[family]
    route = {"too-large": f"r-{family}", "unreachable": f"down-{family}"}.get(case, family)
    url = (e2e.url + "/no-such-context" if case == "no-route" else e2e.invoke_url(route)) + path
    headers = {"X-API-Key": e2e.key(route)}
    content: bytes | None = None
    if case == "no-key":
        headers = {}
    elif case == "bad-key":
        headers = {"X-API-Key": generate_key().value}
    elif case == "bad-json":
        content = b"{nope"
    elif case == "too-large":
        content = b'{"pad": "' + b"x" * (RESTRICTED_MAX_BYTES + 10) + b'"}'
    response = httpx.post(url, content=content, json=None if content else body, headers=headers, timeout=15)
    assert response.status_code >= 400
    assert response.headers.get("x-request-id"), f"{case}: no x-request-id"
    assert response.headers.get("content-type", "").startswith("application/json")
    assert response.json()
    assert_no_secret(e2e, response.text)
