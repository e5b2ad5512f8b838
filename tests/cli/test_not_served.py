"""What a gateway reports it cannot serve shows in `tollgate get gateways` and `tollgate describe`."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from tests.cli.conftest import LiveAPI
from tollgate.cli import main

PROVIDER = """
apiVersion: tollgate.dev/v1
kind: LLMProvider
metadata: {name: private}
spec: {template: openai, context: /private, upstreamUrl: "http://127.0.0.1:9"}
"""
REASON = "spec.caBundle: file '/etc/ssl/gone.pem' does not exist"


def test_get_gateways_and_describe_show_the_reason(api: LiveAPI, tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(PROVIDER)
    runner = CliRunner()
    assert runner.invoke(main, ["apply", "-f", str(tmp_path / "p.yaml")]).exit_code == 0
    store = api._store
    store.register_gateway("default", "http://127.0.0.1:8080")
    store.heartbeat("default", "degraded")
    store.report_problems("default", {("LLMProvider", "private"): REASON})
    table = runner.invoke(main, ["get", "gateways"]).stdout.splitlines()
    assert table[0].split() == ["NAME", "BASE", "URL", "STATUS", "LAST", "SEEN", "NOT", "SERVED"]
    assert table[1].split()[:3] == ["default", "http://127.0.0.1:8080", "degraded"]
    assert table[1].endswith(f"LLMProvider/private: {REASON}")
    described = runner.invoke(main, ["describe", "provider", "private"]).stdout
    assert f"  default  revision 1  http://127.0.0.1:8080/private  NOT SERVED: {REASON}\n" in described


def test_apply_refuses_a_missing_ca_bundle_naming_resource_and_field(api: LiveAPI, tmp_path: Path) -> None:
    missing = tmp_path / "gone.pem"
    (tmp_path / "p.yaml").write_text(PROVIDER.replace('upstreamUrl: "http://127.0.0.1:9"', f"caBundle: {missing}"))
    result = CliRunner().invoke(main, ["apply", "-f", str(tmp_path / "p.yaml")])
    assert result.exit_code == 1
    assert f"LLMProvider 'private': spec.caBundle: file '{missing}' does not exist" in result.output
    assert CliRunner().invoke(main, ["get", "providers", "-o", "json"]).stdout.strip() == "[]"
