"""What a booking platform sees when it posts webhooks: the answers, not the internals."""

import datetime as dt
import json
import time

import pytest
from e2e_support import Booking, Client

pytestmark = pytest.mark.e2e


def _booking() -> Booking:
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3)).replace(second=0, microsecond=0)
    return Booking(Client.unique(), start=start)


def _is_json_error(resp) -> dict:
    assert "application/json" in resp.headers.get("content-type", ""), resp.headers
    body = resp.json()
    assert isinstance(body, dict) and body, body
    return body


def test_a_wrong_signature_is_401(stack):
    resp = stack.post_webhook(_booking().event(), secret="whsec_not-the-right-one")
    assert resp.status == 401, resp
    _is_json_error(resp)


def test_a_stale_timestamp_is_401_even_when_correctly_signed(stack):
    resp = stack.post_webhook(_booking().event(), t=int(time.time()) - 301 - 100)
    assert resp.status == 401, resp


def test_a_missing_signature_is_401(stack):
    from e2e_support import request

    body = json.dumps(_booking().event()).encode()
    resp = request(f"{stack.api}/webhooks/generic/{stack.tenant_id}", "POST", body, {"Content-Type": "application/json"})
    assert resp.status == 401, resp


def test_malformed_json_is_400_with_a_json_error(stack):
    resp = stack.post_webhook(b'{"event_id": "evt-1", "type": ')
    assert resp.status == 400, resp
    _is_json_error(resp)


def test_a_missing_field_is_400_naming_it(stack):
    event = _booking().event()
    del event["booking"]["start"]
    resp = stack.post_webhook(event)
    assert resp.status == 400, resp
    _is_json_error(resp)
    assert "booking.start" in resp.text


def test_an_unknown_tenant_is_404(stack):
    resp = stack.post_webhook(_booking().event(), tenant_id="t_00000000000000000000")
    assert resp.status == 404, resp


def test_a_valid_booking_is_accepted_with_202(stack):
    resp = stack.post_webhook(_booking().event())
    assert resp.status == 202, resp
