"""Microsoft Teams through the local stack and its Microsoft sandbox, as people and Microsoft see it,
over HTTP only.

The demo provider's own Teams account is connected here, which changes where their bookings go, so
this module runs a stack of its own. Each test that needs the account connects it first if it is not
connected, so the tests depend neither on their order nor on which xdist worker runs them.
"""

import datetime as dt
import json
import time
import urllib.parse
from collections import Counter

import pytest
from e2e_support import Booking, Client, Response, forms, request, running_stack, submit

pytestmark = pytest.mark.e2e

PROVIDER_ID = "prov-demo"
OWNER = "00000000-0000-0000-0000-000000000001"  # Olive Owner, the consent page's first (preselected) user
UNLICENSED = "00000000-0000-0000-0000-000000000003"  # a work account without a Teams licence
PERSONAL = "00000000-0000-0000-0000-000000000009"  # someone@outlook.example, in the personal-accounts tenant
MEETING_OPERATIONS = ("create_meeting", "create_or_get_meeting", "update_meeting", "delete_meeting")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("microsoft-stack")) as running:
        yield running


# --- the sandbox's control endpoints ---------------------------------------------------------------


def sandbox(stack, method: str, path: str, body: dict | None = None) -> Response:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    return request(f"{stack.info['microsoft_sandbox_url']}/_sandbox/{path}", method, data, headers)


def sandbox_calls(stack) -> Counter:
    """Every call the functions made to the sandbox since the last reset, by operation."""
    resp = sandbox(stack, "GET", "calls")
    assert resp.status == 200, resp
    return Counter(c["operation"] for c in resp.json()["calls"])


def meeting_calls(calls: Counter) -> Counter:
    """Graph's online-meeting calls that change something: create, update, delete."""
    return Counter({op: n for op, n in calls.items() if op in MEETING_OPERATIONS})


def sandbox_meetings(stack) -> dict[str, dict]:
    resp = sandbox(stack, "GET", "state")
    assert resp.status == 200, resp
    return {m["id"]: m for m in resp.json()["meetings"]}


# --- the browser flow ------------------------------------------------------------------------------


def consent_page(stack) -> tuple[str, Response]:
    """Ask for the provider's connect link, open it, follow its redirect to Microsoft: (authorize URL, page)."""
    link = stack.admin("POST", "connections/microsoft/connect-link", {"provider_id": PROVIDER_ID, "return_url": None})
    assert link.status == 200, link
    assert link.json()["url"].startswith(f"{stack.api}/oauth/microsoft/start?intent=")
    start = stack.get(link.json()["url"])
    assert start.status == 302, start
    authorize = start.headers["location"]
    assert authorize.startswith(f"{stack.info['microsoft_sandbox_url']}/organizations/oauth2/v2.0/authorize?"), \
        authorize
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)
    assert query["code_challenge_method"] == ["S256"], query
    assert query["response_mode"] == ["form_post"], query  # the code never travels in a URL
    assert query["code_challenge"][0] and query["state"][0] and query["nonce"][0], query
    assert query["redirect_uri"] == [f"{stack.api}/oauth/microsoft/callback"], query
    assert "OnlineMeetings.ReadWrite" in query["scope"][0].split(), query
    page = request(authorize)
    assert page.status == 200, page
    assert "text/html" in page.headers["content-type"]
    return authorize, page


def answer_back(stack, authorize: str, page: Response, button: str,
                user_id: str | None = None) -> tuple[dict, Response]:
    """Click ``button`` on the consent page (as ``user_id``), then let the sandbox's auto-submitting
    form POST the answer to our callback: (the fields posted, our page)."""
    choices = {"user_id": user_id} if user_id else {}
    handback = submit(authorize, page, button, **choices)
    assert handback.status == 200, handback
    (form,) = forms(handback.text)
    assert (form.method, form.action) == ("POST", f"{stack.api}/oauth/microsoft/callback"), form
    return dict(form.fields), submit(authorize, handback, None)


def connect_provider_account(stack, user_id: str | None = None) -> tuple[dict, Response]:
    authorize, page = consent_page(stack)
    return answer_back(stack, authorize, page, "Accept", user_id)


def own_account(stack) -> Response:
    return stack.admin("GET", f"providers/{PROVIDER_ID}/account")


def ensure_connected(stack) -> None:
    account = own_account(stack)
    if account.status != 200 or (account.json()["type"], account.json()["status"]) != ("microsoft", "active"):
        _, page = connect_provider_account(stack)
        assert page.status == 200, page


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


# --- tests -----------------------------------------------------------------------------------------


def test_connecting_teams_with_accept_makes_it_the_providers_own_account(stack):
    authorize, page = consent_page(stack)
    labels = [b[0] for f in forms(page.text) for b in f.buttons]
    assert "Accept" in labels and "Cancel" in labels, labels

    started = time.monotonic()
    fields, done = answer_back(stack, authorize, page, "Accept")
    print(f"\nAccept to 'connected' (sign-in, token, pre-flight meeting): {time.monotonic() - started:.2f} s")
    assert {"code", "state"} <= set(fields), fields
    assert done.status == 200, done
    assert "text/html" in done.headers["content-type"]
    assert "Microsoft Teams is connected" in done.text
    assert "owner@contoso.example" in done.text

    account = own_account(stack)
    assert account.status == 200, account
    assert (account.json()["type"], account.json()["status"]) == ("microsoft", "active"), account
    assert account.json()["email"] == "owner@contoso.example"
    assert all(m["subject"] != "meetbridge connection check" for m in sandbox_meetings(stack).values()), \
        "the pre-flight's test meeting is deleted again"

    body = urllib.parse.urlencode(list(fields.items())).encode()
    again = request(f"{stack.api}/oauth/microsoft/callback", "POST", body,
                    {"Content-Type": "application/x-www-form-urlencoded"})  # the form posted again (Back, resubmit)
    assert 400 <= again.status < 500, again
    assert "already used" in again.text
    assert fields["code"] not in stack.log_path.read_text(errors="replace"), "no OAuth code in the request log"


def test_cancel_ends_on_a_connection_cancelled_page(stack):
    before = own_account(stack)
    authorize, page = consent_page(stack)
    fields, cancelled = answer_back(stack, authorize, page, "Cancel")
    assert fields["error"] == "access_denied" and fields["state"], fields
    assert 400 <= cancelled.status < 500, cancelled
    assert "text/html" in cancelled.headers["content-type"]
    assert "Connection cancelled" in cancelled.text
    after = own_account(stack)
    assert (after.status, after.body) == (before.status, before.body)


def test_a_personal_account_is_refused_with_a_page_naming_personal_accounts(stack):
    before = own_account(stack)
    # Entra itself refuses a personal account on /organizations, on its own page.
    authorize, page = consent_page(stack)
    refused = submit(authorize, page, "Accept", user_id=PERSONAL)
    assert refused.status == 400 and "AADSTS500200" in refused.text, refused
    # With the sandbox's switch, it gets through, as a misconfigured authority would let it: our backstop.
    assert sandbox(stack, "POST", "settings", {"allow_personal_accounts_on_organizations": True}).status == 200
    try:
        _, page = connect_provider_account(stack, user_id=PERSONAL)
    finally:
        assert sandbox(stack, "POST", "settings", {"allow_personal_accounts_on_organizations": False}).status == 200
    assert page.status == 400, page
    assert "text/html" in page.headers["content-type"]
    assert "Personal Microsoft accounts cannot host Teams meetings" in page.text
    after = own_account(stack)
    assert (after.status, after.body) == (before.status, before.body)


def test_a_user_without_a_teams_licence_is_refused_with_a_page_about_the_licence(stack):
    before = own_account(stack)
    _, page = connect_provider_account(stack, user_id=UNLICENSED)
    assert page.status == 400, page
    assert "text/html" in page.headers["content-type"]
    assert "cannot create Teams meetings" in page.text and "licence" in page.text
    after = own_account(stack)
    assert (after.status, after.body) == (before.status, before.body)


def test_a_booking_of_the_provider_gets_a_teams_meeting_and_both_links_open_it(stack):
    ensure_connected(stack)
    booking = Booking(Client.unique(), start=(now() - dt.timedelta(minutes=1)).replace(microsecond=0),
                      provider_id=PROVIDER_ID)
    resp = stack.post_webhook(booking.event("booking.created"))
    assert resp.status == 202, resp
    view = stack.wait_for_links(booking)
    meeting = view["meeting"]
    assert (meeting["provider"], meeting["account_id"]) == ("microsoft", own_account(stack).json()["id"]), meeting

    join_urls = {m["joinWebUrl"] for m in sandbox_meetings(stack).values()}
    for link in (view["links"]["clients"][booking.client.id], view["links"]["provider"]):
        opened = stack.click_join(link)
        assert opened.status == 303, opened
        join = opened.headers["location"]
        assert join in join_urls, (join, join_urls)
        assert join.startswith(f"{stack.info['microsoft_sandbox_url']}/l/meetup-join/")
        landed = request(join)
        assert landed.status == 200, landed
        assert "joined meeting" in landed.text


def test_one_teams_meeting_follows_ten_reschedules_and_is_deleted_at_cancel(stack):
    ensure_connected(stack)
    stack.wait_until_drained()
    before = set(sandbox_meetings(stack))
    booking = Booking(Client.unique(), start=(now() + dt.timedelta(days=3)).replace(second=0, microsecond=0),
                      provider_id=PROVIDER_ID)
    counts: dict[str, Counter] = {}
    timings: dict[str, list[float]] = {}

    def view() -> dict:
        resp = stack.booking_view(booking.id)
        return resp.json() if resp.status == 200 else {}

    def measure(kind: str, settled) -> None:
        started = time.monotonic()
        resp = stack.post_webhook(booking.event(f"booking.{kind}"))
        assert resp.status == 202, resp
        stack.wait_for(f"the booking to be {kind}", settled)
        stack.wait_until_drained()
        timings.setdefault(kind, []).append(time.monotonic() - started)

    assert sandbox(stack, "DELETE", "calls").status == 204
    measure("created", lambda: stack.wait_for_links(booking))
    counts["created"] = sandbox_calls(stack)
    assert view()["meeting"]["provider"] == "microsoft"
    links = view()["links"]

    assert sandbox(stack, "DELETE", "calls").status == 204
    for _ in range(10):
        booking.start += dt.timedelta(hours=1)
        measure("rescheduled", lambda: dt.datetime.fromisoformat(view()["booking"]["start"]) == booking.start)
    counts["rescheduled"] = sandbox_calls(stack)
    new = {k: m for k, m in sandbox_meetings(stack).items() if k not in before}
    assert len(new) == 1, new
    [(meeting_id, meeting)] = new.items()
    expected_start = booking.start.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    assert meeting["startDateTime"].startswith(expected_start), meeting["startDateTime"]
    assert view()["links"] == links, "the links stay the same through every reschedule"

    assert sandbox(stack, "DELETE", "calls").status == 204
    measure("cancelled", lambda: view()["booking"]["status"] == "cancelled")
    counts["cancelled"] = sandbox_calls(stack)
    assert meeting_id not in sandbox_meetings(stack)
    assert set(sandbox_meetings(stack)) == before

    print("\nMicrosoft calls per booking event (1 created, 10 rescheduled, 1 cancelled):",
          {k: dict(c) for k, c in counts.items()},
          "seconds:", {k: [round(t, 2) for t in v] for k, v in timings.items()})
    # createOrGet takes no lobby settings: a PATCH sets them
    assert meeting_calls(counts["created"]) == Counter(create_or_get_meeting=1, update_meeting=1), counts
    assert meeting_calls(counts["rescheduled"]) == Counter(update_meeting=10), counts
    assert meeting_calls(counts["cancelled"]) == Counter(delete_meeting=1), counts
