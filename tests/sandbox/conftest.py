"""One Zoom sandbox per test module, on a loopback port; nothing here reaches the internet."""

import httpx2
import pytest
from zoom_sandbox_support import REDIRECT_URI

from infra.sandboxes.zoom import ZoomSandbox


@pytest.fixture(scope='module')
def zoom_options():
    """A module overrides this to start its sandbox differently (e.g. with a QPS limit)."""
    return {}


@pytest.fixture(scope='module')
def zoom(zoom_options):
    sandbox = ZoomSandbox(redirect_uris=(REDIRECT_URI,), **zoom_options).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope='module')
def http():
    with httpx2.Client(trust_env=False, timeout=5.0) as client:
        yield client
