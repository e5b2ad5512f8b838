"""What reached the upstreams, over every request the session sent through the gateway: the
provider's credential in the vendor's own header, never a gateway key or a client credential.

pytest runs the modules of this directory in name order, so this one sees the traffic of all the
others when the whole suite runs; it also sends one request per vendor itself, so it is never vacuous.
Every request the mock recorded came through the gateway (no test calls the mock directly).
"""

from __future__ import annotations

import json

from e2e_clients import setups
from e2e_harness import AZURE_DEPLOYMENT, E2E, FOUNDRY_DEPLOYMENT

#: vendor -> (credential header, value prefix); the other client credential headers must be absent
CREDENTIAL = {
    "openai": ("authorization", "Bearer "),
    "mistral": ("authorization", "Bearer "),
    "anthropic": ("x-api-key", ""),
    "gemini": ("x-goog-api-key", ""),
    "azure": ("api-key", ""),
    "foundry": ("api-key", ""),
}
CLIENT_CREDENTIAL_HEADERS = {"authorization", "x-api-key", "api-key", "x-goog-api-key"}
#: one native-SDK setup per vendor
AUDIT_SETUPS = [
    s
    for s in setups(AZURE_DEPLOYMENT, FOUNDRY_DEPLOYMENT)
    if s.id
    in {
        "openai-OpenAI",
        "anthropic-Anthropic",
        "gemini-genai",
        "mistral-Mistral",
        "azure-AzureOpenAI",
        "foundry-AzureOpenAI",
    }
]


def test_upstream_never_sees_a_gateway_key(e2e: E2E) -> None:
    for setup in AUDIT_SETUPS:
        for route in (setup.provider, f"{setup.provider}-app"):
            assert setup.basic(e2e.invoke_url(route), e2e.key(route), "What is WSO2? audit").text
    requests = e2e.mock.requests()
    assert {r["vendor"] for r in requests} >= set(CREDENTIAL)
    key_values = list(e2e.topo.keys.values())
    problems: list[str] = []
    for request in requests:
        vendor = str(request["vendor"])
        headers = request["headers"]
        assert isinstance(headers, dict)
        where = f"{request['method']} {request['path']}?{request['query']}"
        blob = json.dumps(headers) + str(request["query"])
        if "tg_" in blob or any(value in blob or value in str(request["body"]) for value in key_values):
            problems.append(f"{where}: a gateway key reached the upstream")
        header, prefix = CREDENTIAL[vendor]
        if headers.get(header) != prefix + e2e.mock.keys[vendor]:
            problems.append(f"{where}: {header} is not the provider credential")
        for other in CLIENT_CREDENTIAL_HEADERS - {header}:
            if other in headers:
                problems.append(f"{where}: client credential header {other!r} was forwarded")
        if "key=" in str(request["query"]) or "api_key" in str(request["query"]):
            problems.append(f"{where}: a key in the upstream query")
    assert not problems, "\n".join(problems[:30])
