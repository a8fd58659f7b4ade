"""The waiting page in headless Chromium: it counts down on the server's clock however wrong the device's
is, turns into the meeting at the start second, and takes a client who pressed "Join when it starts"
into the meeting within a poll (2 s) of the provider's "Start now".

The meetings are Zoom's (the sandbox), so "in the meeting" is the Zoom sandbox's join page. Connecting
Zoom replaces the demo tenant's company account, so this module runs a stack of its own."""

import datetime as dt
import re
import time

import pytest
from browser_support import assert_no_horizontal_scroll
from e2e_support import Booking, Client, request, running_stack, submit
from playwright.sync_api import expect

# How long the device's clock is off, both ways.
SKEWS = [pytest.param(90, id="device-90s-fast"), pytest.param(-90, id="device-90s-slow")]
# The booking is made this long before its start: enough for the meeting, its links, the page, its
# screenshot and axe-core's check, on a loaded machine.
LEAD_SECONDS = 30
# The page's state poll (web/countdown.js), and what a loaded machine may add to a change (the local
# stack's answers and the browser's timers): far below the 30 s of the page's refresh without JavaScript
# and the 90 s the device's clock is off, so a page that missed the poll or the server's clock still fails.
POLL_SECONDS, SLACK_SECONDS = 2, 3
# How long to wait for a page that changes by itself, beyond when it is due (the e2e helpers' wait).
WAIT_MS = 20_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("waiting-page-stack")) as running:
        connect_zoom(running)
        yield running


def connect_zoom(stack) -> None:
    """The company's Zoom account, connected through the sandbox's consent page with Allow."""
    link = stack.admin("POST", "connections/zoom/connect-link", {"provider_id": None, "return_url": None})
    assert link.status == 200, link
    authorize = stack.get(link.json()["url"]).headers["location"]
    back = submit(authorize, request(authorize), "Allow")
    assert back.status == 302, back
    assert stack.get(back.headers["location"]).status == 200


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def book(stack, start: dt.datetime) -> tuple[Booking, str, str]:
    """A Zoom meeting starting at `start`: the booking, the client's join link and the provider's."""
    booking = Booking(Client.unique("Europe/Lisbon"), start=start)
    assert stack.post_webhook(booking.event()).status == 202
    view = stack.wait_for_links(booking)
    assert view["meeting"]["provider"] == "zoom", view["meeting"]
    return booking, view["links"]["clients"][booking.client.id], view["links"]["provider"]


def navigations(page) -> list:
    """The page's navigation requests from now on; each one's `timing` is the browser's, on the real clock."""
    sent = []
    page.on("request", lambda request: sent.append(request) if request.is_navigation_request() else None)
    return sent


def sent_at(request) -> dt.datetime:
    return dt.datetime.fromtimestamp(request.timing["startTime"] / 1000, dt.timezone.utc)


def ms_until(moment: dt.datetime) -> float:
    return max(0.0, (moment - now()).total_seconds() * 1000)


def seconds_shown(page) -> int:
    """The countdown as the page shows it, in seconds."""
    text = page.locator("#countdown").inner_text()
    parts = re.fullmatch(r"Starts in (?:(\d+) d )?(?:(\d+) h )?(?:(\d+) min )?(\d+) s", text)
    assert parts, text
    days, hours, minutes, seconds = (int(part or 0) for part in parts.groups())
    return ((days * 24 + hours) * 60 + minutes) * 60 + seconds


def assert_counts_to(page, start: dt.datetime) -> None:
    """The countdown shows the seconds left by the server's clock (this machine's), give or take one:
    read after the page's first poll, which refines its measure of the device's clock."""
    with page.expect_response(lambda answer: answer.url.endswith("/state")):
        pass
    page.wait_for_timeout(1100)  # the next tick of the countdown
    left = (start - now()).total_seconds()
    assert abs(seconds_shown(page) - left) <= SLACK_SECONDS, (page.locator("#countdown").inner_text(), left)


@pytest.mark.parametrize("skew", SKEWS)
def test_the_countdown_follows_the_servers_clock_and_the_page_opens_at_the_start(
        stack, new_page, shoot, check_accessible, skew):
    start = (now() + dt.timedelta(seconds=LEAD_SECONDS)).replace(microsecond=0)
    _, client_link, _ = book(stack, start)
    page = new_page(width=375)
    page.clock.install(time=now() + dt.timedelta(seconds=skew))
    sent = navigations(page)

    page.goto(client_link)

    device_ahead = page.evaluate("Date.now()") / 1000 - time.time()
    assert abs(device_ahead - skew) < 1, device_ahead
    expect(page.get_by_role("heading", level=1)).to_have_text("Your meeting starts soon")
    assert_counts_to(page, start)
    shoot(page, f"waiting-{'fast' if skew > 0 else 'slow'}-device")
    check_accessible(page, "waiting page")

    # At the start second (the server's) the page loads again: the meeting's page, its button focused.
    join = page.get_by_role("button", name="Join the meeting")
    expect(join).to_be_visible(timeout=ms_until(start) + WAIT_MS)
    reload = sent[-1]
    assert (reload.method, reload.url) == ("GET", client_link)
    assert sent_at(reload) <= start + dt.timedelta(seconds=SLACK_SECONDS), (start, sent_at(reload))
    expect(join).to_be_focused()
    shoot(page, "meeting-open")
    check_accessible(page, "meeting open")

    # The person's click takes them into the meeting (the Zoom sandbox's join page).
    join.click()
    page.wait_for_url(f"{stack.info['zoom_sandbox_url']}/j/**")
    expect(page.locator("body")).to_contain_text("joined meeting")


def test_a_client_who_pressed_join_when_it_starts_is_taken_in_at_the_start(stack, new_page, shoot, check_accessible):
    start = (now() + dt.timedelta(seconds=LEAD_SECONDS)).replace(microsecond=0)
    _, client_link, _ = book(stack, start)
    page = new_page(width=375)
    page.clock.install(time=now() - dt.timedelta(seconds=90))
    page.goto(client_link)
    sent = navigations(page)

    page.get_by_role("button", name="Join when it starts").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("You will be taken in when it starts")
    assert page.url == client_link
    shoot(page, "taken-in-at-the-start")
    check_accessible(page, "waiting page after Join when it starts")
    page.wait_for_url(f"{stack.info['zoom_sandbox_url']}/j/**", timeout=ms_until(start) + WAIT_MS)
    expect(page.locator("body")).to_contain_text("joined meeting")
    # The page's own post of the form, at the start second: the first after the person's click.
    clicked, taken_in = [request for request in sent if request.method == "POST"][:2]
    assert sent_at(clicked) < start <= sent_at(taken_in) + dt.timedelta(seconds=0.1)
    assert sent_at(taken_in) <= start + dt.timedelta(seconds=SLACK_SECONDS), (start, sent_at(taken_in))


def start_by_the_providers_page(stack, booking, provider_link, new_page, shoot, check_accessible) -> None:
    provider = new_page(width=375)
    provider.goto(provider_link)
    start_now = provider.get_by_role("button", name="Start now")
    expect(start_now).to_be_focused()
    expect(provider.locator("main")).to_contain_text("lets your clients in")
    shoot(provider, "provider-start-now")
    check_accessible(provider, "provider's Start now page")
    start_now.click()
    provider.wait_for_url(f"{stack.info['zoom_sandbox_url']}/s/**")


def start_by_the_admin_api(stack, booking, *_) -> None:
    started = stack.admin("POST", f"bookings/{booking.id}/start")
    assert started.status == 200, started


STARTS = [
    pytest.param(start_by_the_providers_page, "provider", id="provider-start-now"),
    pytest.param(start_by_the_admin_api, "manual", id="admin-api-start"),
]


@pytest.mark.parametrize(("start_meeting", "started_by"), STARTS)
def test_a_manual_start_takes_a_waiting_client_in(stack, new_page, shoot, check_accessible, start_meeting, started_by):
    start = (now() + dt.timedelta(minutes=10)).replace(microsecond=0)
    booking, client_link, provider_link = book(stack, start)
    client = new_page(width=375)
    client.goto(client_link)
    client.get_by_role("button", name="Join when it starts").click()
    expect(client.get_by_role("heading", level=1)).to_have_text("You will be taken in when it starts")
    sent = navigations(client)

    start_meeting(stack, booking, provider_link, new_page, shoot, check_accessible)

    client.wait_for_url(f"{stack.info['zoom_sandbox_url']}/j/**", timeout=WAIT_MS)
    expect(client.locator("body")).to_contain_text("joined meeting")
    meeting = stack.booking_view(booking.id).json()["meeting"]
    assert meeting["started_by"] == started_by
    # Within a poll of the start: the page's post of its form, the next navigation after it.
    started_at = dt.datetime.fromisoformat(meeting["started_at"])
    taken_in = sent[0]
    assert taken_in.method == "POST" and taken_in.url == client_link
    assert started_at <= sent_at(taken_in) <= started_at + dt.timedelta(seconds=POLL_SECONDS + SLACK_SECONDS), \
        (started_at, sent_at(taken_in))


SET_VISIBILITY = """visibility => {
    Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => visibility});
    document.dispatchEvent(new Event('visibilitychange'));
}"""


def test_the_page_polls_only_while_it_is_visible(stack, new_page):
    _, client_link, _ = book(stack, (now() + dt.timedelta(minutes=10)).replace(microsecond=0))
    page = new_page(width=375)
    polls = []
    page.on("request", lambda sent: polls.append(sent.url) if sent.url.endswith("/state") else None)
    # Two polls while visible, however slowly the local stack answers the first.
    for _ in range(2):
        with page.expect_request(lambda sent: sent.url.endswith("/state"), timeout=WAIT_MS):
            if not polls:
                page.goto(client_link)
    assert len(polls) >= 2 and set(polls) == {f"{client_link}/state"}, polls

    page.evaluate(SET_VISIBILITY, "hidden")
    page.wait_for_timeout(500)  # a poll already on its way when the page was hidden
    while_hidden = len(polls)
    page.wait_for_timeout(5000)
    assert len(polls) == while_hidden, "a hidden page kept polling"

    with page.expect_request(lambda sent: sent.url.endswith("/state"), timeout=POLL_SECONDS * 1000 / 2):
        page.evaluate(SET_VISIBILITY, "visible")  # shown again: it polls at once


def test_the_providers_early_page_says_when_start_now_comes(stack, new_page, shoot, check_accessible):
    _, _, provider_link = book(stack, (now() + dt.timedelta(hours=2)).replace(microsecond=0))
    page = new_page(width=375)

    page.goto(provider_link)

    expect(page.get_by_role("heading", level=1)).to_have_text("Your meeting starts soon")
    expect(page.locator("main")).to_contain_text('"Start now" appears here 15 minutes before the start')
    expect(page.get_by_role("button", name="Open the meeting room")).to_be_visible()
    assert 2 * 3600 - 60 <= seconds_shown(page) <= 2 * 3600
    assert_no_horizontal_scroll(page)
    shoot(page, "provider-early")
    check_accessible(page, "provider's early page")
