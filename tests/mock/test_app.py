"""The control API, the recorder, the MockServer helper and the `tollgate mock` command."""

from __future__ import annotations

import httpx
import pytest
from click.testing import CliRunner

from tollgate.cli.mock import mock as mock_command
from tollgate.cli.mock import parse_keys
from tollgate.mock import DEFAULT_KEYS, MockServer, MockState
from tollgate.mock.behaviour import BehaviourError, resolve
from tollgate.mock.text import prompt_tokens, reply_text, split_chunks


def test_requests_are_readable_and_clearable_over_http(mock: MockServer) -> None:
    http = httpx.Client(base_url=mock.base_url)
    http.post(
        "/gemini/v1/models/gemini-2.5-flash:generateContent?key=" + mock.keys["gemini"],
        headers={"X-API-Key": "client-key"},
        json={"contents": [{"parts": [{"text": "hi"}]}]},
    )
    http.get("/mistral/v1/models", headers={"authorization": "Bearer " + mock.keys["mistral"]})
    recorded = http.get("/_mock/requests").json()
    assert [r["vendor"] for r in recorded] == ["gemini", "mistral"]
    assert recorded[0]["query"] == "key=" + mock.keys["gemini"]
    assert recorded[0]["headers"]["x-api-key"] == "client-key"
    assert http.get("/_mock/requests", params={"vendor": "mistral"}).json()[0]["method"] == "GET"
    assert http.delete("/_mock/requests").status_code == 204
    assert http.get("/_mock/requests").json() == []


def test_unknown_vendor_path_is_a_404_in_the_vendor_shape(mock: MockServer) -> None:
    response = httpx.get(mock.url("anthropic") + "/v1/nothing")
    assert response.status_code == 404 and response.json()["type"] == "error"
    assert mock.requests("anthropic")[0]["vendor_path"] == "/v1/nothing"


def test_recording_is_bounded() -> None:
    state = MockState(max_recorded=2)
    for n in range(3):
        state.record("openai", "GET", "/openai/v1/models", "", {}, str(n).encode())
    assert [r["body"] for r in state.requests()] == ["1", "2"]


def test_server_exposes_urls_keys_and_custom_keys() -> None:
    with MockServer(keys={"openai": "custom"}) as server:
        assert server.port > 0
        assert server.url("azure") == f"http://127.0.0.1:{server.port}/azure"
        assert server.keys == {**DEFAULT_KEYS, "openai": "custom"}
        assert httpx.get(server.base_url + "/_mock/health").json()["status"] == "ok"
        denied = httpx.get(server.url("openai") + "/v1/models", headers={"authorization": "Bearer mock-openai-key"})
        assert denied.status_code == 401
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.base_url + "/_mock/health")


def test_default_keys_never_look_like_real_openai_keys() -> None:
    assert not any(key.startswith("sk-") for key in DEFAULT_KEYS.values())


def test_reply_text_usage_and_chunking_are_deterministic() -> None:
    assert reply_text("OpenAI", "Count from 3 to 1 [mock:chunks=2]") == "3 2 1"
    assert reply_text("Gemini", "What is WSO2?") == "Hello from the mock Gemini API."
    assert reply_text("X", "hi", min_words=8).split()[-1] == "word8"
    assert "".join(split_chunks("a b c d e", 2)) == "a b c d e"
    assert len(split_chunks("a b c d e", None)) == 5
    body = {
        "model": "m",
        "system": "be nice",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "a b c"}]}],
    }
    assert prompt_tokens(body) == 5


def test_directives_parse_and_validate() -> None:
    behaviour = resolve({"delay": 5}, "x [mock:error=429] [mock:chunk-delay=20] [mock:break]")
    assert (behaviour.error, behaviour.delay_ms, behaviour.chunk_delay_ms, behaviour.breaks) == (429, 5, 20, True)
    with pytest.raises(BehaviourError, match="nope"):
        resolve({}, "[mock:nope]")


def test_cli_parses_keys_and_has_help() -> None:
    assert parse_keys(("openai=abc", "gemini=g=1")) == {"openai": "abc", "gemini": "g=1"}
    result = CliRunner().invoke(mock_command, ["--help"])
    assert result.exit_code == 0 and "--key" in result.output
    bad = CliRunner().invoke(mock_command, ["--key", "nobody=x", "--port", "0"])
    assert bad.exit_code != 0 and "VENDOR=VALUE" in bad.output
