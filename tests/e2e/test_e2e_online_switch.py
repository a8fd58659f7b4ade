"""Over HTTP through the local stack: a booking switched to in person loses its meeting, its links say so and its
client is told; switched back online it gets a meeting again behind the same links."""

import datetime as dt

import pytest
from e2e_support import Booking, Client, request

pytestmark = pytest.mark.e2e

IN_PERSON_PAGE = "This session is now in person"


def _view_when(stack, booking: Booking, what: str, probe) -> dict:
    def shown() -> dict | None:
        answer = stack.booking_view(booking.id)
        return answer.json() if answer.status == 200 and probe(answer.json()) else None

    return stack.wait_for(f"booking {booking.id} {what}", shown)


def _meeting_status(view: dict) -> str | None:
    # A meeting being made again is not shown (null) until it is made.
    return view["meeting"] and view["meeting"]["status"]


def test_a_booking_switched_in_person_and_back_online_keeps_its_links(stack):
    booking = Booking(Client.unique(), start=(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).replace(
        microsecond=0))
    assert stack.post_webhook(booking.event()).status == 202
    links = stack.wait_for_links(booking)["links"]
    client_link = links["clients"][booking.client.id]

    answer = stack.admin("PUT", f"bookings/{booking.id}/online", {"online": False})

    assert answer.status == 202, answer
    assert answer.json()["booking"]["online"] == {"override": False, "effective": False}
    view = _view_when(stack, booking, "held in person", lambda view: _meeting_status(view) == "cancelled")
    assert view["links"] == links
    for link in (client_link, links["provider"]):
        page = request(link)
        assert page.status == 200 and IN_PERSON_PAGE in page.text, page
    state = request(client_link + "/state")
    assert state.status == 200 and state.json()["state"] == "in_person"
    stack.wait_for_emails(1, to=booking.client.email, mentioning="Now in person")

    assert stack.admin("PUT", f"bookings/{booking.id}/online", {"online": True}).status == 202
    view = _view_when(stack, booking, "online again", lambda view: _meeting_status(view) == "scheduled")
    assert view["links"] == links and view["booking"]["online"] == {"override": True, "effective": True}
    page = request(client_link)
    assert page.status == 200 and IN_PERSON_PAGE not in page.text and "Your meeting starts soon" in page.text
