"""The meetings report over HTTP on the local stack: a class session's bookings posted through the webhook make
one row with both clients, times in the tenant's zone; the same page comes as CSV, its next page in the headers."""

import csv
import datetime as dt
import io
import random
import urllib.parse
import uuid
from zoneinfo import ZoneInfo

import pytest
from e2e_support import Booking, Client, request

pytestmark = pytest.mark.e2e


def _report(stack, accept: str = "application/json", **query):
    return request(f"{stack.api}/v1/tenants/{stack.tenant_id}/reports/meetings?{urllib.parse.urlencode(query)}",
                   headers={"Authorization": f"Bearer {stack.api_key}", "Accept": accept})


def test_a_page_of_the_meetings_report_as_json_and_as_csv(stack):
    # A window of two hours 25 days out, at a random minute, that no other test books into.
    first = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=25, minutes=random.randrange(60 * 24))).replace(
        second=0, microsecond=0)
    session_id = f"e2e-report-{uuid.uuid4().hex[:8]}"
    in_class = [Booking(Client.unique(), start=first) for _ in range(2)]
    alone = Booking(Client.unique(), start=first + dt.timedelta(hours=1))
    for booking in (*in_class, alone):
        event = booking.event()
        event["booking"]["session_id"] = session_id if booking in in_class else None
        assert stack.post_webhook(event).status == 202
    for booking in (*in_class, alone):
        stack.wait_for_links(booking)
    window = {"from": first.isoformat(), "to": (first + dt.timedelta(hours=2)).isoformat()}

    answer = _report(stack, **window)
    assert answer.status == 200 and answer.headers["content-type"] == "application/json", answer
    page = answer.json()
    zone = ZoneInfo(page["timezone"])
    session, single = page["items"]
    assert page["next"] is None
    assert session["meeting_key"] == f"session:{session_id}" and session["meeting_status"] == "scheduled"
    assert sorted(session["booking_ids"]) == sorted(booking.id for booking in in_class)
    assert sorted(client["email"] for client in session["clients"]) == sorted(b.client.email for b in in_class)
    assert single["booking_ids"] == [alone.id] and single["service"]["id"] == "svc-demo" and single["service"]["name"]
    start = dt.datetime.fromisoformat(session["start"].replace("Z", "+00:00"))
    assert start == first and start.utcoffset() == first.astimezone(zone).utcoffset()
    assert session["account_type"] and session["account_slot"] and session["problem"] is None

    csv_answer = _report(stack, accept="text/csv", **window)
    assert csv_answer.status == 200 and csv_answer.headers["content-type"] == "text/csv; charset=utf-8"
    assert csv_answer.headers["content-disposition"].startswith("attachment; filename=")
    assert csv_answer.body.startswith(b"\xef\xbb\xbf") and csv_answer.body.count(b"\r\n") == 4
    header, *lines = csv.reader(io.StringIO(csv_answer.body.decode("utf-8-sig"), newline=""))
    rows = [dict(zip(header, line)) for line in lines]
    assert [row["meeting_key"] for row in rows] == [f"session:{session_id}"] * 2 + [single["meeting_key"]]
    assert [row["client_email"] for row in rows] == [client["email"] for client in session["clients"]] + [
        alone.client.email]
    assert rows[0]["start"] == session["start"] and "x-next-cursor" not in csv_answer.headers

    # One booking a page: the class session's second booking is in the first page all the same.
    first_page = _report(stack, format="csv", limit=1, **window)
    assert [line[1] for line in csv.reader(io.StringIO(first_page.body.decode("utf-8-sig"), newline=""))][1:] == [
        row["booking_id"] for row in rows[:2]]
    cursor, link = first_page.headers["x-next-cursor"], first_page.headers["link"]
    assert link.endswith('>; rel="next"') and f"next={urllib.parse.quote(cursor)}" in link
    following = request(link[1:link.index(">")], headers={"Authorization": f"Bearer {stack.api_key}"})
    assert following.status == 200 and following.headers["content-type"].startswith("text/csv")
    assert [line[1] for line in csv.reader(io.StringIO(following.body.decode("utf-8-sig"), newline=""))][1:] == [
        alone.id]
