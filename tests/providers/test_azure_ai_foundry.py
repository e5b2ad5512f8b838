"""Tests for providers/azure_ai_foundry.py: deployment paths mapped onto /models with the model in the body."""

from __future__ import annotations

import orjson

from tollgate.providers.azure_ai_foundry import DeploymentTranslation, azure_ai_foundry_template
from tollgate.providers.base import RequestFacts
from tollgate.types import JSONObject

from .chunking import translate

FOUNDRY = azure_ai_foundry_template()
CLIENT = FOUNDRY.client
BACKEND = FOUNDRY.backend
PATH = "/openai/deployments/Mistral-Large-2411/chat/completions"
QUERY = "api-version=2024-05-01-preview"


def test_template_identity() -> None:
    assert CLIENT.name == BACKEND.name == "azure-ai-foundry"
    assert BACKEND.default_base_url is None
    assert CLIENT.client_key_headers == (b"api-key", b"authorization")
    assert BACKEND.upstream_credential("f-key") == ([(b"api-key", b"f-key")], [])


def test_null_model_is_filled_from_the_deployment_and_the_path_mapped() -> None:
    body: JSONObject = {"model": None, "stream": True, "messages": [{"role": "user", "content": "hi"}]}
    facts = CLIENT.request_facts(PATH, QUERY, body)
    assert facts == RequestFacts(model="Mistral-Large-2411", is_streaming=True)
    translation, req = translate(BACKEND.pass_through, PATH, QUERY, body, facts)
    assert isinstance(translation, DeploymentTranslation)
    assert req.path == "/models/chat/completions"
    assert req.query == QUERY  # api-version passes unchanged
    assert orjson.loads(req.body) == {**body, "model": "Mistral-Large-2411"}
    stream = b'data: {"choices":[],"usage":{"prompt_tokens":1}}\n\n'
    assert translation.stream_chunk(stream) is stream  # no usage was injected, so none is hidden
    absent: JSONObject = {"messages": []}
    _, req = translate(BACKEND.pass_through, PATH, QUERY, absent, CLIENT.request_facts(PATH, QUERY, absent))
    assert orjson.loads(req.body)["model"] == "Mistral-Large-2411"


def test_a_named_model_keeps_the_body_bytes() -> None:
    body: JSONObject = {"model": "Mistral-Large-2411", "messages": []}
    translation, req = translate(BACKEND.pass_through, PATH, QUERY, body, CLIENT.request_facts(PATH, QUERY, body))
    assert translation is not None
    assert req.path == "/models/chat/completions" and req.body == orjson.dumps(body)


def test_model_inference_paths_pass_unchanged() -> None:
    body: JSONObject = {"model": "DeepSeek-R1", "messages": []}
    facts = CLIENT.request_facts("/models/chat/completions", QUERY, body)
    assert facts.model == "DeepSeek-R1"
    assert CLIENT.reads_body("POST", "/models/chat/completions")
    assert CLIENT.reads_body("POST", PATH)
    assert translate(BACKEND.pass_through, "/models/chat/completions", QUERY, body, facts)[0] is None
