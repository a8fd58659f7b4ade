"""One local stack per test session (per xdist worker), started exactly as a developer would."""

import pytest
from e2e_support import running_stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("local-stack")) as running:
        yield running
