"""The lists over HTTP on the local stack: the tenant's zone is set, and its bookings come back by start,
a page at a time, filtered by provider."""

import datetime as dt
import random
import urllib.parse

import pytest
from e2e_support import Booking, Client

pytestmark = pytest.mark.e2e

OTHER_PROVIDER = "prov-lists-other"


def _bookings_page(stack, **query):
    return stack.admin("GET", "bookings?" + urllib.parse.urlencode(query))


def test_bookings_are_listed_by_start_a_page_at_a_time(stack):
    assert stack.admin("PUT", "settings/general", {"timezone": "Europe/Paris"}).json() == {"timezone": "Europe/Paris"}
    assert stack.admin("GET", "settings/general").json() == {"timezone": "Europe/Paris"}
    assert stack.admin("PUT", f"providers/{OTHER_PROVIDER}", {"name": "Olga Other"}).status == 200
    # A window of three hours 20 days out, at a random minute, that no other test books into.
    first = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=20, minutes=random.randrange(60 * 24))).replace(
        second=0, microsecond=0)
    booked = [Booking(Client.unique(), start=first + dt.timedelta(hours=hour),
                      provider_id=OTHER_PROVIDER if hour == 1 else "prov-demo") for hour in (2, 0, 1)]
    for booking in booked:
        assert stack.post_webhook(booking.event()).status == 202
    for booking in booked:
        stack.wait_for_links(booking)
    window = {"from": first.isoformat(), "to": (first + dt.timedelta(hours=3)).isoformat(), "limit": 2}

    page = _bookings_page(stack, **window)
    assert page.status == 200, page
    following = _bookings_page(stack, **window, next=page.json()["next"]).json()

    by_start = sorted(booked, key=lambda booking: booking.start)
    assert [item["id"] for item in page.json()["items"] + following["items"]] == [b.id for b in by_start]
    assert following["next"] is None
    listed = page.json()["items"][0]
    assert listed["meeting"]["status"] == "scheduled" and listed["online"] is True and listed["status"] == "active"
    # A filter drops what does not match after the read: a page may come back short with a `next`, followed to the end.
    others, cursor = [], None
    for _ in range(3):  # three bookings in the window: at most two pages of two, and a last empty one
        answer = _bookings_page(stack, **window, provider_id=OTHER_PROVIDER, **({"next": cursor} if cursor else {})).json()
        others += [item["id"] for item in answer["items"]]
        cursor = answer["next"]
        if cursor is None:
            break
    assert others == [by_start[1].id] and cursor is None
    assert stack.admin("GET", "services").json()["items"] and stack.admin("GET", "providers").status == 200
    refused = _bookings_page(stack, limit=201)
    assert refused.status == 400 and refused.json()["field"] == "limit"
