"""The YAML loader: kinds, multi-document files, directories, and errors naming file, document, field, reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from tollgate.errors import ResourceValidationError, ResourceValidationGroupError
from tollgate.resources.loader import load_documents, parse_document
from tollgate.resources.models import LLMProvider, LLMProxy, Secret

GOOD = """\
apiVersion: tollgate.dev/v1
kind: LLMProvider
metadata: {name: openai}
spec:
  template: openai
  context: /openai/
  credential: {secret: openai-key}
---
---
apiVersion: tollgate.dev/v1
kind: LLMProxy
metadata: {name: team}
spec: {provider: openai, context: /team}
"""


def test_multi_document_file(tmp_path: Path) -> None:
    file = tmp_path / "a.yaml"
    file.write_text(GOOD)
    provider, proxy = load_documents(file)
    assert isinstance(provider, LLMProvider) and provider.spec.context == "/openai"
    assert isinstance(proxy, LLMProxy)


def test_directory_sorted_yaml_and_yml_only(tmp_path: Path) -> None:
    (tmp_path / "b.yml").write_text(GOOD.split("---")[-1])
    (tmp_path / "a.yaml").write_text(GOOD.split("---")[0])
    (tmp_path / "c.yaml").write_text(
        "apiVersion: tollgate.dev/v1\nkind: Secret\nmetadata: {name: openai-key}\nspec: {fromEnv: OPENAI_KEY}\n"
    )
    (tmp_path / "notes.txt").write_text("ignored")
    kinds = [type(r) for r in load_documents(tmp_path)]
    assert kinds == [LLMProvider, LLMProxy, Secret]


def test_field_error_names_file_document_kind_name_field_and_reason(tmp_path: Path) -> None:
    file = tmp_path / "providers.yaml"
    file.write_text(GOOD.replace("context: /openai/", "context: /openai/\n  security: {location: body}"))
    with pytest.raises(ResourceValidationError) as caught:
        load_documents(file)
    error = caught.value
    assert error.document == f"{file} document 1 (LLMProvider 'openai')"
    assert error.field == "spec.security.location"
    assert error.reason == "input should be 'header' or 'query'"
    assert str(error) == f"{file} document 1 (LLMProvider 'openai'): spec.security.location: {error.reason}"


def test_all_errors_of_all_documents_are_collected(tmp_path: Path) -> None:
    file = tmp_path / "bad.yaml"
    file.write_text(
        """\
apiVersion: tollgate.dev/v1
kind: LLMProvider
metadata: {name: Bad_Name}
spec: {template: openai, context: nope, tempalte: x, upstreamUrl: "ftp://x"}
---
apiVersion: tollgate.dev/v1
kind: Gizmo
metadata: {name: g}
---
apiVersion: tollgate.dev/v2
kind: LLMProxy
metadata: {name: p}
---
- just a list
---
apiVersion: tollgate.dev/v1
kind: LLMProxy
metadata: {name: p}
spec: {context: /p}
"""
    )
    with pytest.raises(ResourceValidationGroupError) as caught:
        load_documents(file)
    found = {(e.document.removeprefix(f"{file} "), e.field): e.reason for e in caught.value.errors}
    assert found == {
        ("document 1 (LLMProvider 'Bad_Name')", "metadata.name"): (
            "must be a name of lower-case letters, digits and '-' (1-63 chars, not starting or ending in '-')"
        ),
        ("document 1 (LLMProvider 'Bad_Name')", "spec.context"): (
            "must look like '/name' or '/a/b' (letters, digits, '.', '_', '~', '-')"
        ),
        ("document 1 (LLMProvider 'Bad_Name')", "spec.upstreamUrl"): "must be an absolute http:// or https:// URL",
        ("document 1 (LLMProvider 'Bad_Name')", "spec.tempalte"): (
            "unknown field (not part of the LLMProvider schema; check the spelling)"
        ),
        ("document 2 (Gizmo 'g')", "kind"): (
            "unknown kind 'Gizmo' (expected one of ProviderTemplate, LLMProvider, LLMProxy, Secret, APIKey, Gateway)"
        ),
        ("document 3 (LLMProxy 'p')", "apiVersion"): "unsupported version 'tollgate.dev/v2' (use 'tollgate.dev/v1')",
        ("document 4", ""): "a document must be a mapping, not a list",
        ("document 5 (LLMProxy 'p')", "spec.provider"): "is required",
    }
    assert str(caught.value).startswith("8 validation errors:\n")


def test_yaml_syntax_error_names_the_line(tmp_path: Path) -> None:
    file = tmp_path / "broken.yaml"
    file.write_text("kind: LLMProvider\nspec: [unclosed\n")
    with pytest.raises(ResourceValidationError, match=r"broken.yaml: not valid YAML: .* at line \d+"):
        load_documents(file)


def test_errors_of_several_files_and_duplicates(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD.split("---")[-1])
    (tmp_path / "c.yaml").write_text("kind: LLMProxy\n")
    with pytest.raises(ResourceValidationGroupError) as caught:
        load_documents(tmp_path)
    messages = [str(e) for e in caught.value.errors]
    assert any("c.yaml document 1 (LLMProxy): apiVersion: is required" in m for m in messages)
    assert any("LLMProxy 'team': metadata.name: defined more than once" in m for m in messages)


def test_missing_path() -> None:
    with pytest.raises(ResourceValidationError, match="no such file or directory"):
        load_documents(Path("/nonexistent/tollgate.yaml"))


def test_parse_document_without_kind() -> None:
    with pytest.raises(ResourceValidationError) as caught:
        parse_document({"apiVersion": "tollgate.dev/v1", "metadata": {"name": "x"}}, "api request")
    assert (caught.value.document, caught.value.field) == ("api request ('x')", "kind")


def test_secret_values_are_not_echoed_in_errors() -> None:
    with pytest.raises(ResourceValidationError) as caught:
        parse_document(
            {
                "apiVersion": "tollgate.dev/v1",
                "kind": "Secret",
                "metadata": {"name": "s"},
                "spec": {"value": "sk-VERY-SECRET", "fromEnv": "X"},
            },
            "doc",
        )
    assert "sk-VERY-SECRET" not in str(caught.value) and caught.value.field == "spec"
