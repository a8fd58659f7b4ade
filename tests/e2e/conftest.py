"""One local stack per test session (per xdist worker), started exactly as a developer would."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from e2e_support import Stack

REPO_ROOT = Path(__file__).resolve().parents[2]
STARTUP_SECONDS = 60


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("local-stack")
    ready = tmp / "ready.json"
    log_path = tmp / "stack.log"
    # A clean AWS environment: the stack sets its own (moto) endpoint and fake credentials.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["PYTHONUNBUFFERED"] = "1"
    command = [
        sys.executable, "-m", "infra.local",
        "--port", "0", "--aws-port", "0",
        "--state-dir", str(tmp / "state"), "--ready-file", str(ready),
    ]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)

    def tail() -> str:
        return "\n".join(log_path.read_text(errors="replace").splitlines()[-80:])

    deadline = time.monotonic() + STARTUP_SECONDS
    while not ready.exists():
        if process.poll() is not None:
            pytest.fail(f"python -m infra.local exited with {process.returncode} before it was ready:\n{tail()}")
        if time.monotonic() > deadline:
            process.kill()
            process.wait(10)
            pytest.fail(f"python -m infra.local was not ready within {STARTUP_SECONDS} s:\n{tail()}")
        time.sleep(0.1)
    info = json.loads(Path(json.loads(ready.read_text())["dev_json"]).read_text())
    try:
        yield Stack(info, process, log_path)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
