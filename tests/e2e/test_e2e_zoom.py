"""Zoom through the local stack and its Zoom sandbox, as people and Zoom see it, over HTTP only.

Connecting Zoom replaces the demo tenant's company account, so this module runs a stack of its own.
Each test connects Zoom first if it is not connected (the deauthorization test disconnects it), so
the tests do not depend on their order or on which xdist worker runs them.
"""

import datetime as dt
import hashlib
import hmac
import json
import time
import urllib.parse
from collections import Counter

import pytest
from e2e_support import Booking, Client, Response, forms, request, running_stack, submit

pytestmark = pytest.mark.e2e

ZOOM_USER = "zoom-owner"  # the consent page's first (preselected) sandbox user


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("zoom-stack")) as running:
        yield running


# --- the sandbox's control endpoints ---------------------------------------------------------------


def sandbox(stack, method: str, path: str, body: dict | None = None) -> Response:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    return request(f"{stack.info['zoom_sandbox_url']}/_sandbox/{path}", method, data, headers)


def api_calls(stack) -> list[dict]:
    """Zoom REST API calls since the last reset (OAuth's authorize and token, and browser pages, excluded)."""
    resp = sandbox(stack, "GET", "calls")
    assert resp.status == 200, resp
    return [c for c in resp.json()["calls"] if c["operation"] not in ("authorize", "token")
            and c["path"].startswith("/v2/")]


# --- the browser flow ------------------------------------------------------------------------------


def consent_page(stack) -> tuple[str, Response]:
    """Ask for a company connect link, open it, follow its redirect to Zoom: (authorize URL, consent page)."""
    link = stack.admin("POST", "connections/zoom/connect-link", {"provider_id": None, "return_url": None})
    assert link.status == 200, link
    assert link.json()["url"].startswith(f"{stack.api}/oauth/zoom/start?")
    start = stack.get(link.json()["url"])
    assert start.status == 302, start
    authorize = start.headers["location"]
    assert authorize.startswith(f"{stack.info['zoom_sandbox_url']}/oauth/authorize?"), authorize
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"], query
    assert query["code_challenge"][0] and query["state"][0], query
    assert query["redirect_uri"] == [f"{stack.api}/oauth/zoom/callback"], query
    page = request(authorize)
    assert page.status == 200, page
    assert "text/html" in page.headers["content-type"]
    return authorize, page


def connect_company_account(stack) -> Response:
    """The whole consent with Allow; returns our callback's page."""
    authorize, page = consent_page(stack)
    back = submit(authorize, page, "Allow")
    assert back.status == 302, back
    callback = back.headers["location"]
    assert callback.startswith(f"{stack.api}/oauth/zoom/callback?"), callback
    assert set(urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query)) == {"code", "state"}
    return stack.get(callback)


def company_account(stack) -> dict:
    resp = stack.admin("GET", "accounts/default")
    assert resp.status == 200, resp
    return resp.json()


def ensure_connected(stack) -> None:
    account = company_account(stack)
    if account["type"] != "zoom" or account["status"] != "active":
        page = connect_company_account(stack)
        assert page.status == 200, page


def book(stack, start: dt.datetime) -> tuple[Booking, dict]:
    booking = Booking(Client.unique(), start=start)
    resp = stack.post_webhook(booking.event("booking.created"))
    assert resp.status == 202, resp
    return booking, stack.wait_for_links(booking)


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# --- tests -----------------------------------------------------------------------------------------


def test_connecting_zoom_with_allow_makes_it_the_company_account(stack):
    authorize, page = consent_page(stack)
    labels = [b[0] for f in forms(page.text) for b in f.buttons]
    assert "Allow" in labels and "Deny" in labels, labels

    back = submit(authorize, page, "Allow")
    assert back.status == 302, back
    callback = back.headers["location"]
    assert callback.startswith(f"{stack.api}/oauth/zoom/callback?code="), callback
    done = stack.get(callback)
    assert done.status == 200, done
    assert "text/html" in done.headers["content-type"]
    assert "Zoom is connected" in done.text
    assert "owner@zoom.example" in done.text

    account = company_account(stack)
    assert (account["type"], account["status"]) == ("zoom", "active"), account
    assert account["email"] == "owner@zoom.example"

    again = stack.get(callback)  # the same redirect once more (reload): the state is single-use
    assert 400 <= again.status < 500, again
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query)["code"][0]
    assert code not in stack.log_path.read_text(errors="replace"), "the request log must shorten OAuth codes"


def test_deny_ends_on_a_connection_cancelled_page(stack):
    before = company_account(stack)
    authorize, page = consent_page(stack)
    back = submit(authorize, page, "Deny")
    assert back.status == 302, back
    callback = back.headers["location"]
    assert callback.startswith(f"{stack.api}/oauth/zoom/callback?"), callback
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query)["error"] == ["access_denied"]

    cancelled = stack.get(callback)
    assert 400 <= cancelled.status < 500, cancelled
    assert "text/html" in cancelled.headers["content-type"]
    assert "Connection cancelled" in cancelled.text
    after = company_account(stack)
    assert (after["type"], after["status"]) == (before["type"], before["status"])


def test_a_booking_gets_a_zoom_meeting_with_join_and_fresh_start_links(stack):
    ensure_connected(stack)
    zoom = stack.info["zoom_sandbox_url"]
    booking, view = book(stack, start=(now() - dt.timedelta(minutes=1)).replace(microsecond=0))
    assert view["meeting"]["provider"] == "zoom", view["meeting"]

    client = stack.click_join(view["links"]["clients"][booking.client.id])
    assert client.status == 303, client
    join_url = client.headers["location"]
    assert join_url.startswith(f"{zoom}/j/"), join_url
    joined = request(join_url)
    assert joined.status == 200, joined

    provider_link = view["links"]["provider"]
    first = stack.click_join(provider_link)
    assert first.status == 303, first
    start_url = first.headers["location"]
    assert start_url.startswith(f"{zoom}/s/") and "zak=" in urllib.parse.urlsplit(start_url).query, start_url
    assert request(start_url).status == 200
    second = stack.click_join(provider_link)
    assert second.status == 303, second
    assert second.headers["location"].startswith(f"{zoom}/s/")
    assert second.headers["location"] != start_url, "each click fetches a fresh start URL"


def test_one_zoom_call_per_booking_created_rescheduled_and_cancelled(stack):
    ensure_connected(stack)
    stack.wait_until_drained()
    booking = Booking(Client.unique(), start=(now() + dt.timedelta(days=3)).replace(second=0, microsecond=0))
    counts, timings = {}, {}

    def measure(kind: str, settled) -> None:
        assert sandbox(stack, "DELETE", "calls").status == 204
        started = time.monotonic()
        resp = stack.post_webhook(booking.event(f"booking.{kind}"))
        assert resp.status == 202, resp
        stack.wait_for(f"the booking to be {kind}", settled)
        stack.wait_until_drained()
        timings[kind] = time.monotonic() - started
        counts[kind] = Counter(c["operation"] for c in api_calls(stack))

    def view() -> dict:
        resp = stack.booking_view(booking.id)
        return resp.json() if resp.status == 200 else {}

    measure("created", lambda: stack.wait_for_links(booking))
    assert view()["meeting"]["provider"] == "zoom"
    booking.start += dt.timedelta(hours=2)
    measure("rescheduled", lambda: dt.datetime.fromisoformat(view()["booking"]["start"]) == booking.start)
    measure("cancelled", lambda: view()["booking"]["status"] == "cancelled")

    print("\nZoom API calls per booking event:", {k: (sum(c.values()), dict(c)) for k, c in counts.items()},
          "seconds:", {k: round(v, 2) for k, v in timings.items()})
    assert counts["created"] == Counter(create_meeting=1), counts
    assert counts["rescheduled"] == Counter(update_meeting=1), counts
    assert counts["cancelled"] == Counter(delete_meeting=1), counts


def test_zoom_url_validation_gets_the_right_encrypted_token(stack):
    sent = sandbox(stack, "POST", "webhooks/send",
                   {"target_url": f"{stack.api}/providers/zoom/events", "event": "endpoint.url_validation"})
    assert sent.status == 200, sent
    result = sent.json()
    assert result["status"] == 200, result
    assert result["valid"] is True, result
    answer = json.loads(result["body"])
    secret = stack.info["zoom_webhook_secret"].encode()
    expected = hmac.new(secret, result["plainToken"].encode(), hashlib.sha256).hexdigest()
    assert answer == {"plainToken": result["plainToken"], "encryptedToken": expected}


def test_a_zoom_event_with_a_wrong_signature_is_refused(stack):
    before = company_account(stack)
    body = json.dumps({"event": "app_deauthorized", "payload": {"user_id": ZOOM_USER}}).encode()
    headers = {"Content-Type": "application/json", "x-zm-request-timestamp": str(int(time.time())),
               "x-zm-signature": "v0=" + "0" * 64}
    resp = request(f"{stack.api}/providers/zoom/events", "POST", body, headers)
    assert resp.status == 401, resp
    assert company_account(stack)["status"] == before["status"]


def test_removing_the_app_in_zoom_disconnects_the_account_and_closes_links(stack):
    ensure_connected(stack)
    booking, view = book(stack, start=(now() - dt.timedelta(minutes=1)).replace(microsecond=0))
    link = view["links"]["clients"][booking.client.id]
    assert stack.click_join(link).status == 303

    sent = sandbox(stack, "POST", "webhooks/send", {"target_url": f"{stack.api}/providers/zoom/events",
                                                    "event": "app_deauthorized", "user_id": ZOOM_USER})
    assert sent.status == 200, sent
    assert sent.json()["status"] == 200, sent.json()

    account = company_account(stack)
    assert account["type"] == "zoom" and account["status"] == "disconnected", account
    closed = stack.get(link)
    assert closed.status == 503, closed
    assert "text/html" in closed.headers["content-type"]
