"""Notifications through `make dev`'s stack: a client with a number gets an SMS beside the email once the tenant
sends SMS, both in the client's language, listed in /_local/outbox by channel; a service that hides its links
sends the sentence instead, in both channels."""

import datetime as dt
import secrets
import urllib.parse
import uuid

import pytest
from e2e_support import Booking, Client

from meetbridge.notify.defaults import hidden_link_text

pytestmark = pytest.mark.e2e


def unique_number() -> str:
    """A UK mobile number of Ofcom's drama range, its own in this session's stack."""
    return f"+4477009{secrets.randbelow(10**5):05d}"


def booked(stack, service_id: str, locale: str, number: str) -> Booking:
    """A booking of a new client with `number`, in `locale`, on 9 March next year at 10:30 in Paris."""
    start = dt.datetime(dt.datetime.now(dt.timezone.utc).year + 1, 3, 9, 9, 30, tzinfo=dt.timezone.utc)
    booking = Booking(Client.unique(timezone="Europe/Paris"), start=start, service_id=service_id)
    event = booking.event()
    event["booking"]["client"].update(phone=number, locale=locale)
    assert stack.post_webhook(event).status == 202
    return booking


def sms_to(stack, number: str) -> list[dict]:
    return stack.wait_for(f"an SMS to {number}", lambda: stack.get(
        f"/_local/outbox?channel=sms&to={urllib.parse.quote(number)}").json() or None)


def test_a_french_client_gets_an_email_and_an_sms_in_french(stack):
    assert stack.admin("PUT", "settings/notifications", {"sms": True}).status == 200
    number = unique_number()
    booking = booked(stack, "svc-demo", "fr-FR", number)
    [email] = stack.wait_for_emails(1, to=booking.client.email)
    [sms] = sms_to(stack, number)
    link = stack.wait_for_links(booking)["links"]["clients"][booking.client.id]
    assert email["channel"] == "email" and sms["channel"] == "sms" and sms["to"] == number
    assert "mars" in email["html"] and "10:30" in email["html"]  # CLDR French, in Paris
    assert link in email["html"] and link in sms["body"]
    assert "mars" in sms["body"] and "<" not in sms["body"]


def test_a_service_that_hides_links_sends_the_sentence_in_both_channels(stack):
    assert stack.admin("PUT", "settings/notifications", {"sms": True}).status == 200
    service_id = f"svc-hidden-{uuid.uuid4().hex[:8]}"
    assert stack.admin("PUT", f"services/{service_id}", {"name": "Private session", "online": True,
                                                          "links_in_messages": False}).status == 200
    number = unique_number()
    booking = booked(stack, service_id, "en", number)
    [email] = stack.wait_for_emails(1, to=booking.client.email)
    [sms] = sms_to(stack, number)
    link = stack.wait_for_links(booking)["links"]["clients"][booking.client.id]
    sentence = stack.admin("GET", "settings/notifications").json()["hidden_link_text"] or hidden_link_text("en")
    for text in (email["html"], sms["body"]):
        assert link not in text and "/j/" not in text
    assert sentence in sms["body"]
