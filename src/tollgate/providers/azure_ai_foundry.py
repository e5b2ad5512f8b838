"""The Azure AI Foundry template: Azure OpenAI paths in, the Foundry model-inference API out.

Clients call `/openai/deployments/{dep}/chat/completions?api-version=2024-05-01-preview` exactly as
for Azure OpenAI; the Foundry upstream serves `/models/chat/completions` with the model in the
body. So the path is mapped and the deployment becomes the body `model` when the client sent none
(AzureChatOpenAI sends `null`). Requests already on `/models/...` pass unchanged.
"""

from __future__ import annotations

import re

import orjson

from tollgate.providers.azure_openai import TEMPLATE as AZURE_TEMPLATE
from tollgate.providers.base import IdentityTranslation, RequestFacts, Translation, UpstreamRequest
from tollgate.providers.openai import OpenAIBackend, OpenAIClientAPI
from tollgate.providers.template import Template
from tollgate.resources.models import TemplateSpec
from tollgate.types import JSONObject

__all__ = ["TEMPLATE", "DeploymentTranslation", "FoundryPassThrough", "azure_ai_foundry_template"]

TEMPLATE = AZURE_TEMPLATE.model_copy(deep=True)

_DEPLOYMENT_PATH = re.compile(r"^/openai/deployments/([^/]+)/(.+)$")


class DeploymentTranslation(IdentityTranslation):
    """Maps one deployment-path request onto `/models/...`, naming the deployment as the body model
    when the client sent none (AzureChatOpenAI sends `null`). The response passes untouched."""

    __slots__ = ("_deployment", "_rest")

    def __init__(self, deployment: str, rest: str) -> None:
        self._deployment = deployment
        self._rest = rest

    def request(self, req: UpstreamRequest, body: JSONObject | None) -> None:
        req.path = "/models/" + self._rest
        if body is not None and body.get("model") is None:
            filled = dict(body)
            filled["model"] = self._deployment
            req.body = orjson.dumps(filled)


class FoundryPassThrough:
    """The translator for Azure-deployment clients of a Foundry model-inference backend.

    Usage is not injected: the model-inference API reports usage in its last stream chunk and
    does not document `stream_options` for every model it serves. Requests already on `/models/...`
    need no translation.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = f"{name}->{name}"

    def start(self, facts: RequestFacts, req: UpstreamRequest, body: JSONObject | None) -> Translation | None:
        match = _DEPLOYMENT_PATH.match(req.path)
        if match is None:
            return None
        return DeploymentTranslation(facts.model or match.group(1), match.group(2))


def azure_ai_foundry_template(name: str = "azure-ai-foundry", spec: TemplateSpec = TEMPLATE) -> Template:
    """Azure OpenAI's client API in front of a Foundry model-inference backend."""
    backend = OpenAIBackend(name, spec, pass_through=FoundryPassThrough(name))
    return Template(name, OpenAIClientAPI(name, spec), backend)
