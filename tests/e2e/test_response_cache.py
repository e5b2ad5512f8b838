"""`response-cache` across two real gateway processes sharing one Redis, with the real OpenAI and
Anthropic SDKs: an answer (a stream, a whole message, a similar prompt) cached by one node is a hit on
the other and never reaches the mock vendor."""

from __future__ import annotations

import time
from pathlib import Path

import anthropic
import openai
from policy_harness import PolicySite, gateways, redis_prefix
from tests.redis_support import require_shared_redis

from tollgate.mock import MockServer

CACHE = {
    "name": "response-cache",
    "params": {
        "store": "redis",
        "ttl": "10m",
        "semantic": {"provider": "embed", "model": "text-embedding-3-small", "dimensions": 128, "threshold": 0.85},
    },
}


def chat_calls(mock: MockServer) -> int:
    return sum(1 for r in mock.requests() if str(r["vendor_path"]).endswith(("/chat/completions", "/messages")))


def stored(gw_url: str) -> None:
    time.sleep(0.3)  # the first node stores the answer after completion, off the request path


def test_a_node_answers_from_what_another_node_cached(mock_server: MockServer, tmp_path: Path) -> None:
    site = PolicySite(mock_server).provider("embed", "openai")
    site.provider("openai", "openai").proxy("cached", "openai", [CACHE])
    site.provider("anthropic", "anthropic").proxy("cached-claude", "anthropic", [CACHE])
    env = {"TOLLGATE_REDIS_URL": require_shared_redis(), "TOLLGATE_REDIS_PREFIX": redis_prefix()}
    mock_server.clear()
    with gateways(site, tmp_path, count=2, env=env) as (gw1, gw2):
        oa = [
            openai.OpenAI(base_url=gw.url + "/p/cached/v1", api_key=site.keys["cached"], max_retries=0)
            for gw in (gw1, gw2)
        ]
        texts, states = [], []
        for client in oa:
            with client.chat.completions.with_streaming_response.create(
                model="gpt-4o", messages=[{"role": "user", "content": "count from 1 to 30"}], stream=True
            ) as raw:
                states.append(raw.headers["x-tollgate-cache"])
                texts.append("".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices))
            stored(gw1.url)
        assert states == ["miss", "hit"]
        assert texts[0] == texts[1] == " ".join(str(i) for i in range(1, 31))
        similar = oa[1].chat.completions.with_raw_response.create(
            model="gpt-4o", messages=[{"role": "user", "content": "Count from 1 to 30!"}], stream=True
        )
        assert similar.headers["x-tollgate-cache"] == "hit"
        assert float(similar.headers["x-tollgate-cache-similarity"]) > 0.99  # same words
        assert chat_calls(mock_server) == 1

        claude = [
            anthropic.Anthropic(base_url=gw.url + "/p/cached-claude", api_key=site.keys["cached-claude"], max_retries=0)
            for gw in (gw1, gw2)
        ]
        answers = []
        for client in claude:
            raw = client.messages.with_raw_response.create(
                model="claude-sonnet-4-5", max_tokens=100, messages=[{"role": "user", "content": "Tell me about Redis"}]
            )
            answers.append((raw.headers["x-tollgate-cache"], raw.parse().content[0].text))  # type: ignore[union-attr]
            stored(gw1.url)
        assert [a[0] for a in answers] == ["miss", "hit"] and answers[0][1] == answers[1][1]
        assert chat_calls(mock_server) == 2
