"""The checks of one SDK matrix run (DESIGN.md §2), shared by the current SDKs' matrix
(test_sdk_matrix.py) and the previous majors' (test_sdk_previous.py): the text the client got, the
OpenAI-style chunk rule, what reached the upstream (provider credential, never a gateway key) and
the usage row the gateway recorded, all exact.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from typing import Any

from e2e_clients import Result, Setup
from e2e_harness import E2E, MATRIX_PROVIDERS, key_id, timed, wait_usage

from tollgate.mock.text import count_words, prompt_tokens

#: the header each vendor mock expects its credential in, and the prefix of the value
UPSTREAM_CREDENTIAL = {
    "openai": ("authorization", "Bearer "),
    "mistral": ("authorization", "Bearer "),
    "anthropic": ("x-api-key", ""),
    "gemini": ("x-goog-api-key", ""),
    "azure": ("api-key", ""),
    "foundry": ("api-key", ""),
}
COUNT_REPLY = "1 2 3 4 5"
#: setups whose SDK exposes the response headers: the gateway's x-request-id must be there
EXPOSES_REQUEST_ID = {
    "openai-OpenAI",
    "mistral-OpenAI",
    "azure-AzureOpenAI",
    "foundry-AzureOpenAI",
    "anthropic-Anthropic",
    "gemini-genai",
}


def upstream_request(e2e: E2E, vendor: str, nonce: str) -> dict[str, Any]:
    found = [r for r in e2e.mock.requests(vendor) if nonce in str(r["body"])]
    assert len(found) == 1, f"expected exactly one upstream {vendor} request carrying {nonce}, got {len(found)}"
    return found[0]


def expected_prompt_tokens(vendor: str, body: dict[str, Any]) -> int:
    if vendor == "gemini":
        return prompt_tokens({"contents": body.get("contents"), "systemInstruction": body.get("systemInstruction")})
    return prompt_tokens(body)


def assert_no_client_key_upstream(e2e: E2E, request: dict[str, Any]) -> None:
    blob = json.dumps(request["headers"]) + request["query"]
    assert "tg_" not in blob, f"a gateway key reached the upstream: {request['headers']} ?{request['query']}"
    for value in e2e.topo.keys.values():
        assert value not in blob and value not in request["body"]


def check_matrix_run(e2e: E2E, setup: Setup, mode: str, via: str, call: Callable[[str, str, str], Result]) -> None:
    """One matrix run through `call(url, key, prompt)` (in this interpreter or another SDK environment):
    the client's text, its chunks, what reached the upstream and the usage row, all exact."""
    route = setup.provider if via == "provider" else f"{setup.provider}-app"
    url, key = e2e.invoke_url(route), e2e.key(route)
    vendor = MATRIX_PROVIDERS[setup.provider][1]
    nonce = "ref" + secrets.token_hex(4)
    if mode == "basic":
        prompt, expected = f"What is WSO2? {nonce}", f"Hello from the mock {setup.label} API."
    else:
        prompt, expected = f"Count from 1 to 5. {nonce}", COUNT_REPLY

    with timed() as window:
        result = call(url, key, prompt)

    # 1. the text is what the mock sent (a stream: its pieces, in order, one per upstream chunk)
    assert result.text == expected
    if mode == "stream":
        assert len(result.pieces) >= 2, f"the stream arrived in one piece: {result.pieces}"
        # 2. no `choices: []` chunk unless the client asked for usage. Azure's own prompt-filter chunk
        #    (`prompt_filter_results`, no usage) is passed through by design (azure_openai.py; the
        #    guide's loops guard `if chunk.choices`); a usage-only chunk must never leak unasked.
        for chunk in result.empty_choice_chunks:
            if setup.asks_stream_usage:
                continue
            assert chunk.get("usage") is None, f"usage-only chunk leaked to a client that did not ask: {chunk}"
            assert vendor in ("azure", "foundry") and chunk.get("prompt_filter_results"), (
                f"unexpected chunk with empty choices: {chunk}"
            )

    # 3. the upstream got the provider's credential, never a gateway key
    upstream = upstream_request(e2e, vendor, nonce)
    header, prefix = UPSTREAM_CREDENTIAL[vendor]
    assert upstream["headers"].get(header) == prefix + e2e.mock.keys[vendor]
    assert_no_client_key_upstream(e2e, upstream)
    body = json.loads(upstream["body"])

    # 4. the usage row: tokens as the mock counted them, models, proxy, key
    proxy = route if via == "proxy" else None
    rows = wait_usage(e2e.db_path, window[0], window[1], provider=setup.provider, proxy=proxy)
    assert len(rows) == 1, f"expected one usage row for {route} in the request's window, got {rows}"
    row = rows[0]
    if setup.id in EXPOSES_REQUEST_ID:
        assert result.request_id, "no x-request-id header on the response"
    if result.request_id is not None:
        assert row["request_id"] == result.request_id
    prompt_count = expected_prompt_tokens(vendor, body)
    completion_count = count_words(expected)
    assert row["status"] == 200
    assert bool(row["is_streaming"]) is (mode == "stream")
    assert row["key_id"] == key_id(key)
    assert row["request_model"] == setup.model
    assert row["response_model"] == setup.model
    assert (row["prompt_tokens"], row["completion_tokens"], row["total_tokens"]) == (
        prompt_count,
        completion_count,
        prompt_count + completion_count,
    ), f"usage row {row} does not match the mock's counts"
