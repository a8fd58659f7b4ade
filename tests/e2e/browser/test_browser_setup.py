"""The Makefile's part in the browser tests: `make test` installs Debian's chromium when it is missing,
does nothing when it is there (CI's fresh clone runs on a machine that has it), and `make dev` never
needs it. Read from `make --dry-run`, so nothing is installed here."""

import os
import subprocess

import pytest
from browser_support import CHROMIUM, in_ci
from e2e_support import REPO_ROOT


def dry_run(*args: str) -> str:
    done = subprocess.run(["make", "--dry-run", *args], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_make_test_installs_nothing_when_chromium_is_there():
    if not CHROMIUM.exists() and not in_ci():
        pytest.skip(f"{CHROMIUM} is not installed here (`make test` installs it)")
    assert subprocess.run(["make", "--question", str(CHROMIUM)], cwd=REPO_ROOT, timeout=60).returncode == 0
    assert "apt-get" not in dry_run("test")


def test_make_test_installs_debians_chromium_when_it_is_missing(tmp_path):
    missing = tmp_path / "chromium"
    recipe = dry_run("test", f"CHROMIUM={missing}")
    as_root = "" if os.geteuid() == 0 else "sudo "
    assert f"{as_root}env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium" in recipe
    assert recipe.index("apt-get install") < recipe.index("-m pytest"), "the browser comes before the tests"


def test_make_dev_does_not_need_chromium(tmp_path):
    assert "apt-get" not in dry_run("dev", f"CHROMIUM={tmp_path / 'chromium'}")
