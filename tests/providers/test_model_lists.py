"""model_lists.py: each vendor's models answer in each client API's shape, and its backend calls."""

from __future__ import annotations

import orjson
import pytest

from tollgate.errors import GatewayError
from tollgate.providers.model_lists import MODELS_PATH, backend_models_request, lists_models, translate_models

ANTHROPIC_LIST = {
    "data": [
        {"type": "model", "id": "claude-a", "display_name": "Claude A", "created_at": "2025-09-29T00:00:00Z"},
        {"type": "model", "id": "claude-b", "display_name": "Claude B", "created_at": "not a date"},
    ],
    "has_more": False,
}
GEMINI_LIST = {"models": [{"name": "models/gemini-x", "displayName": "Gemini X"}, {"name": ""}, "junk"]}
OPENAI_LIST = {
    "object": "list",
    "data": [{"id": "gpt-x", "object": "model", "created": 1715367049, "owned_by": "system"}],
}


def test_paths() -> None:
    assert MODELS_PATH.match("/v1/models") is not None
    match = MODELS_PATH.match("/v1/models/claude-a")
    assert match is not None and match.group(1) == "claude-a"
    assert MODELS_PATH.match("/v1/models/a/b") is None and MODELS_PATH.match("/v1/chat/completions") is None
    assert backend_models_request("anthropic", None) == ("/v1/models", "limit=1000")
    assert backend_models_request("gemini", "gemini x/y") == ("/v1beta/models/gemini%20x%2Fy", "")
    assert backend_models_request("mistral", None) == ("/v1/models", "")
    assert not lists_models("azure-openai") and not lists_models("azure-ai-foundry") and lists_models("gemini")


def test_anthropic_list_for_an_openai_client() -> None:
    out = orjson.loads(translate_models("openai", "anthropic", orjson.dumps(ANTHROPIC_LIST), single=False))
    assert out == {
        "object": "list",
        "data": [
            {"id": "claude-a", "object": "model", "created": 1759104000, "owned_by": "anthropic"},
            {"id": "claude-b", "object": "model", "created": 0, "owned_by": "anthropic"},
        ],
    }


def test_gemini_list_for_an_anthropic_client_skips_what_is_not_a_model() -> None:
    out = orjson.loads(translate_models("anthropic", "gemini", orjson.dumps(GEMINI_LIST), single=False))
    assert out == {
        "data": [{"type": "model", "id": "gemini-x", "display_name": "Gemini X", "created_at": "1970-01-01T00:00:00Z"}],
        "has_more": False,
        "first_id": "gemini-x",
        "last_id": "gemini-x",
    }


def test_openai_model_for_an_anthropic_client() -> None:
    body = orjson.dumps(OPENAI_LIST["data"][0])  # type: ignore[index]
    out = orjson.loads(translate_models("anthropic", "openai", body, single=True))
    assert out == {"type": "model", "id": "gpt-x", "display_name": "gpt-x", "created_at": "2024-05-10T18:50:49Z"}
    empty = orjson.loads(translate_models("anthropic", "openai", orjson.dumps({"data": []}), single=False))
    assert empty == {"data": [], "has_more": False, "first_id": None, "last_id": None}


@pytest.mark.parametrize(("body", "single"), [(b"[1]", False), (b"not json", False), (b'{"object": "x"}', True)])
def test_a_body_that_is_no_models_answer_is_a_502(body: bytes, single: bool) -> None:
    with pytest.raises(GatewayError) as caught:
        translate_models("openai", "anthropic", body, single=single)
    assert caught.value.status == 502
