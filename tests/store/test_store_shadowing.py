"""Deploy-time shadowing check: a context nested in another on the same gateway needs allowShadowing."""

from __future__ import annotations

import pytest
from store_docs import doc, provider

from tollgate.errors import ResourceConflictError
from tollgate.resources.contexts import Placed, ancestors, first_conflict, is_inside, shadowing_conflict
from tollgate.store import Store


def test_a_nested_context_is_refused_on_the_same_gateway(store: Store) -> None:
    store.apply_documents([provider("mockai", "/mockai")], gateway="g1", create_gateway=True)
    revision = store.current_revision()
    with pytest.raises(ResourceConflictError) as caught:
        store.apply_documents([provider("sneaky", "/mockai/v1")], gateway="g1", create_gateway=True)
    assert str(caught.value) == (
        "LLMProvider 'sneaky': spec.context '/mockai/v1' of LLMProvider 'sneaky' is inside '/mockai' of "
        "LLMProvider 'mockai' on gateway 'g1' and would take part of its traffic; set spec.allowShadowing: "
        "true on LLMProvider 'sneaky' if that is intended"
    )
    assert store.current_revision() == revision  # nothing applied
    assert set(store.load_resource_set("g1").providers) == {"mockai"}


def test_the_outer_one_deployed_later_is_refused_too(store: Store) -> None:
    store.apply_documents([provider("inner", "/a/b")], gateway="g1", create_gateway=True)
    with pytest.raises(ResourceConflictError, match=r"set spec\.allowShadowing: true on LLMProvider 'inner'"):
        store.apply_documents([provider("outer", "/a")], gateway="g1", create_gateway=True)


def test_allow_shadowing_on_the_inner_one_permits_it(store: Store) -> None:
    store.apply_documents([provider("mockai", "/mockai")], gateway="g1", create_gateway=True)
    store.apply_documents([provider("v1", "/mockai/v1", allowShadowing=True)], gateway="g1", create_gateway=True)
    assert set(store.load_resource_set("g1").providers) == {"mockai", "v1"}
    # the flag on the outer one does not count: the inner one is what takes the traffic
    store.apply_documents([provider("outer", "/z", allowShadowing=True)], gateway="g2", create_gateway=True)
    with pytest.raises(ResourceConflictError):
        store.apply_documents([provider("inner", "/z/v1")], gateway="g2", create_gateway=True)


def test_other_gateways_and_lookalike_prefixes_do_not_conflict(store: Store) -> None:
    store.apply_documents([provider("mockai", "/mockai")], gateway="g1", create_gateway=True)
    store.apply_documents([provider("other", "/mockai/v1")], gateway="g2", create_gateway=True)
    store.apply_documents([provider("two", "/mockai2")], gateway="g1", create_gateway=True)
    proxy = doc("LLMProxy", "team", provider="mockai", context="/mockai-team")
    store.apply_documents([proxy], gateway="g1", create_gateway=True)
    assert set(store.load_resource_set("g1").providers) == {"mockai", "two"}


def test_pure_helpers() -> None:
    assert ancestors("/a/b/c") == ["/a", "/a/b"]
    assert ancestors("/a") == []
    assert is_inside("/a/b", "/a") and not is_inside("/ab", "/a") and not is_inside("/a", "/a")
    new = Placed("LLMProxy", "x", "/a/b")
    assert shadowing_conflict(new, [Placed("LLMProvider", "y", "/c")], "g") is None
    assert shadowing_conflict(new, [Placed("LLMProxy", "x", "/a")], "g") is None  # itself
    assert shadowing_conflict(Placed("LLMProxy", "x", "/a/b", True), [Placed("LLMProvider", "y", "/a")], "g") is None


def test_nesting_inside_one_batch_is_refused_and_checked_once(store: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    import tollgate.store.apply as applying

    batches: list[int] = []
    real = applying.first_conflict

    def counting(new: list[Placed], others: list[Placed], gateway: str) -> str | None:
        batches.append(len(new))
        return real(new, others, gateway)

    monkeypatch.setattr(applying, "first_conflict", counting)
    store.apply_documents([provider(f"p{i}", f"/p{i}") for i in range(20)], gateway="g1", create_gateway=True)
    assert batches == [20]  # one check for the whole batch, not one per document
    with pytest.raises(ResourceConflictError, match=r"'/x/y' of LLMProvider 'b' is inside '/x' of LLMProvider 'a'"):
        store.apply_documents([provider("a", "/x"), provider("b", "/x/y")], gateway="g1")


def test_first_conflict_finds_ancestors_and_descendants() -> None:
    others = [
        Placed("LLMProvider", "a", "/a"),
        Placed("LLMProvider", "deep", "/b/c/d"),
        Placed("LLMProvider", "z", "/b0"),
    ]
    assert first_conflict([Placed("LLMProxy", "n", "/b")], others, "g") is not None  # /b/c/d is inside
    assert first_conflict([Placed("LLMProxy", "n", "/a/x/y")], others, "g") is not None  # inside /a
    assert first_conflict([Placed("LLMProxy", "n", "/b/c")], others, "g") is not None
    assert first_conflict([Placed("LLMProxy", "n", "/c"), Placed("LLMProxy", "m", "/a-b")], others, "g") is None
    assert first_conflict([Placed("LLMProxy", "n", "/b/c/d/e", allow_shadowing=True)], others, "g") is None
