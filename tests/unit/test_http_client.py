"""Outbound HTTP uses httpx2: Authlib 1.9 deprecates plain httpx and prefers it."""

import subprocess
import sys

# A fresh interpreter: a warning raised at import time is only seen by the first importer.
PROBE = (
    'import httpx2\n'
    'from authlib.integrations.httpx_client import OAuth2Client\n'
    'assert issubclass(OAuth2Client, httpx2.Client), OAuth2Client.__mro__\n'
)


def test_authlibs_httpx_integration_runs_on_httpx2_without_deprecation_warnings():
    result = subprocess.run([sys.executable, '-W', 'error', '-c', PROBE], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
