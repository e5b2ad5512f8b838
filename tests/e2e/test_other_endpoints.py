"""Vendor endpoints beyond chat, through the gateway with the real SDKs: models, embeddings, the
Responses API (basic and streamed) and token counting. Metered where the vendor reports usage."""

from __future__ import annotations

import time

import anthropic
import openai
from e2e_harness import E2E, timed, wait_usage
from google import genai
from google.genai import types as genai_types


def _openai(e2e: E2E) -> openai.OpenAI:
    key = e2e.topo.key_for("openai")
    return openai.OpenAI(
        api_key=key,
        base_url=e2e.invoke_url("openai") + "/v1",
        default_headers={"X-API-Key": key},
        max_retries=0,
        timeout=20,
    )


def test_openai_models_list_and_embeddings_are_metered(e2e: E2E) -> None:
    client = _openai(e2e)
    assert [m.id for m in client.models.list().data]
    with timed() as window:
        emb = client.embeddings.create(model="text-embedding-3-small", input="hello gateway world")
    assert emb.data and emb.data[0].embedding
    rows = wait_usage(e2e.db_path, window[0], window[1], provider="openai", proxy=None)
    embedding_rows = [r for r in rows if r["path"].endswith("/v1/embeddings")]
    assert embedding_rows and embedding_rows[-1]["prompt_tokens"] == emb.usage.prompt_tokens


def test_openai_responses_api_basic_and_stream(e2e: E2E) -> None:
    client = _openai(e2e)
    with timed() as window:
        response = client.responses.create(model="gpt-4o", input="Count from 1 to 5.")
    assert response.output_text == "1 2 3 4 5"
    rows = wait_usage(e2e.db_path, window[0], window[1], provider="openai", proxy=None)
    assert rows[-1]["total_tokens"] == response.usage.total_tokens
    with timed() as window, client.responses.stream(model="gpt-4o", input="Count from 1 to 5.") as stream:
        text = "".join(e.delta for e in stream if e.type == "response.output_text.delta")
        final = stream.get_final_response()
    assert text == "1 2 3 4 5"
    deadline = time.monotonic() + 5
    while True:
        rows = wait_usage(e2e.db_path, window[0], window[1], provider="openai", proxy=None)
        streamed = [r for r in rows if r["is_streaming"]]
        if streamed or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert streamed and streamed[-1]["total_tokens"] == final.usage.total_tokens


def test_anthropic_count_tokens_and_models(e2e: E2E) -> None:
    key = e2e.topo.key_for("anthropic")
    client = anthropic.Anthropic(api_key=key, base_url=e2e.invoke_url("anthropic"), max_retries=0, timeout=20)
    counted = client.messages.count_tokens(
        model="claude-sonnet-4-5", messages=[{"role": "user", "content": "How many tokens is this?"}]
    )
    assert counted.input_tokens > 0
    assert [m.id for m in client.models.list().data]


def test_gemini_count_tokens_and_embeddings(e2e: E2E) -> None:
    options = genai_types.HttpOptions(
        base_url=e2e.invoke_url("gemini"), headers={"X-API-Key": e2e.topo.key_for("gemini")}, timeout=20_000
    )
    client = genai.Client(api_key="placeholder", http_options=options)
    assert (client.models.count_tokens(model="gemini-2.5-flash", contents="How many tokens?").total_tokens or 0) > 0
    embedded = client.models.embed_content(model="text-embedding-004", contents="hello")
    assert embedded.embeddings and embedded.embeddings[0].values
