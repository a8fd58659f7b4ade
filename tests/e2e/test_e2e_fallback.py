"""The hosting chain through the local stack, over HTTP only: with the company account disconnected a booking
fails; setting the tenant's fallback custom link gives it its meeting there (connection.connected through the
bus to the meetings function), says why it fell back, and the accounts dashboard shows both accounts.

It disconnects the demo tenant's company account, so this module runs a stack of its own."""

import datetime as dt

import pytest
from e2e_support import Booking, Client, running_stack

pytestmark = pytest.mark.e2e

FALLBACK_ROOM = {"type": "custom_link", "url": "https://meet.example.com/fallback-room", "description": "Fallback"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("fallback-stack")) as running:
        yield running


def test_a_booking_failed_for_lack_of_an_account_gets_its_meeting_on_the_fallback(stack):
    company = stack.admin("DELETE", "accounts/default")
    assert company.status == 200 and company.json()["status"] == "disconnected", company
    booking = Booking(Client.unique(), dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=1))
    assert stack.post_webhook(booking.event()).status == 202

    def failed():
        view = stack.booking_view(booking.id)
        return view.status == 200 and (view.json()["booking"]["problem"] or "").startswith("No meeting account")

    stack.wait_for("the booking to fail for lack of an account", failed)
    assert stack.booking_view(booking.id).json()["meeting"] is None

    fallback = stack.admin("PUT", "accounts/fallback", FALLBACK_ROOM)
    assert fallback.status == 200, fallback

    view = stack.wait_for_links(booking)
    assert view["booking"]["problem"] is None
    assert view["meeting"]["account"] == {"id": fallback.json()["id"], "slot": "fallback", "type": "custom_link"}
    assert view["meeting"]["fallback_reason"] == "The company custom link account is disconnected"
    dashboard = stack.admin("GET", "accounts")
    assert dashboard.status == 200, dashboard
    listed = {account["slot"]: account for account in dashboard.json()["accounts"]}
    assert listed["company"]["id"] == company.json()["id"] and listed["company"]["status"] == "disconnected"
    assert listed["fallback"]["future_meetings"] == 1 and listed["fallback"]["url"] == FALLBACK_ROOM["url"]
