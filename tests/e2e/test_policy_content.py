"""Guardrails and prompt policies through the real SDKs: an Anthropic stream cut by a guardrail (the SDK
raises), 422s in each client's shape, PII restored in a streamed answer whose placeholders are cut
across events, a bring-your-own guardrail that is slow or down, and a decorated prompt as the mock
vendor received it."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import anthropic
import openai
import pytest
from e2e_harness import free_port
from policy_harness import BackgroundLoop, PolicySite, gateways

from tollgate.mock import MockServer
from tollgate.mock.guard_service import GuardService


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "user", "content": text}]


@pytest.fixture(scope="module")
def guard_loop() -> Iterator[BackgroundLoop]:
    loop = BackgroundLoop()
    yield loop
    loop.close()


def test_anthropic_stream_cut_by_a_guardrail(mock_server: MockServer, tmp_path: Path) -> None:
    site = PolicySite(mock_server).provider("anthropic", "anthropic")
    site.proxy(
        "guarded",
        "anthropic",
        [
            {"name": "regex-guardrail", "params": {"patterns": ["forbidden"], "side": "response"}},
        ],
    )
    with gateways(site, tmp_path) as (gw,):
        client = anthropic.Anthropic(base_url=gw.url + "/p/guarded", api_key=site.keys["guarded"], max_retries=0)
        received: list[str] = []
        with (
            pytest.raises(anthropic.APIStatusError) as info,
            client.messages.stream(
                model="claude-haiku-4-5",
                max_tokens=100,
                messages=ask("[mock:echo] [mock:chunk-delay=10] one two three forbidden four five"),  # type: ignore[arg-type]
            ) as stream,
        ):
            for text in stream.text_stream:
                received.append(text)
        assert "".join(received) == "one two three"
        assert "forbidden" not in "".join(received)
        assert (
            "Blocked by guardrail 'regex-guardrail' on the response: the text matches pattern 0 ('forbidden')."
            in str(info.value)
        )
        # not streamed: a 422 the SDK raises as UnprocessableEntityError, with the assessment
        with pytest.raises(anthropic.UnprocessableEntityError) as whole:
            client.messages.create(
                model="claude-haiku-4-5", max_tokens=100, messages=ask("[mock:echo] a forbidden answer")
            )  # type: ignore[arg-type]
        assert whole.value.body["error"]["message"] == (  # type: ignore[index]
            "Blocked by guardrail 'regex-guardrail' on the response: the text matches pattern 0 ('forbidden')."
        )
        # an answer that passes streams whole
        with client.messages.stream(
            model="claude-haiku-4-5", max_tokens=100, messages=ask("[mock:echo] all fine here")
        ) as ok:  # type: ignore[arg-type]
            assert "".join(ok.text_stream) == "all fine here"


def test_request_guardrail_422_in_openai_shape(mock_server: MockServer, tmp_path: Path) -> None:
    site = PolicySite(mock_server).provider("openai", "openai")
    site.proxy("words", "openai", [{"name": "word-count-guardrail", "params": {"max": 5}}])
    site.proxy("answers", "openai", [{"name": "word-count-guardrail", "params": {"max": 3, "side": "response"}}])
    with gateways(site, tmp_path) as (gw,):
        answers = openai.OpenAI(base_url=gw.url + "/p/answers/v1", api_key=site.keys["answers"], max_retries=0)
        received: list[str] = []
        with pytest.raises(openai.APIError) as cut:
            for chunk in answers.chat.completions.create(
                model="gpt-4o", messages=ask("[mock:echo] [mock:chunk-delay=10] one two three four five"), stream=True
            ):
                if chunk.choices and chunk.choices[0].delta.content:
                    received.append(chunk.choices[0].delta.content)
        assert "".join(received) == "one two three"
        assert (
            cut.value.message
            == "Blocked by guardrail 'word-count-guardrail' on the response: 4 words, allowed at most 3."
        )
        client = openai.OpenAI(base_url=gw.url + "/p/words/v1", api_key=site.keys["words"], max_retries=0)
        assert client.chat.completions.create(model="gpt-4o", messages=ask("short question")).choices
        before = len(mock_server.state.requests("openai"))
        with pytest.raises(openai.UnprocessableEntityError) as info:
            client.chat.completions.create(model="gpt-4o", messages=ask("one two three four five six"))
        assert info.value.body["message"] == (  # type: ignore[index]
            "Blocked by guardrail 'word-count-guardrail' on the request: 6 words, allowed at most 5."
        )
        assert info.value.body["code"] == "guardrail_violation"  # type: ignore[index]
        assert len(mock_server.state.requests("openai")) == before  # never sent upstream


def test_pii_restored_in_a_stream_with_placeholders_cut_across_events(mock_server: MockServer, tmp_path: Path) -> None:
    site = PolicySite(mock_server).provider("openai", "openai")
    site.proxy("pii", "openai", [{"name": "pii-masking", "params": {"entities": ["email", "phone"]}}])
    with gateways(site, tmp_path) as (gw,):
        client = openai.OpenAI(base_url=gw.url + "/p/pii/v1", api_key=site.keys["pii"], max_retries=0)
        mock_server.state.clear_requests()
        stream = client.chat.completions.create(
            model="gpt-4o",
            messages=ask("[mock:echo] [mock:chunk-chars=5] mail ann@example.com or +1 415-555-0100 now"),
            stream=True,
        )
        pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
        assert "".join(pieces) == "mail ann@example.com or +1 415-555-0100 now"
        upstream = json.loads(mock_server.state.requests("openai")[-1]["body"])  # type: ignore[arg-type]
        sent = upstream["messages"][0]["content"]
        assert "ann@example.com" not in sent and "415-555" not in sent
        assert "[PII_EMAIL_1]" in sent and "[PII_PHONE_1]" in sent
        # the vendor streamed "mail [PII_EMAIL_1] or ..." in 5-character pieces ("mail ", "[PII_", "EMAIL",
        # "_1] o", ...): each placeholder was cut across events and held back until complete
        assert pieces == ["mail ", "ann@example.com o", "r ", "+1 415-555-0100", " now"]
        # not streamed
        answer = client.chat.completions.create(model="gpt-4o", messages=ask("[mock:echo] write to ann@example.com"))
        assert answer.choices[0].message.content == "write to ann@example.com"


def test_byo_guardrail_slow_or_down(mock_server: MockServer, tmp_path: Path, guard_loop: BackgroundLoop) -> None:
    service = guard_loop.run(GuardService(delay=3.0).start())
    down = f"http://127.0.0.1:{free_port()}/check"
    site = PolicySite(mock_server).provider("openai", "openai")
    site.proxy("byo-open", "openai", [{"name": "http-guardrail", "params": {"url": service.url, "timeout": 0.5}}])
    site.proxy(
        "byo-closed",
        "openai",
        [{"name": "http-guardrail", "params": {"url": service.url, "timeout": 0.5, "failOpen": False}}],
    )
    site.proxy("byo-down", "openai", [{"name": "http-guardrail", "params": {"url": down, "failOpen": False}}])
    try:
        with gateways(site, tmp_path) as (gw,):

            def client(name: str) -> openai.OpenAI:
                return openai.OpenAI(base_url=gw.url + f"/p/{name}/v1", api_key=site.keys[name], max_retries=0)

            assert client("byo-closed").chat.completions.create(model="gpt-4o", messages=ask("fine")).choices
            with pytest.raises(openai.UnprocessableEntityError) as refused:
                client("byo-closed").chat.completions.create(model="gpt-4o", messages=ask("a bad idea"))
            assert refused.value.body["message"].endswith("the guardrail service says: contains 'bad'.")  # type: ignore[index]
            # slow: over the timeout, fail open lets it through, fail closed refuses
            assert client("byo-open").chat.completions.create(model="gpt-4o", messages=ask("slow bad")).choices
            with pytest.raises(openai.UnprocessableEntityError) as slow:
                client("byo-closed").chat.completions.create(model="gpt-4o", messages=ask("slow"))
            assert slow.value.body["message"].endswith("the guardrail service did not answer.")  # type: ignore[index]
            with pytest.raises(openai.UnprocessableEntityError):
                client("byo-down").chat.completions.create(model="gpt-4o", messages=ask("anything"))
            assert "no verdict" in gw.stderr_path.read_text()
    finally:
        guard_loop.run(service.stop())


def test_decorated_prompt_seen_by_the_mock_upstream(mock_server: MockServer, tmp_path: Path) -> None:
    deco = {"system": "Answer in British English.", "append": [{"role": "user", "content": "Be brief."}]}
    site = PolicySite(mock_server).provider("openai", "openai").provider("anthropic", "anthropic")
    site.proxy("deco", "openai", [{"name": "prompt-decorator", "params": deco}])
    site.proxy("deco-a", "anthropic", [{"name": "prompt-decorator", "params": deco}])
    with gateways(site, tmp_path) as (gw,):
        mock_server.state.clear_requests()
        oc = openai.OpenAI(base_url=gw.url + "/p/deco/v1", api_key=site.keys["deco"], max_retries=0)
        list(oc.chat.completions.create(model="gpt-4o", messages=ask("hello"), stream=True))
        body = json.loads(mock_server.state.requests("openai")[-1]["body"])  # type: ignore[arg-type]
        assert body["messages"] == [
            {"role": "system", "content": "Answer in British English."},
            {"role": "user", "content": "hello"},
            {"role": "user", "content": "Be brief."},
        ]
        ac = anthropic.Anthropic(base_url=gw.url + "/p/deco-a", api_key=site.keys["deco-a"], max_retries=0)
        ac.messages.create(model="claude-haiku-4-5", max_tokens=20, system="Client rules.", messages=ask("hello"))  # type: ignore[arg-type]
        body = json.loads(mock_server.state.requests("anthropic")[-1]["body"])  # type: ignore[arg-type]
        assert body["system"] == "Answer in British English.\n\nClient rules."
        assert body["messages"] == [{"role": "user", "content": "hello"}, {"role": "user", "content": "Be brief."}]


def test_gemini_stream_cut_by_a_word_limit(mock_server: MockServer, tmp_path: Path) -> None:
    from e2e_clients import genai_client
    from google.genai import errors as genai_errors

    site = PolicySite(mock_server).provider("gemini", "gemini")
    site.proxy("gem", "gemini", [{"name": "word-count-guardrail", "params": {"max": 3, "side": "response"}}])
    with gateways(site, tmp_path) as (gw,):
        client = genai_client(gw.url + "/p/gem", site.keys["gem"])
        received: list[str] = []
        with pytest.raises(genai_errors.ClientError) as info:
            for chunk in client.models.generate_content_stream(
                model="gemini-2.5-flash", contents="[mock:echo] [mock:chunk-delay=10] one two three four five"
            ):
                received.append(chunk.text or "")
        assert "".join(received).split() == ["one", "two", "three"]
        assert info.value.code == 422
        assert "4 words, allowed at most 3." in str(info.value)


def test_network_guardrails_enforce_on_answers(
    mock_server: MockServer, tmp_path: Path, guard_loop: BackgroundLoop
) -> None:
    """URL and bring-your-own checks on answers: a JSON answer is refused with a 422 before anything is
    sent; a stream gets all its text, then an in-band error instead of its final event (the SDK
    raises); a slow or absent service is bounded by the timeout and fails open or closed."""
    service = guard_loop.run(GuardService(delay=3.0).start())
    down = f"http://127.0.0.1:{free_port()}/check"

    def byo(url: str, fail_open: bool) -> list[dict[str, object]]:
        params = {"url": url, "side": "response", "timeout": 0.5, "failOpen": fail_open}
        return [{"name": "http-guardrail", "params": params}]

    site = PolicySite(mock_server).provider("openai", "openai").provider("anthropic", "anthropic")
    site.proxy("closed", "openai", byo(service.url, False)).proxy("open", "openai", byo(service.url, True))
    site.proxy("down-closed", "openai", byo(down, False)).proxy("down-open", "openai", byo(down, True))
    site.proxy("urls", "openai", [{"name": "url-guardrail", "params": {"side": "response", "timeout": 1}}])
    site.proxy("claude", "anthropic", byo(service.url, False))
    bad = "Blocked by guardrail 'http-guardrail' on the response: the guardrail service says: contains 'bad'."
    try:
        with gateways(site, tmp_path) as (gw,):

            def client(name: str) -> openai.OpenAI:
                return openai.OpenAI(base_url=gw.url + f"/p/{name}/v1", api_key=site.keys[name], max_retries=0)

            fine = client("closed").chat.completions.create(model="gpt-4o", messages=ask("[mock:echo] a fine answer"))
            assert fine.choices[0].message.content == "a fine answer"
            assert {"side": "response", "text": "a fine answer"} in service.seen
            with pytest.raises(openai.UnprocessableEntityError) as refused:
                client("closed").chat.completions.create(model="gpt-4o", messages=ask("[mock:echo] a bad answer"))
            assert refused.value.body["message"] == bad  # type: ignore[index]
            # a stream: every piece arrives, then the SDK raises instead of seeing [DONE]
            pieces: list[str] = []
            with pytest.raises(openai.APIError) as cut:
                stream = client("closed").chat.completions.create(
                    model="gpt-4o", messages=ask("[mock:echo] [mock:chunks=4] a bad streamed answer"), stream=True
                )
                for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        pieces.append(chunk.choices[0].delta.content)
            assert "".join(pieces) == "a bad streamed answer" and len(pieces) == 4
            assert bad in str(cut.value)
            passed = client("closed").chat.completions.create(
                model="gpt-4o", messages=ask("[mock:echo] [mock:chunks=4] a good streamed answer"), stream=True
            )
            assert "".join(c.choices[0].delta.content or "" for c in passed if c.choices) == "a good streamed answer"
            # slow service: cut at the 0.5 s timeout, not the 3 s it takes
            started = time.monotonic()
            with pytest.raises(openai.UnprocessableEntityError) as slow:
                client("closed").chat.completions.create(model="gpt-4o", messages=ask("[mock:echo] slow bad"))
            assert time.monotonic() - started < 2.5
            assert slow.value.body["message"].endswith("the guardrail service did not answer.")  # type: ignore[index]
            slow_open = client("open").chat.completions.create(model="gpt-4o", messages=ask("[mock:echo] slow bad"))
            assert slow_open.choices[0].message.content == "slow bad"
            # service down
            with pytest.raises(openai.UnprocessableEntityError):
                client("down-closed").chat.completions.create(model="gpt-4o", messages=ask("[mock:echo] hello"))
            with pytest.raises(openai.APIError) as down_cut:
                list(
                    client("down-closed").chat.completions.create(
                        model="gpt-4o", messages=ask("[mock:echo] hello"), stream=True
                    )
                )
            assert "the guardrail service did not answer" in str(down_cut.value)
            opened = client("down-open").chat.completions.create(model="gpt-4o", messages=ask("[mock:echo] hello"))
            assert opened.choices[0].message.content == "hello"
            assert "no verdict (ConnectError); failing closed" in gw.stderr_path.read_text()
            # URL check on the answer (".invalid" never resolves)
            with pytest.raises(openai.UnprocessableEntityError) as dead:
                client("urls").chat.completions.create(
                    model="gpt-4o", messages=ask("[mock:echo] see http://tollgate-test.invalid/page")
                )
            assert dead.value.body["message"] == (  # type: ignore[index]
                "Blocked by guardrail 'url-guardrail' on the response: "
                "1 of 1 URL(s) do not work: http://tollgate-test.invalid/page."
            )
            # Anthropic: the SDK raises on the error event that replaces message_stop
            ac = anthropic.Anthropic(base_url=gw.url + "/p/claude", api_key=site.keys["claude"], max_retries=0)
            received: list[str] = []
            with (
                pytest.raises(anthropic.APIStatusError) as ainfo,
                ac.messages.stream(
                    model="claude-haiku-4-5",
                    max_tokens=100,
                    messages=ask("[mock:echo] [mock:chunks=3] bad news here"),  # type: ignore[arg-type]
                ) as astream,
            ):
                for text in astream.text_stream:
                    received.append(text)
            assert "".join(received) == "bad news here"
            assert bad in str(ainfo.value)
    finally:
        guard_loop.run(service.stop())
