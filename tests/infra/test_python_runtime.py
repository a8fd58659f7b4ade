"""The suite runs on the Python that Lambda runs: the template's Runtime.

On a developer's machine without that Python the suite still runs (the Makefile falls back to
python3 and says so); in CI (`CI=true`, which `.ci/run` sets) a run on another version fails.
"""

import os
import sys

import pytest


def test_ci_runs_on_the_runtime_of_the_functions(sam_template):
    runtime = sam_template["Globals"]["Function"]["Runtime"]
    running = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if running != runtime and os.environ.get("CI", "").lower() not in ("true", "1"):
        pytest.skip(f"running on {running}, Lambda runs {runtime}: CI fails on this")

    assert running == runtime, (
        f"the tests ran on {running} ({sys.executable}) but Lambda runs {runtime}: "
        f"install {runtime} (make test picks it up, or set PYTHON=/path/to/{runtime}) and remove .venv"
    )
