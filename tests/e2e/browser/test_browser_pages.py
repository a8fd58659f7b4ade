"""Each page a person can meet through a join link, in headless Chromium at a phone's width (375 px) and
a desktop's: a screenshot, axe-core's check, and, on the phone, no sideways scrolling.

The bookings behind the pages are made once for the module, on the e2e session stack; the provider
whose account is disconnected is one of this module's own, so the demo tenant's accounts stay as
the other e2e tests expect them."""

import datetime as dt

import pytest
from browser_support import assert_no_horizontal_scroll, new_provider
from e2e_support import Booking, Client
from playwright.sync_api import expect

WIDTHS = [pytest.param(375, id="375px"), pytest.param(1280, id="desktop")]
# (status, heading) of each page, by the name its screenshots get.
PAGES = {
    "waiting": (200, "Your meeting starts soon"),
    "open": (200, "Your meeting is open"),
    "payment-required": (402, "Payment needed to join"),
    "cancelled": (410, "This meeting was cancelled"),
    "unavailable": (503, "The meeting is unavailable"),
    "not-found": (404, "Link not found"),
}


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def post_created(stack, booking: Booking, *, payment_required: bool = False) -> Booking:
    event = booking.event("booking.created")
    if payment_required:
        event["booking"]["payment"] = {"required": True, "status": "pending"}
    resp = stack.post_webhook(event)
    assert resp.status == 202, resp
    return booking


def provider_with_own_room(stack) -> str:
    """A provider of this module whose own meeting account is a custom link (the stack's demo room)."""
    provider_id = new_provider(stack)
    resp = stack.admin("PUT", f"providers/{provider_id}/account",
                       {"type": "custom_link", "url": f"{stack.api}/_local/room/demo"})
    assert resp.status in (200, 201), resp
    return provider_id


def wait_for_status(stack, link: str, status: int) -> None:
    stack.wait_for(f"{link} to answer {status}", lambda: stack.get(link).status == status)


@pytest.fixture(scope="module")
def links(stack) -> dict[str, str]:
    """The URL of each page in PAGES. The bookings are all posted first, then awaited: the stack makes
    their meetings side by side."""
    later = now() + dt.timedelta(hours=2)
    provider_id = provider_with_own_room(stack)
    bookings = {
        "waiting": post_created(stack, Booking(Client.unique(), start=later)),
        "open": post_created(stack, Booking(Client.unique(), start=now() - dt.timedelta(minutes=1))),
        "payment-required": post_created(stack, Booking(Client.unique(), start=later), payment_required=True),
        "cancelled": post_created(stack, Booking(Client.unique(), start=later)),
        # Ended 30 minutes ago, within the hour its page stays open: a disconnect re-homes the meetings still to
        # end, not this one, so its page is the one a meeting on a gone account shows.
        "unavailable": post_created(stack, Booking(Client.unique(), start=now() - dt.timedelta(minutes=60),
                                                   provider_id=provider_id)),
    }
    made = {name: stack.wait_for_links(booking)["links"]["clients"][booking.client.id]
            for name, booking in bookings.items()}
    made["not-found"] = f"{stack.api}/j/no-such-link"

    resp = stack.post_webhook(bookings["cancelled"].event("booking.cancelled"))
    assert resp.status == 202, resp
    resp = stack.admin("DELETE", f"providers/{provider_id}/account")
    assert resp.status == 200, resp
    wait_for_status(stack, made["cancelled"], 410)
    wait_for_status(stack, made["unavailable"], 503)
    return made


def open_page(links, new_page, name: str, width: int):
    status, heading = PAGES[name]
    page = new_page(width=width)
    response = page.goto(links[name])
    assert response.status == status, f"{name}: {response.status} {page.content()[:500]}"
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    return page


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_page_reads_at_the_width(new_page, links, shoot, name, width):
    page = open_page(links, new_page, name, width)
    if name == "open":
        expect(page.get_by_role("button", name="Join the meeting")).to_be_visible()
    shoot(page, name)
    if width == 375:
        assert_no_horizontal_scroll(page)


# The waiting page's timed reload is for browsers without JavaScript only (<noscript>): with it, the
# page's script polls the link's state instead, so axe-core's meta-refresh rule has nothing to find.
@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_page_has_no_serious_accessibility_violations(new_page, links, check_accessible, name, width):
    check_accessible(open_page(links, new_page, name, width), name)
