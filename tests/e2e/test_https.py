"""HTTPS: a second gateway process started with --tls-cert/--tls-key (a self-signed certificate for
127.0.0.1 and localhost), and the openai SDK trusting that certificate getting a streamed answer.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import httpx2
import openai
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from e2e_harness import E2E, GatewayProcess, key_env


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def tls_gateway(e2e: E2E, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[GatewayProcess, Path]]:
    workdir = tmp_path_factory.mktemp("tollgate-tls")
    cert, key = self_signed(workdir)
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
