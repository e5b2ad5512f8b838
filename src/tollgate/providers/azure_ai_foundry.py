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
from tollgate.providers.azure_openai import AzureOpenAIProvider
from tollgate.providers.base import RequestFacts, RequestRewrite
from tollgate.resources.models import TemplateSpec
from tollgate.types import JSONObject

__all__ = ["TEMPLATE", "AzureAIFoundryProvider"]

TEMPLATE = AZURE_TEMPLATE.model_copy(deep=True)

_DEPLOYMENT_PATH = re.compile(r"^/openai/deployments/([^/]+)/(.+)$")


class AzureAIFoundryProvider(AzureOpenAIProvider):
    """Maps Azure OpenAI deployment paths onto the Foundry model-inference API.

    Usage is not injected: the model-inference API reports usage in its last stream chunk and
    does not document `stream_options` for every model it serves.
    """

    def __init__(self, name: str = "azure-ai-foundry", spec: TemplateSpec = TEMPLATE) -> None:
        super().__init__(name, spec, inject_usage=False)

    def reads_body(self, method: str, path: str) -> bool:
        """Deployment paths need the body (to fill `model`); others as the template says."""
        if method == "POST" and _DEPLOYMENT_PATH.match(path) is not None:
            return True
        return super().reads_body(method, path)

    def rewrite_request(
        self, path: str, query: str, body: JSONObject | None, facts: RequestFacts
    ) -> RequestRewrite | None:
        match = _DEPLOYMENT_PATH.match(path)
        if match is None:
            return None
        deployment = self.path_model(path) or match.group(1)
        new_body: bytes | None = None
        if body is not None and body.get("model") is None:
            filled = dict(body)
            filled["model"] = deployment
            new_body = orjson.dumps(filled)
        return RequestRewrite(path="/models/" + match.group(2), body=new_body)
