"""What the browser tests share: where Chromium is, whether this is CI, a provider of a test's own, and
the check that a page fits its width."""

import os
import uuid
from pathlib import Path

# Debian's chromium package; the Makefile's CHROMIUM, which `make test` installs when it is missing.
CHROMIUM = Path("/usr/bin/chromium")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")


def new_provider(stack) -> str:
    """A provider of the calling test's own, so that connecting or disconnecting its meeting account leaves
    the demo tenant's company account as the other e2e tests on the session stack expect it."""
    provider_id = f"prov-{uuid.uuid4().hex[:10]}"
    resp = stack.admin("PUT", f"providers/{provider_id}",
                       {"name": "Robin Browser", "email": f"{provider_id}@example.com", "timezone": "Europe/Berlin"})
    assert resp.status in (200, 201), resp
    return provider_id


def assert_no_horizontal_scroll(page) -> None:
    scroll_width, client_width = page.evaluate(
        "[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")
    assert scroll_width <= client_width, f"{page.url} scrolls sideways: {scroll_width} px of content in {client_width} px"
