"""The layer and the functions ship bytecode of the runtime's Python, and the same sources give the same bytes.

`/opt` and `/var/task` are read-only on Lambda: without shipped bytecode every cold start compiles what it imports.
The bytecode is written by python3.13 (the runtime's) with unchecked hashes, so neither the build's timestamps nor the
build host's Python change it. `sam build` itself is too slow for the suite: these run the layer Makefile's compile
step on a small tree, and read the recipes.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER_MAKEFILE = ROOT / "layers" / "shared" / "Makefile"
FUNCTIONS_MAKEFILE = ROOT / "functions" / "Makefile"
COMPILE = "-m compileall -q -j 0 --invalidation-mode unchecked-hash"
RUNTIME = (3, 13)
# A .pyc's flags word (PEP 552): bit 0 set = hash-based, bit 1 clear = the hash is never checked against the source.
UNCHECKED_HASH_FLAGS = b"\x01\x00\x00\x00"

on_the_runtime = pytest.mark.skipif(sys.version_info[:2] != RUNTIME, reason="the compile step needs python3.13")


def _compile_layer(artifacts: Path, runtime_python: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-f", str(LAYER_MAKEFILE), "bytecode",
         f"ARTIFACTS_DIR={artifacts}", f"RUNTIME_PYTHON={runtime_python}"],
        capture_output=True, text=True, timeout=120, check=False,
    )


def _bytecode(artifacts: Path) -> dict[str, bytes]:
    return {str(path.relative_to(artifacts)): path.read_bytes() for path in sorted(artifacts.rglob("*.pyc"))}


def test_both_recipes_compile_with_the_runtime_python_and_unchecked_hashes():
    for makefile in (LAYER_MAKEFILE, FUNCTIONS_MAKEFILE):
        recipe = makefile.read_text()
        assert f"$(RUNTIME_PYTHON) {COMPILE}" in recipe, makefile
        assert "sys.version_info[:2] != (3, 13)" in recipe, f"{makefile} does not check RUNTIME_PYTHON"
    layer = LAYER_MAKEFILE.read_text()
    # The build host's bytecode is dropped before the runtime's is written.
    assert "--no-compile" in layer and "-name __pycache__" in layer and 'rm -rf "$(LAYER_DIR)/bin"' in layer


def test_make_build_passes_the_runtime_python_to_sam():
    build = re.search(r"^build:.*?(?=^\S)", (ROOT / "Makefile").read_text(), re.M | re.S).group(0)
    assert 'RUNTIME_PYTHON="$(PYTHON)" $(SAM) build' in build


@on_the_runtime
def test_two_builds_of_the_same_sources_give_the_same_bytecode(tmp_path):
    sources = ROOT / "layers" / "shared" / "meetbridge" / "domain"
    builds = []
    for number, mtime in enumerate((1_600_000_000, 1_700_000_000)):
        artifacts = tmp_path / f"build{number}"
        shutil.copytree(sources, artifacts / "python" / "domain", ignore=shutil.ignore_patterns("__pycache__"))
        for path in (artifacts / "python").rglob("*.py"):
            os.utime(path, (mtime, mtime))
        done = _compile_layer(artifacts, sys.executable)
        assert done.returncode == 0, done.stderr
        builds.append(_bytecode(artifacts))

    first, second = builds
    assert len(first) == len(list(sources.glob("*.py"))) > 0
    assert all(re.fullmatch(r"python/domain/__pycache__/\w+\.cpython-313\.pyc", name) for name in first)
    assert first == second
    assert {data[4:8] for data in first.values()} == {UNCHECKED_HASH_FLAGS}


# A real interpreter of another version: the build's check must tell it by its version, not by a failure to run.
OTHER_PYTHONS = sorted(Path.home().glob(".pyenv/versions/3.12.*/bin/python3.12"))


@pytest.mark.skipif(not OTHER_PYTHONS, reason="no python3.12 under ~/.pyenv/versions to stand for another version")
def test_a_runtime_python_of_another_version_stops_the_build(tmp_path):
    not_313 = OTHER_PYTHONS[-1]
    assert subprocess.run([str(not_313), "-c", ""], check=False).returncode == 0  # it runs: only its version is wrong
    sources = tmp_path / "python" / "domain"
    sources.mkdir(parents=True)
    (sources / "rules.py").write_text("LIMIT = 1\n")

    done = _compile_layer(tmp_path, str(not_313))

    assert done.returncode != 0
    assert f"RUNTIME_PYTHON={not_313} is not python3.13" in done.stderr
    assert not list(tmp_path.rglob("*.pyc"))
