"""What the browser tests' fixtures and the Makefile's check share: where Chromium is, and whether this is CI."""

import os
from pathlib import Path

# Debian's chromium package; the Makefile's CHROMIUM, which `make test` installs when it is missing.
CHROMIUM = Path("/usr/bin/chromium")


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1")
