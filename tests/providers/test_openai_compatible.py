"""Tests for providers/openai_compatible.py: the OpenAI adapter reused without a default upstream."""

from __future__ import annotations

import orjson

from tollgate.providers.openai import TEMPLATE as OPENAI_TEMPLATE
from tollgate.providers.openai import IncludeUsageTranslation
from tollgate.providers.openai_compatible import TEMPLATE, openai_compatible_template
from tollgate.types import JSONObject

from .chunking import translate

TEMPLATE_ = openai_compatible_template()
CLIENT = TEMPLATE_.client
BACKEND = TEMPLATE_.backend


def test_no_default_base_url_but_openai_behaviour() -> None:
    assert CLIENT.name == "openai-compatible"
    assert BACKEND.default_base_url is None
    assert TEMPLATE.usage == OPENAI_TEMPLATE.usage
    assert OPENAI_TEMPLATE.base_url == "https://api.openai.com"  # the copy did not change the original
    body: JSONObject = {"model": "llama3", "stream": True}
    facts = CLIENT.request_facts("/v1/chat/completions", "", body)
    translation, req = translate(BACKEND.pass_through, "/v1/chat/completions", "", body, facts)
    assert isinstance(translation, IncludeUsageTranslation)
    assert orjson.loads(req.body)["stream_options"] == {"include_usage": True}
