"""A cold start imports only what its function's code path needs: the heavy modules each handler defers stay out.

Each handler module is imported in a fresh interpreter with placeholder settings, as Lambda's init does; the modules
listed for it must not be in `sys.modules` afterwards. A module is listed where the function's usual invocation does
not need it, so importing it at the top of any module the handler imports is a cold-start cost for nothing: import it
where it is used (a function-level import or a `functools.cache` singleton), and `make bench` shows what it saves.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from meetbridge.config import CONCERNS, placeholder_environment

ROOT = Path(__file__).resolve().parents[2]

# Imported by the code that uses them, on the paths that do: the providers' OAuth and Graph clients when a provider
# is called (providers/zoom.py, providers/microsoft.py, providers/google.py), Babel when a date is written in a
# language (notify/locales.py), joserfc when a Wix webhook is verified (sources/wix.py).
PROVIDER_CLIENTS = ("msal", "authlib")
BABEL = "babel"
JOSERFC = "joserfc"
# Pages and templates: rendered only by the functions that show a page or write a message (web/pages.py).
JINJA2 = "jinja2"
# The HTTP client: used when a provider or a webhook receiver is called, not by answering the request itself.
HTTPX = "httpx2"
# Powertools' idempotency (its DynamoDB store and pydantic models), for the functions that keep no records.
IDEMPOTENCY = "aws_lambda_powertools.utilities.idempotency"
# Powertools' REST resolver and request validation (OpenAPI, pydantic), used by the admin API only.
RESOLVER = "aws_lambda_powertools.event_handler.openapi"

DEFERRED = {
    # Verifies and publishes: answers JSON, calls no provider; its events are claimed by its own conditional write.
    "booking_webhook": (JINJA2, HTTPX, IDEMPOTENCY, RESOLVER, *PROVIDER_CLIENTS, BABEL, JOSERFC),
    # Shows a link's page: a provider is called on a host's click only.
    "join": (HTTPX, IDEMPOTENCY, RESOLVER, *PROVIDER_CLIENTS, BABEL, JOSERFC),
    # Connect flows: each provider's client when its flow runs.
    "oauth": (HTTPX, IDEMPOTENCY, RESOLVER, *PROVIDER_CLIENTS, BABEL, JOSERFC),
    # Makes meetings: a provider's client (and httpx2) when the account is that provider's; messages are rendered
    # by the notifications function.
    "meetings": (JINJA2, HTTPX, RESOLVER, *PROVIDER_CLIENTS, BABEL),
    "notifications": (HTTPX, RESOLVER, *PROVIDER_CLIENTS, BABEL, JOSERFC),
    "admin": (IDEMPOTENCY, *PROVIDER_CLIENTS, BABEL, JOSERFC),
    "auto_start": (JINJA2, HTTPX, IDEMPOTENCY, RESOLVER, *PROVIDER_CLIENTS, BABEL, JOSERFC),
    "callbacks": (IDEMPOTENCY, RESOLVER, *PROVIDER_CLIENTS, BABEL, JOSERFC),
    "health": (JINJA2, IDEMPOTENCY, RESOLVER, *PROVIDER_CLIENTS, BABEL, JOSERFC),
    "alerts": (RESOLVER, *PROVIDER_CLIENTS, BABEL, JOSERFC),
    "outbox_sweeper": (JINJA2, HTTPX, IDEMPOTENCY, RESOLVER, *PROVIDER_CLIENTS, BABEL, JOSERFC),
}

# Run in the fresh interpreter: the handler imported from its own directory, then the modules loaded, as JSON.
PROBE = """
import json, sys
sys.path[:0] = [sys.argv[1], sys.argv[2]]
import handler
print(json.dumps(sorted(sys.modules)))
"""


def test_every_function_has_its_list():
    functions = {path.parent.name for path in (ROOT / "functions").glob("*/handler.py")}
    assert functions == set(DEFERRED)


@pytest.mark.parametrize("function", sorted(DEFERRED))
def test_handler_import_leaves_deferred_modules_out(function):
    environment = {**os.environ, **placeholder_environment(*CONCERNS), "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(ROOT / "functions" / function), str(ROOT / "layers" / "shared")],
        env=environment, capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = set(json.loads(done.stdout.splitlines()[-1]))
    imported = sorted(name for name in DEFERRED[function]
                      if any(module == name or module.startswith(f"{name}.") for module in loaded))
    assert imported == [], f"importing functions/{function}/handler.py imports {imported}, which it defers"
