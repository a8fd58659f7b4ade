"""Join analytics over HTTP through the local stack: the page's `POST /j/{token}/opened` counts an open, a GET
or a post from another site does not, and the booking shows the opens and its no-show evidence."""

from __future__ import annotations

import datetime as dt

import pytest
from e2e_support import Booking, Client, request

pytestmark = pytest.mark.e2e


def test_the_pages_opening_post_is_counted_and_looking_or_another_site_is_not(stack):
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(hours=2)
    booking = Booking(Client.unique("Europe/Paris"), start=start)
    assert stack.post_webhook(booking.event()).status == 202
    links = stack.wait_for_links(booking)["links"]
    client_link = links["clients"][booking.client.id]

    assert request(client_link, "GET").status == 200
    assert request(client_link, "HEAD").status == 200
    looked = request(client_link + "/opened", "GET")
    assert looked.status == 405 and looked.headers["allow"] == "POST"
    assert request(client_link + "/opened", "POST", headers={"Sec-Fetch-Site": "cross-site"}).status == 403
    unknown = request(stack.api + "/j/no-such-link/opened", "POST", headers={"Sec-Fetch-Site": "same-origin"})
    assert unknown.status == 404 and unknown.json()["error"], unknown

    recorded = request(client_link + "/opened", "POST", headers={"Sec-Fetch-Site": "same-origin"})
    assert recorded.status == 204 and recorded.body == b"", recorded

    shown = stack.booking_view(booking.id).json()["booking"]
    assert shown["opens"]["client"]["count"] == 1 and shown["opens"]["client"]["first"] is not None
    assert shown["opens"]["provider"] == {"first": None, "last": None, "count": 0}
    assert shown["no_show_evidence"] is None  # before the start
