"""SMS on the local stack: what its SNS accepted is listed in /_local/outbox with `"channel": "sms"` beside the
emails, and a recipient's STOP reply (POST /_local/sms/reply) keeps the next SMS from being delivered until START."""

import json
import secrets
import urllib.parse

import pytest
from e2e_support import request

from meetbridge.notify.sms import origination_attributes

pytestmark = pytest.mark.e2e

# The template's SmsOriginationIdentity, which the local stack does not override.
IDENTITY = "MeetBridge"


def unique_number() -> str:
    """A UK mobile number of Ofcom's drama range, its own in this session's stack."""
    return f"+4477009{secrets.randbelow(10**5):05d}"


def publish(stack, number: str, body: str) -> str:
    """An SMS as meetbridge.notify.sms publishes it, to the stack's SNS."""
    return stack.aws("sns").publish(PhoneNumber=number, Message=body,
                                    MessageAttributes=origination_attributes(IDENTITY))["MessageId"]


def sms_to(stack, number: str) -> list[dict]:
    resp = stack.get(f"/_local/outbox?channel=sms&to={urllib.parse.quote(number)}")
    assert resp.status == 200, resp
    return resp.json()


def reply(stack, number: str, text: str):
    return request(f"{stack.api}/_local/sms/reply", "POST", json.dumps({"from": number, "body": text}).encode(),
                   {"content-type": "application/json"})


def test_an_sms_the_stacks_sns_accepted_is_in_the_outbox_beside_the_emails(stack):
    number = unique_number()
    message_id = publish(stack, number, "Your consultation with Dana starts at 10:00.")

    [listed] = sms_to(stack, number)
    assert listed["channel"] == "sms" and listed["id"] == message_id
    assert (listed["to"], listed["body"]) == (number, "Your consultation with Dana starts at 10:00.")
    assert (listed["origination"], listed["sms_type"]) == (IDENTITY, "Transactional")
    everything = stack.get("/_local/outbox").json()
    assert listed in everything
    assert {m["channel"] for m in everything} <= {"email", "sms"}
    assert all(m["channel"] == "email" for m in stack.get("/_local/outbox?channel=email").json())
    page = stack.get(f"/_local/outbox.html?to={urllib.parse.quote(number)}")
    assert page.status == 200 and number in page.text and "Your consultation with Dana" in page.text


def test_a_stop_reply_keeps_the_next_sms_from_the_number_until_start(stack):
    number = unique_number()
    sns = stack.aws("sns")

    answer = reply(stack, number, "Stop")
    assert (answer.status, answer.json()) == (200, {"from": number, "opted_out": True})
    assert sns.check_if_phone_number_is_opted_out(phoneNumber=number)["isOptedOut"] is True
    assert number in sns.list_phone_numbers_opted_out()["phoneNumbers"]
    publish(stack, number, "Reminder: your meeting is in an hour.")  # accepted by SNS, never delivered
    assert sms_to(stack, number) == []

    answer = reply(stack, number, "START")
    assert (answer.status, answer.json()) == (200, {"from": number, "opted_out": False})
    publish(stack, number, "Reminder: your meeting is in an hour.")
    assert [m["body"] for m in sms_to(stack, number)] == ["Reminder: your meeting is in an hour."]


def test_a_reply_that_is_not_a_number_and_a_text_is_refused(stack):
    assert reply(stack, "07700 900123", "STOP").status == 400
    assert request(f"{stack.api}/_local/sms/reply", "POST", b"STOP").status == 400
    assert request(f"{stack.api}/_local/sms/reply").status == 405
