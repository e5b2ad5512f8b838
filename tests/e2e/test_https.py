"""HTTPS: a second gateway process started with --tls-cert/--tls-key (a self-signed certificate for
127.0.0.1 and localhost), and the openai SDK trusting that certificate getting a streamed answer.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import httpx2
import openai
import pytest
from e2e_harness import E2E, GatewayProcess, key_env

from tollgate.mock.certs import self_signed_cert


@pytest.fixture(scope="module")
def tls_gateway(e2e: E2E, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, Path]]:
    workdir = tmp_path_factory.mktemp("tollgate-tls")
    cert, key = self_signed_cert(workdir)
    # same resources and keys as the main gateway, its own database
    gateway = GatewayProcess(
        e2e.workdir / "config", workdir / "tls.db", key_env(e2e.topo), tls=(cert, key), log_name="tls-gateway"
    )
    try:
        gateway.wait_ready()
        yield gateway, cert
    finally:
        gateway.stop()


def test_openai_sdk_streams_over_https(e2e: E2E, tls_gateway: tuple[GatewayProcess, Path]) -> None:
    gateway, cert = tls_gateway
    assert gateway.url.startswith("https://")
    key = e2e.key("openai-app")
    trust = ssl.create_default_context(cafile=str(cert))
    client = openai.OpenAI(
        api_key=key,
        base_url=gateway.url + e2e.topo.contexts["openai-app"] + "/v1",
        default_headers={"X-API-Key": key},
        timeout=15,
        max_retries=0,
        http_client=httpx2.Client(verify=trust, timeout=15),
    )
    stream = client.chat.completions.create(
        model="gpt-4o", stream=True, messages=[{"role": "user", "content": "Count from 1 to 5."}]
    )
    pieces = [c.choices[0].delta.content for c in stream if c.choices and c.choices[0].delta.content]
    assert "".join(pieces) == "1 2 3 4 5" and len(pieces) == 5


def test_https_refuses_an_untrusted_client_setup(tls_gateway: tuple[GatewayProcess, Path]) -> None:
    """Sanity: it really is TLS with our certificate (default trust store rejects it; plain HTTP fails)."""
    gateway, _ = tls_gateway
    with pytest.raises(httpx.ConnectError):
        httpx.get(gateway.url + "/openai/v1/models", timeout=5)
    with pytest.raises(httpx.HTTPError):
        httpx.get(gateway.url.replace("https://", "http://") + "/openai/v1/models", timeout=5)
