"""Mail scanners cannot open a meeting: a join link's page is fetched, and its script run, by a real
headless Chromium with no person behind it; the meeting stays unstarted. A fetch records no open; a headless
browser that shows the page for a second is what the page's opening script cannot tell from a person, and
counts once. A person's click on the page's button then starts it.

Chromium comes from Debian (`apt-get install chromium`); without the binary these tests are skipped."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
from e2e_support import Booking, Client, forms, request, submit

pytestmark = pytest.mark.e2e

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (Debian: apt-get install chromium)")

# What Outlook Safe Links, Gmail, Proofpoint and Barracuda send when they fetch a link of an email.
SCANNER_AGENTS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    "Proofpoint URL Defense",
    "BarracudaCentral/1.0",
]
# Long enough for the countdown to tick and the page's script to poll the link's state several times
# (every 2 s). With scripts on, the page has no meta refresh (it is inside <noscript>), across which
# headless Chromium would not finish a virtual-time budget.
VIRTUAL_TIME_MS = 20_000


def headless_load(url: str, profile: Path) -> str:
    """The DOM after headless Chromium loaded `url`, ran its scripts and waited, with nobody clicking."""
    command = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={profile}", f"--virtual-time-budget={VIRTUAL_TIME_MS}", "--dump-dom", url,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def book(stack, start: dt.datetime) -> tuple[Booking, dict]:
    booking = Booking(Client.unique("Asia/Kathmandu"), start=start.replace(microsecond=0))
    assert stack.post_webhook(booking.event()).status == 202
    return booking, stack.wait_for_links(booking)


def opens(stack, booking: Booking) -> list[int]:
    """How often the provider's and the client's links were opened, as the booking shows it."""
    recorded = stack.booking_view(booking.id).json()["booking"]["opens"]
    return [recorded["provider"]["count"], recorded["client"]["count"]]


def meeting_status(stack, booking: Booking) -> str:
    return stack.booking_view(booking.id).json()["meeting"]["status"]


def test_scanner_fetches_without_a_script_change_nothing(stack):
    # The provider's link inside the 15 minutes before the start, where a click starts the meeting.
    booking, view = book(stack, dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=10))
    links = [view["links"]["provider"], view["links"]["clients"][booking.client.id]]

    for link in links:
        for agent in SCANNER_AGENTS:
            for method in ("HEAD", "GET"):
                answer = request(link, method, headers={"User-Agent": agent})
                assert answer.status == 200 and "location" not in answer.headers, answer
                assert (answer.body == b"") if method == "HEAD" else answer.body

    assert opens(stack, booking) == [0, 0]
    assert meeting_status(stack, booking) == "scheduled"
    assert request(links[0], "DELETE").status == 405


@needs_chromium
def test_a_browser_running_the_page_without_a_person_starts_nothing_and_a_click_does(stack, tmp_path):
    booking, view = book(stack, dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=10))
    provider_link, client_link = view["links"]["provider"], view["links"]["clients"][booking.client.id]

    waiting = headless_load(client_link, tmp_path / "client-profile")
    host_page = headless_load(provider_link, tmp_path / "provider-profile")

    # The waiting page's script ran (its countdown ticks in seconds) and nothing was started. Headless
    # Chromium reports its page visible, so the opening script counted each page once, as for a person.
    assert "Your meeting starts soon" in waiting and " s</p>" in waiting, waiting
    assert "Start now" in host_page, host_page
    assert opens(stack, booking) == [1, 1]
    assert meeting_status(stack, booking) == "scheduled"

    # The person's click: the form the page shows, posted as the browser posts it.
    page = stack.get(provider_link)
    (form,) = forms(page.text)
    assert form.method == "POST" and form.action == "", form
    clicked = submit(provider_link, page, "Start now")
    assert clicked.status == 303 and clicked.headers["location"].startswith(stack.api), clicked
    assert opens(stack, booking) == [2, 1]
    assert meeting_status(stack, booking) == "started"
    # The client's page now has its button, which the headless browser does not press either.
    assert "Join the meeting" in headless_load(client_link, tmp_path / "client-profile-2")
    assert opens(stack, booking) == [2, 2]
