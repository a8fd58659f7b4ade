"""The "starting now" email on the local stack: sent when the meeting's schedule starts it."""

import datetime as dt

import pytest
from e2e_support import Booking, Client, content

pytestmark = pytest.mark.e2e

PROVIDER_EMAIL = "dana@example.com"
STARTING = "Starting now"


def test_the_provider_gets_a_starting_now_email_with_their_link_after_the_start(stack):
    client = Client.unique()
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=20)).replace(microsecond=0)
    booking = Booking(client, start=start)
    resp = stack.post_webhook(booking.event("booking.created"))
    assert resp.status == 202, resp
    view = stack.wait_for_links(booking)
    provider_link = view["links"]["provider"]
    assert dt.datetime.now(dt.timezone.utc) < start, "setting up took longer than the lead time of this test"

    starting = stack.wait_for(
        "the provider's starting now email",
        lambda: [m for m in stack.emails(to=PROVIDER_EMAIL, mentioning=provider_link) if m["subject"].startswith(STARTING)],
        timeout=start.timestamp() - dt.datetime.now(dt.timezone.utc).timestamp() + 20,
    )

    assert len(starting) == 1, starting
    [email] = starting
    assert provider_link in (email["html"] or "")
    assert dt.datetime.fromisoformat(email["sent_at"].replace("Z", "+00:00")) >= start
    # starting_client is off by default: the client is not told.
    stack.wait_until_drained()
    assert not any(m["subject"].startswith(STARTING) for m in stack.emails(to=client.email)), \
        [content(m) for m in stack.emails(to=client.email)]
