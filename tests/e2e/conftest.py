"""One local stack per test session (per xdist worker), started exactly as a developer would."""

import pytest
from e2e_support import StartupFailed, launch


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    try:
        running = launch(tmp_path_factory.mktemp("local-stack"))
    except StartupFailed as exc:
        pytest.fail(str(exc), pytrace=False)
    try:
        yield running
    finally:
        running.stop()
