"""Pages in a real browser: Playwright's sync API driving Debian's Chromium (/usr/bin/chromium), headless.

Every test under this folder is marked ``browser`` (select with ``-m browser``) and ``e2e``. The local
stack is the e2e ``stack`` fixture (tests/e2e/conftest.py). When Chromium cannot start, the tests are
skipped with the reason, except in CI (``CI=true``), where a suite without its browser must fail.

Screenshots go to ``$BROWSER_SCREENSHOTS``, which tests/conftest.py sets once per run (before xdist
starts its workers) to ``.meetbridge/screenshots/<UTC timestamp>`` unless it is already set, and names
in the terminal summary.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Callable, Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from browser_support import CHROMIUM, in_ci
from e2e_support import WAIT_SECONDS
from playwright.sync_api import Browser, Error as PlaywrightError, Page, Route, expect, sync_playwright

# This machine's network is closed: without the background-networking flags Chromium keeps trying
# Google's hosts (updates, sync, field trials) at every start. --no-sandbox only where Chromium
# refuses its sandbox, as root.
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    *(["--no-sandbox"] if os.geteuid() == 0 else []),
]
# The bar the pages are held to: no serious or critical violation; moderate and minor ones do not fail a page.
FAILING_IMPACTS = ("serious", "critical")
HERE = Path(__file__).resolve().parent
# Every URL but the loopback ones (the stack and its sandboxes listen on 127.0.0.1).
OFFSITE = re.compile(r"^(?!(https?|wss?)://(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(/|$))")
# The stack's functions start cold and share two cores with the rest of the run: a page, a click's answer
# or an expected state gets as long as the e2e helpers wait for anything, not Playwright's 5 s.
expect.set_options(timeout=WAIT_SECONDS * 1000)


# Before pytest's own -m selection reads the marks.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            launched, reason = None, f"Chromium did not start from {CHROMIUM} (Debian: apt-get install chromium; " \
                                     f"`make test` installs it): {exc}"
        # Outside the except block, so that the reason is the whole report.
        if launched is None:
            if in_ci():
                pytest.fail(reason, pytrace=False)
            pytest.skip(reason)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def new_page(browser: Browser) -> Iterator[Callable[..., Page]]:
    """``new_page(width=375, height=800)``: a Page in a context of its own (no cookies shared), closed
    at the end of the test. A request the page makes beyond loopback is refused and fails the test."""
    contexts = []
    offsite: list[str] = []

    def refuse(route: Route) -> None:
        offsite.append(route.request.url)
        route.abort("blockedbyclient")

    def make(width: int = 375, height: int = 800) -> Page:
        context = browser.new_context(viewport={"width": width, "height": height})
        context.set_default_timeout(WAIT_SECONDS * 1000)
        context.route(OFFSITE, refuse)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()
    assert not offsite, f"the pages asked for something beyond loopback: {offsite}"


@pytest.fixture(scope="session")
def screenshot_folder() -> Path:
    folder = Path(os.environ["BROWSER_SCREENSHOTS"])
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
def shoot(screenshot_folder: Path) -> Callable[[Page, str], Path]:
    """``shoot(page, name)``: a full-page PNG ``<name>@<width>px.png`` in the run's screenshot folder."""

    def take(page: Page, name: str) -> Path:
        width = page.viewport_size["width"] if page.viewport_size else 0
        path = screenshot_folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}@{width}px.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take


@pytest.fixture(scope="session")
def axe() -> Axe:
    return Axe()


@pytest.fixture
def check_accessible(axe: Axe) -> Callable[..., None]:
    """``check_accessible(page, name=None)``: axe-core over the page as it is now; fails naming each
    serious or critical violation (rule, impact, what it means, the elements it found)."""

    def check(page: Page, name: str | None = None) -> None:
        violations = [v for v in axe.run(page).response["violations"] if v["impact"] in FAILING_IMPACTS]
        if violations:
            lines = [
                f"- {v['id']} ({v['impact']}): {v['help']}; targets: "
                + ", ".join(" ".join(map(str, node["target"])) for node in v["nodes"])
                for v in violations
            ]
            pytest.fail(
                f"axe-core found serious or critical violations on {name or page.url}:\n" + "\n".join(lines),
                pytrace=False,
            )

    return check
