"""The Azure OpenAI template: OpenAI behaviour, `api-key` credential, model = deployment in the path.

AzureChatOpenAI sends `"model": null`, so the model comes from `/openai/deployments/{dep}/...`.
Real Azure streams open with a `choices: []` prompt-filter chunk: it passes through unchanged (the
documented loops guard for it); only the usage chunk the gateway itself asked for is dropped.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from tollgate.providers.base import RequestFacts, UpstreamRequest
from tollgate.providers.openai import TEMPLATE as OPENAI_TEMPLATE
from tollgate.providers.openai import OpenAIBackend, OpenAIClientAPI, OpenAIPassThrough
from tollgate.providers.template import Template
from tollgate.resources.models import CredentialPlacement, ModelLocation, TemplateSpec

__all__ = ["DEPLOYMENT_PATTERN", "TEMPLATE", "AzureOpenAIPassThrough", "api_version", "azure_openai_template"]

#: the deployment segment of Azure's data-plane paths; group 1 is the model the client asked for
DEPLOYMENT_PATTERN = r"^/openai/deployments/([^/]+)/"

TEMPLATE = OPENAI_TEMPLATE.model_copy(
    update={
        "base_url": None,
        "credential": CredentialPlacement.model_validate({"location": "header", "name": "api-key", "prefix": ""}),
        "client_key_headers": ["api-key", "authorization"],
        "request_model": ModelLocation.model_validate({"bodyField": "model", "pathPattern": DEPLOYMENT_PATTERN}),
    },
    deep=True,
)

#: first api-version whose chat completions accept `stream_options` (older ones answer 400)
_STREAM_OPTIONS_SINCE = "2024-09-01"


def api_version(query: str) -> str | None:
    """The `api-version` query parameter, or None."""
    if "api-version" not in query:
        return None
    values = parse_qs(query).get("api-version")
    return values[0] if values else None


class AzureOpenAIPassThrough(OpenAIPassThrough):
    """The OpenAI pass-through with Azure's api-version check.

    Usage is injected only for api-versions that know `stream_options` (2024-09-01 and later,
    or the version-less `/openai/v1` API), so older clients do not get a 400 from Azure.
    """

    __slots__ = ()

    def should_inject_usage(self, req: UpstreamRequest, facts: RequestFacts) -> bool:
        if not super().should_inject_usage(req, facts):
            return False
        version = api_version(req.query)
        return version is None or version >= _STREAM_OPTIONS_SINCE


def azure_openai_template(name: str = "azure-openai", spec: TemplateSpec = TEMPLATE) -> Template:
    """The OpenAI client API (deployment in the path) and an OpenAI backend with Azure's credential."""
    backend = OpenAIBackend(name, spec, pass_through=AzureOpenAIPassThrough(name))
    return Template(name, OpenAIClientAPI(name, spec), backend)
