"""Alerts through the local stack: the admin sets alert contacts, Zoom removes the app (the sandbox's control
endpoint), and the alert arrives as an email in the outbox and as a signed webhook at a receiver on loopback.

Connecting Zoom replaces the demo tenant's company account, so this module runs a stack of its own.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from e2e_support import running_stack
from test_e2e_zoom import ZOOM_USER, connect_company_account, sandbox

from meetbridge.security.signatures import verify_timestamped

pytestmark = pytest.mark.e2e

ALERTS_TO = "alerts-e2e@acme.example"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("alerts-stack")) as running:
        yield running


@pytest.fixture
def receiver():
    """Takes alert webhooks on 127.0.0.1 (the local stack allows plain http to this machine); joined after."""
    received: list[tuple[dict, bytes]] = []

    class Handle(BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(({k.lower(): v for k, v in self.headers.items()},
                             self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handle)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/alerts", received
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_a_zoom_account_removed_at_zoom_alerts_by_email_and_signed_webhook(stack, receiver):
    url, received = receiver
    contacts = {"emails": [ALERTS_TO], "webhook_url": url}
    resp = stack.admin("PUT", "settings/alerts", contacts)
    assert resp.status == 200, resp
    assert stack.admin("GET", "settings/alerts").json() == contacts
    page = connect_company_account(stack)
    assert page.status == 200, page
    account = stack.admin("GET", "accounts/default").json()

    sent = sandbox(stack, "POST", "webhooks/send", {"target_url": f"{stack.api}/providers/zoom/events",
                                                    "event": "app_deauthorized", "user_id": ZOOM_USER})
    assert sent.status == 200 and sent.json()["status"] == 200, sent
    broken_at = time.time()

    [email] = stack.wait_for_emails(1, to=ALERTS_TO)
    assert "stopped working" in email["subject"], email
    assert time.time() - broken_at < 120
    headers, raw = stack.wait_for("the alert webhook", lambda: received[0] if received else None)
    verify_timestamped([stack.secret.encode()], headers["x-meetbridge-signature"], raw, time.time(), 300)
    body = json.loads(raw)
    assert body["type"] == "alert" and body["tenant_id"] == stack.tenant_id and body["group"] == account["id"]
    assert [alert["kind"] for alert in body["alerts"]] == ["connection_broken"]
    assert len(stack.wait_for_emails(1, to=ALERTS_TO)) == 1  # one alert, one email
