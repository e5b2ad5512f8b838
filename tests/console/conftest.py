"""Fixtures of the console's browser tests: one Tollgate (both planes) over the mock vendors, users of
each role, and a headless Debian chromium driven by Playwright; screenshots of the screens for review."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.console.browser_support import ARTIFACTS, require_chromium
from tests.console.console_harness import TollgateProcess
from tollgate.mock import MockServer


@pytest.fixture(scope="session")
def chromium_path() -> str:
    return require_chromium()


@pytest.fixture(scope="session")
def mock_vendors() -> Iterator[MockServer]:
    with MockServer() as server:
        yield server


@pytest.fixture(scope="session")
def tollgate(chromium_path: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TollgateProcess]:
    process = TollgateProcess(tmp_path_factory.mktemp("console"))
    try:
        process.wait_ready()
        process.create_users()
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def browser(chromium_path: str) -> Iterator[object]:
    """One browser per module. Playwright's sync API keeps an event loop running in this thread while
    it is open: kept for the whole session, it made every later asyncio test of the suite fail with
    "Runner.run() cannot be called from a running event loop"."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for stale in ARTIFACTS.glob("FAILED-*"):  # a previous run's failures: only this run's are shown
        stale.unlink()
    return ARTIFACTS


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keep each phase's report on the item, so the page fixture can save the failing screen."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"report_{report.when}", report)
