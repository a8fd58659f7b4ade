"""Google Meet through the local stack and its Google sandbox, as people and Google see it, over HTTP only.

The seeded link connects the Google account of `prov-google`, a demo provider of its own, so connecting it
moves neither the company account nor `prov-demo`; the module still runs a stack of its own, since its tests
revoke grants and disconnect. Each test that needs the account connects it first if it is not connected, so
the tests depend neither on their order nor on which xdist worker runs them.
"""

import datetime as dt
import json
import time
import urllib.parse
import uuid
from collections import Counter

import pytest
from e2e_support import Booking, Client, Form, Response, forms, request, running_stack

pytestmark = pytest.mark.e2e

PROVIDER_ID = "prov-google"
OWNER = "105000000000000000001"  # Olive Owner, owner@example.com
DANA = "105000000000000000002"  # Dana Reyes, dana@example.com
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar.events.owned"
EVENT_OPERATIONS = ("insert_event", "patch_event", "delete_event")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("google-stack")) as running:
        yield running


# --- the sandbox's control endpoints ---------------------------------------------------------------


def sandbox(stack, method: str, path: str, body: dict | None = None) -> Response:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    return request(f"{stack.info['google_sandbox_url']}/_sandbox/{path}", method, data, headers)


def reset_calls(stack) -> None:
    assert sandbox(stack, "POST", "reset-calls").status == 204


def sandbox_calls(stack) -> Counter:
    """Every call the functions made to the sandbox since the last reset, by operation."""
    resp = sandbox(stack, "GET", "calls")
    assert resp.status == 200, resp
    return Counter(c["operation"] for c in resp.json()["calls"])


def event_calls(calls: Counter) -> Counter:
    """Calendar calls that change an event: insert, patch, delete."""
    return Counter({op: n for op, n in calls.items() if op in EVENT_OPERATIONS})


def sandbox_state(stack) -> dict:
    resp = sandbox(stack, "GET", "state")
    assert resp.status == 200, resp
    return resp.json()


def sandbox_events(stack) -> dict[str, dict]:
    """Every event in the sandbox's calendars (deleted ones too, with status cancelled), by id."""
    return {e["id"]: e for e in sandbox_state(stack)["events"]}


def live_grants(stack, user_id: str) -> int:
    """The user's refresh tokens for our client that still work."""
    return sandbox_state(stack)["grants"].get(user_id, 0)


# --- the browser flow, one redirect at a time ------------------------------------------------------


def connect_link(stack, provider_id: str = PROVIDER_ID) -> str:
    link = stack.admin("POST", "connections/google/connect-link", {"provider_id": provider_id, "return_url": None})
    assert link.status == 200, link
    assert link.json()["url"].startswith(f"{stack.api}/oauth/google/start?intent=")
    return link.json()["url"]


def consent_page(stack, provider_id: str = PROVIDER_ID) -> tuple[str, Response]:
    """The provider's connect link opened, its redirect to Google followed: (authorize URL, consent page)."""
    start = stack.get(connect_link(stack, provider_id))
    assert start.status == 302, start
    authorize = start.headers["location"]
    assert authorize.startswith(f"{stack.info['google_sandbox_url']}/o/oauth2/v2/auth?"), authorize
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)
    assert query["scope"][0].split() == ["openid", "email", CALENDAR_SCOPE], query
    assert (query["access_type"], query["code_challenge_method"]) == (["offline"], ["S256"]), query
    assert query["code_challenge"][0] and query["state"][0], query
    assert query["redirect_uri"] == [f"{stack.api}/oauth/google/callback"], query
    assert "prompt" not in query, "the first ask does not force the consent screen"
    return authorize, open_consent(authorize)


def open_consent(authorize: str) -> Response:
    page = request(authorize)
    assert page.status == 200, page
    assert "text/html" in page.headers["content-type"]
    return page


def consent_form(page: Response) -> Form:
    (form,) = forms(page.text)
    assert {label for label, _, _ in form.buttons} == {"Allow", "Cancel"}, form.buttons
    assert ("grant_calendar", "on") in form.fields, "the calendar permission is ticked to begin with"
    return form


def answer(stack, authorize: str, page: Response, button: str, user_id: str = OWNER,
           grant_calendar: bool = True) -> str:
    """Click ``button`` on the consent page as ``user_id`` (the calendar permission ticked or not): Google's
    redirect back to our callback, which is returned."""
    form = consent_form(page).choose("user_id", user_id)
    if not grant_calendar:
        form = Form(form.action, form.method, [f for f in form.fields if f[0] != "grant_calendar"],
                    form.buttons, form.options)
    method, url, body = form.submission(authorize, button)
    back = request(url, method, body, {"Content-Type": "application/x-www-form-urlencoded"})
    assert back.status == 302, back
    callback = back.headers["location"]
    assert callback.startswith(f"{stack.api}/oauth/google/callback?"), callback
    return callback


def connect(stack, provider_id: str = PROVIDER_ID, user_id: str = OWNER) -> tuple[Response, list[str]]:
    """The whole consent with Allow, asked again as often as our callback sends the browser back to Google:
    (our last page, the authorize URLs the browser was sent to)."""
    authorize, page = consent_page(stack, provider_id)
    asked = [authorize]
    for _ in range(3):
        done = stack.get(answer(stack, authorize, page, "Allow", user_id))
        if done.status != 302:
            return done, asked
        authorize = done.headers["location"]
        assert authorize.startswith(f"{stack.info['google_sandbox_url']}/o/oauth2/v2/auth?"), authorize
        asked.append(authorize)
        page = open_consent(authorize)
    raise AssertionError(f"still sent back to Google after {len(asked)} asks: {asked}")


def own_account(stack, provider_id: str = PROVIDER_ID) -> Response:
    return stack.admin("GET", f"providers/{provider_id}/account")


def ensure_connected(stack) -> dict:
    account = own_account(stack)
    if account.status != 200 or (account.json()["type"], account.json()["status"]) != ("google", "active"):
        page, _ = connect(stack)
        assert page.status == 200, page
        account = own_account(stack)
    assert (account.json()["type"], account.json()["status"]) == ("google", "active"), account
    return account.json()


def new_google_user(stack) -> tuple[str, str]:
    """A Google account of the calling test's own, so no other test's account shares its grant: (sub, email)."""
    tag = uuid.uuid4().int % 10**12
    user_id, email = f"106{tag:012d}", f"user-{tag}@example.com"
    added = sandbox(stack, "POST", "users", {"user_id": user_id, "email": email, "name": f"User {tag}"})
    assert added.status == 201, added
    return user_id, email


def new_provider(stack) -> str:
    provider_id = f"prov-g-{uuid.uuid4().hex[:8]}"
    made = stack.admin("PUT", f"providers/{provider_id}", {"name": "Gale Google", "email": "gale@example.com",
                                                           "timezone": "Asia/Kolkata"})
    assert made.status == 200, made
    return provider_id


def alert_kinds(stack, account_id: str) -> list[str]:
    """The kinds of the alerts of an account's group (no HTTP surface shows them): the one sent at once and
    those kept for the digest."""
    item = stack.aws("dynamodb").get_item(
        TableName=stack.info["table_name"], ConsistentRead=True,
        Key={"pk": {"S": f"TENANT#{stack.tenant_id}"}, "sk": {"S": f"ALERTGROUP#{account_id}"}}).get("Item", {})
    sent = json.loads(item["outgoing"]["S"])["alerts"] if "S" in item.get("outgoing", {}) else []
    kept = json.loads(item["pending"]["S"]) if "S" in item.get("pending", {}) else []
    return [alert["kind"] for alert in sent + kept]


def instant(when: dict) -> dt.datetime:
    """An event's start or end as an instant (Google answers it in the event's zone, with its offset)."""
    return dt.datetime.fromisoformat(when["dateTime"].replace("Z", "+00:00"))


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def book(stack, start: dt.datetime, **kwargs) -> tuple[Booking, dict]:
    booking = Booking(Client.unique(), start=start, provider_id=PROVIDER_ID, **kwargs)
    resp = stack.post_webhook(booking.event("booking.created"))
    assert resp.status == 202, resp
    return booking, stack.wait_for_links(booking)


# --- tests -----------------------------------------------------------------------------------------


def test_connecting_google_with_allow_makes_it_the_providers_own_account(stack):
    # A Google user and a provider of this test's own: a first grant, whatever ran before on this stack.
    user_id, email = new_google_user(stack)
    provider_id = new_provider(stack)
    authorize, page = consent_page(stack, provider_id)
    callback = answer(stack, authorize, page, "Allow", user_id)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query)
    assert {"code", "state", "scope"} <= set(query), query
    assert CALENDAR_SCOPE in query["scope"][0].split(), query
    done = stack.get(callback)
    assert done.status == 200, done
    assert "text/html" in done.headers["content-type"]
    assert "Google Meet is connected" in done.text
    assert email in done.text

    account = own_account(stack, provider_id)
    assert account.status == 200, account
    assert (account.json()["type"], account.json()["status"]) == ("google", "active"), account
    assert account.json()["email"] == email
    assert live_grants(stack, user_id) == 1
    # The company account and prov-demo's are as the seed left them.
    assert stack.admin("GET", "accounts/default").json()["type"] == "custom_link"

    again = stack.get(callback)  # the same redirect once more (reload): the state is single-use
    assert 400 <= again.status < 500, again
    assert "text/html" in again.headers["content-type"]
    assert query["code"][0] not in stack.log_path.read_text(errors="replace"), "no OAuth code in the request log"


def test_a_user_who_granted_before_is_asked_again_with_the_consent_screen(stack):
    ensure_connected(stack)  # Olive has a live grant for this client: Google gives no refresh token at first
    provider_id = new_provider(stack)
    page, asked = connect(stack, provider_id)
    assert len(asked) == 2, asked
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(asked[1]).query)["prompt"] == ["consent"], asked[1]
    assert page.status == 200 and "Google Meet is connected" in page.text, page
    account = own_account(stack, provider_id)
    assert (account.json()["type"], account.json()["status"]) == ("google", "active"), account


def test_cancel_ends_on_a_connection_cancelled_page(stack):
    before = own_account(stack)
    authorize, page = consent_page(stack)
    callback = answer(stack, authorize, page, "Cancel")
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query)
    assert query["error"] == ["access_denied"] and query["state"][0], query
    cancelled = stack.get(callback)
    assert 400 <= cancelled.status < 500, cancelled
    assert "text/html" in cancelled.headers["content-type"]
    assert "Connection cancelled" in cancelled.text
    after = own_account(stack)
    assert (after.status, after.body) == (before.status, before.body)


def test_allow_without_the_calendar_permission_ends_on_a_page_saying_it_is_needed(stack):
    provider_id = new_provider(stack)
    authorize, page = consent_page(stack, provider_id)
    callback = answer(stack, authorize, page, "Allow", user_id=DANA, grant_calendar=False)
    granted = urllib.parse.parse_qs(urllib.parse.urlsplit(callback).query)["scope"][0].split()
    assert CALENDAR_SCOPE not in granted, granted
    refused = stack.get(callback)
    assert 400 <= refused.status < 500, refused
    assert "text/html" in refused.headers["content-type"]
    assert "calendar" in refused.text.lower() and "Traceback" not in refused.text
    assert own_account(stack, provider_id).status == 404


def test_a_booking_gets_a_meet_link_that_both_join_links_lead_to(stack):
    account = ensure_connected(stack)
    booking, view = book(stack, (now() - dt.timedelta(minutes=1)).replace(microsecond=0))
    assert (view["meeting"]["provider"], view["meeting"]["account_id"]) == ("google", account["id"]), view

    meet_links = {e.get("hangoutLink") for e in sandbox_events(stack).values()} - {None}
    for link in (view["links"]["clients"][booking.client.id], view["links"]["provider"]):
        opened = stack.click_join(link)
        assert opened.status == 303, opened
        meet = opened.headers["location"]
        assert meet in meet_links, (meet, meet_links)
        assert meet.startswith(f"{stack.info['google_sandbox_url']}/meet/")
        assert request(meet).status == 200


def test_one_calendar_call_per_booking_created_rescheduled_and_cancelled(stack):
    ensure_connected(stack)
    stack.wait_until_drained()
    before = set(sandbox_events(stack))
    # A booking in a zone with a half-hour offset: the event starts at the booked instant, in the booking's zone.
    booking = Booking(Client.unique(), start=(now() + dt.timedelta(days=3)).replace(second=0, microsecond=0),
                      provider_id=PROVIDER_ID, timezone="Asia/Kolkata")
    counts: dict[str, Counter] = {}

    def view() -> dict:
        resp = stack.booking_view(booking.id)
        return resp.json() if resp.status == 200 else {}

    def post(kind: str, settled) -> None:
        reset_calls(stack)
        resp = stack.post_webhook(booking.event(f"booking.{kind}"))
        assert resp.status == 202, resp
        stack.wait_for(f"the booking to be {kind}", settled)
        stack.wait_until_drained()
        counts[kind] = event_calls(sandbox_calls(stack))

    post("created", lambda: stack.wait_for_links(booking))
    links = view()["links"]
    [(event_id, event)] = [(k, e) for k, e in sandbox_events(stack).items() if k not in before]
    assert instant(event["start"]) == booking.start and event["start"]["timeZone"] == "Asia/Kolkata", event["start"]

    booking.start += dt.timedelta(hours=1, minutes=30)
    post("rescheduled", lambda: dt.datetime.fromisoformat(view()["booking"]["start"]) == booking.start)
    moved = sandbox_events(stack)[event_id]
    assert instant(moved["start"]) == booking.start, moved["start"]
    assert moved.get("hangoutLink") == event.get("hangoutLink"), "the Meet link stays through a reschedule"
    assert view()["links"] == links, "our links stay the same"

    post("cancelled", lambda: view()["booking"]["status"] == "cancelled")
    assert sandbox_events(stack)[event_id]["status"] == "cancelled"

    assert counts == {"created": Counter(insert_event=1), "rescheduled": Counter(patch_event=1),
                      "cancelled": Counter(delete_event=1)}, counts


def test_a_class_session_is_one_event_and_each_client_has_a_link_of_their_own(stack):
    ensure_connected(stack)
    stack.wait_until_drained()
    before = set(sandbox_events(stack))
    reset_calls(stack)
    start = (now() + dt.timedelta(days=4)).replace(second=0, microsecond=0)
    session_id = f"e2e-google-{uuid.uuid4().hex[:8]}"
    bookings = [Booking(Client.unique(), start=start, provider_id=PROVIDER_ID) for _ in range(3)]
    for booking in bookings:
        event = booking.event()
        event["booking"]["session_id"] = session_id
        assert stack.post_webhook(event).status == 202
    views = [stack.wait_for_links(booking) for booking in bookings]
    stack.wait_until_drained()

    assert event_calls(sandbox_calls(stack)) == Counter(insert_event=1)
    new = [e for k, e in sandbox_events(stack).items() if k not in before]
    assert len(new) == 1, new
    client_links = [view["links"]["clients"][booking.client.id] for view, booking in zip(views, bookings)]
    assert len(set(client_links)) == len(bookings), client_links
    assert {view["meeting"]["key"] for view in views} == {f"session:{session_id}"}


def test_disconnecting_revokes_the_grant_at_google(stack):
    user_id, email = new_google_user(stack)
    provider_id = new_provider(stack)
    page, _ = connect(stack, provider_id, user_id=user_id)
    assert page.status == 200 and email in page.text, page
    assert live_grants(stack, user_id) == 1
    reset_calls(stack)
    gone = stack.admin("DELETE", f"providers/{provider_id}/account")
    assert gone.status == 200, gone
    stack.wait_for("the grant revoked at Google", lambda: live_grants(stack, user_id) == 0)
    assert sandbox_calls(stack)["revoke"] == 1
    account = own_account(stack, provider_id)
    assert account.status == 404 or account.json()["status"] == "disconnected", account


def test_disconnecting_one_of_two_accounts_of_one_google_user_keeps_the_grant_the_other_needs(stack):
    # Google's revoke ends the user's whole grant to our client, every token of it, the other account's too.
    user_id, _ = new_google_user(stack)
    first, second = new_provider(stack), new_provider(stack)
    for provider_id in (first, second):
        page, _ = connect(stack, provider_id, user_id=user_id)
        assert page.status == 200, page
    reset_calls(stack)
    assert stack.admin("DELETE", f"providers/{first}/account").status == 200
    stack.wait_until_drained()
    assert sandbox_calls(stack)["revoke"] == 0
    assert live_grants(stack, user_id) >= 1
    booking = Booking(Client.unique(), start=(now() - dt.timedelta(minutes=1)).replace(microsecond=0),
                      provider_id=second)
    assert stack.post_webhook(booking.event()).status == 202
    view = stack.wait_for_links(booking)
    assert view["meeting"]["provider"] == "google", view
    assert (own_account(stack, second).json()["status"]) == "active"


def test_a_grant_revoked_at_google_marks_the_account_and_raises_an_alert(stack):
    # A provider and a Google user of this test's own: an account with no alert before this one, so its
    # first alert is sent at once rather than kept for the hour's digest.
    alerts_to = "alerts-google@acme.example"
    assert stack.admin("PUT", "settings/alerts", {"emails": [alerts_to], "webhook_url": None}).status == 200
    provider_id = new_provider(stack)
    page, _ = connect(stack, provider_id, user_id=DANA)
    assert page.status == 200 and "dana@example.com" in page.text, page
    account = own_account(stack, provider_id).json()
    # Dana removes the app in her Google account: its refresh tokens and access tokens stop working.
    assert sandbox(stack, "POST", "revoke-grants", {"user_id": DANA}).status == 204
    assert live_grants(stack, DANA) == 0

    booking = Booking(Client.unique(), start=(now() + dt.timedelta(days=5)).replace(microsecond=0),
                      provider_id=provider_id)
    assert stack.post_webhook(booking.event()).status == 202
    marked = stack.wait_for("the account marked", lambda: (lambda a: a if a.get("status") == "needs_reconnect"
                                                                        else None)(own_account(stack, provider_id).json()))
    assert marked["id"] == account["id"]
    # The account's break, the booking that fell back from it and the account's meetings moved are alerts of
    # one group (the account): the one the alerts function reads first is emailed at once, the others are kept
    # for the hour's digest. So the break is one of the group's alerts, sent or kept, and one email went out.
    stack.wait_for("the break among the account's alerts",
                   lambda: "connection_broken" in alert_kinds(stack, account["id"]))
    # (Other accounts' alerts of this module may reach the same address: Dana's names her.)
    [email] = stack.wait_for_emails(1, to=alerts_to, mentioning="connected as dana@example.com")
    assert email["subject"].startswith("Alert: "), email
    # The booking is not lost: it is hosted by the next account of the chain (the company's demo room).
    view = stack.wait_for_links(booking)
    assert view["meeting"]["account_id"] != account["id"] and view["meeting"]["provider"] != "google", view


def test_a_conference_still_pending_is_read_again_until_its_meet_link_is_ready(stack):
    ensure_connected(stack)
    stack.wait_until_drained()
    reset_calls(stack)
    assert sandbox(stack, "POST", "conference-pending", {"reads": 2}).status == 200
    try:
        booking, view = book(stack, (now() - dt.timedelta(minutes=1)).replace(microsecond=0))
    finally:
        assert sandbox(stack, "POST", "conference-pending", {"reads": 0}).status == 200
    stack.wait_until_drained()
    calls = sandbox_calls(stack)
    assert event_calls(calls) == Counter(insert_event=1), calls
    assert calls["get_event"] >= 2, calls  # pending twice, then ready
    opened = stack.click_join(view["links"]["clients"][booking.client.id])
    assert opened.status == 303 and opened.headers["location"].startswith(
        f"{stack.info['google_sandbox_url']}/meet/"), opened


def test_a_rate_limited_insert_is_tried_again_after_google_s_retry_after_and_makes_one_event(stack):
    ensure_connected(stack)
    stack.wait_until_drained()
    before = set(sandbox_events(stack))
    reset_calls(stack)
    assert sandbox(stack, "POST", "rate-limit", {"operation": "insert_event", "retry_after": 1}).status == 201
    booking, view = book(stack, (now() + dt.timedelta(days=7)).replace(microsecond=0))
    stack.wait_until_drained()
    assert len(set(sandbox_events(stack)) - before) == 1
    inserts = sandbox(stack, "GET", "calls?operation=insert_event").json()["calls"]
    assert [c["status"] for c in inserts] == [429, 200], inserts
    assert view["meeting"]["provider"] == "google", view


def test_an_event_its_host_deleted_is_found_by_the_health_check_and_made_again_behind_the_same_links(stack):
    ensure_connected(stack)
    stack.wait_until_drained()
    before = set(sandbox_events(stack))
    # Within the check's window an hour ahead.
    booking, view = book(stack, (now() + dt.timedelta(hours=1, minutes=5)).replace(microsecond=0))
    [removed] = set(sandbox_events(stack)) - before
    assert sandbox(stack, "POST", "remove-event", {"event_id": removed}).status == 204
    assert sandbox_events(stack)[removed]["status"] == "cancelled"

    ran = request(f"{stack.api}/_local/schedules/HealthFunction", "POST")
    assert ran.status == 202, ran

    def live() -> list[dict]:
        return [e for k, e in sandbox_events(stack).items() if k not in before and e["status"] == "confirmed"]

    [event] = stack.wait_for("the event made again", live)
    stack.wait_until_drained()
    assert len(live()) == 1, live()
    assert stack.booking_view(booking.id).json()["links"] == view["links"]
    opened = stack.click_join(view["links"]["provider"])
    assert opened.status in (200, 303), opened  # the host may open the room an hour early, or wait for it
    if opened.status == 303:
        assert opened.headers["location"] == event["hangoutLink"], opened


@pytest.mark.parametrize("query", [
    "",
    "state=forged&code=4/0AX4XfWh",
    "error=access_denied&state=forged",
    "error=invalid_scope",
    "code=%FF%FE&state=%00" + "x" * 3000,
    "state=a&state=b&code=c&code=d",
], ids=["nothing", "forged-state", "denied-forged-state", "error-without-state", "garbage", "repeated"])
def test_a_callback_google_did_not_send_ends_on_a_page_never_a_server_error(stack, query):
    before = own_account(stack)
    page = stack.get(f"/oauth/google/callback?{query}")
    assert 400 <= page.status < 500, page
    assert "text/html" in page.headers["content-type"]
    assert "Traceback" not in page.text and "4/0AX4XfWh" not in page.text
    after = own_account(stack)
    assert (after.status, after.body) == (before.status, before.body)


def test_a_booking_webhook_delivered_twice_makes_one_event(stack):
    ensure_connected(stack)
    stack.wait_until_drained()
    before = set(sandbox_events(stack))
    reset_calls(stack)
    booking = Booking(Client.unique(), start=(now() + dt.timedelta(days=8)).replace(microsecond=0),
                      provider_id=PROVIDER_ID, timezone="America/St_Johns")  # UTC-03:30 / -02:30
    created = booking.event("booking.created")
    assert stack.post_webhook(created).status == 202
    stack.wait_for_links(booking)
    stack.wait_until_drained()
    # The platform sends it again (a 202 it lost). Within the first delivery's claim lease it is told to retry
    # (503, Retry-After), as the platform's retry would be; the one after the lease publishes it again, and the
    # meetings function applies it once.
    again = stack.post_webhook(created)
    deadline = time.monotonic() + 60
    while again.status == 503 and time.monotonic() < deadline:
        time.sleep(int(again.headers["retry-after"]))
        again = stack.post_webhook(created)
    assert again.status == 202, again
    stack.wait_until_drained()
    assert event_calls(sandbox_calls(stack)) == Counter(insert_event=1)
    [event] = [e for k, e in sandbox_events(stack).items() if k not in before]
    assert instant(event["start"]) == booking.start and event["start"]["timeZone"] == "America/St_Johns", event
