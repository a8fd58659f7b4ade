"""POST /webhooks/generic/{tenant}: what a booking platform sees."""

import json
import time

from bookings import booking_event
from helpers import sign


def _queued(stack) -> list[dict]:
    return [json.loads(r['body']) for r in stack.cloud.queues['meetings'].receive()]


def test_a_signed_booking_is_accepted_and_published_once(stack):
    body = booking_event(event_id='evt-1')

    status, answer = stack.post(body)

    assert (status, answer) == (202, {'accepted': ['evt-1']})
    [published] = _queued(stack)
    assert published['detail-type'] == 'booking.created'
    assert published['detail']['tenant_id'] == stack.tenant.tenant_id
    assert published['detail']['booking']['client']['email'] == 'c1@example.org'


def test_the_same_event_id_again_at_once_is_sent_again_later_and_not_published_twice(stack):
    body = booking_event(event_id='evt-1')
    first = stack.post(body)
    second = stack.post(body)  # within its first publish's lease (test_webhook_publish.py)

    assert first[0] == 202 and second[0] == 503
    assert len(_queued(stack)) == 1


def test_an_event_id_reused_for_other_content_is_a_conflict(stack):
    stack.post(booking_event(event_id='evt-1', booking_id='b1'))

    status, answer = stack.post(booking_event(event_id='evt-1', booking_id='b2'))

    assert status == 409 and answer['error'] == 'event_id_reused'


def test_bad_signatures_are_rejected_with_401(stack):
    raw = json.dumps(booking_event()).encode()
    secret = stack.tenant.webhook_secret
    # Each signed when it is sent, well outside the 300 s window: a slow machine must not bring one inside.
    cases = {
        'missing': lambda: '',
        'wrong secret': lambda: sign('whsec_not-the-secret', raw),
        'stale': lambda: sign(secret, raw, int(time.time()) - 360),
        'future': lambda: sign(secret, raw, int(time.time()) + 360),
        'garbage': lambda: 't=nope,v1=zz',
        'non-ascii': lambda: 't=1,v1=é',
    }
    for name, signature in cases.items():
        status, answer = stack.post(raw, signature=signature())
        assert status == 401, name
        assert answer['error'] == 'invalid_signature'
        assert secret not in json.dumps(answer)
    assert _queued(stack) == []


def test_the_signature_covers_the_raw_bytes(stack):
    raw = json.dumps(booking_event()).encode()
    signature = sign(stack.tenant.webhook_secret, raw)
    reserialised = json.dumps(json.loads(raw), indent=1).encode()

    assert stack.post(reserialised, signature=signature)[0] == 401


def test_malformed_json_and_missing_fields_are_400_naming_the_field(stack):
    status, answer = stack.post(b'{"event_id": ')
    assert status == 400 and answer['error'] == 'invalid_request'

    body = booking_event()
    del body['booking']['start']
    status, answer = stack.post(body)
    assert status == 400 and answer['field'] == 'booking.start'

    body = booking_event()
    body['booking']['timezone'] = 'Mars/Olympus'
    status, answer = stack.post(body)
    assert status == 400 and answer['field'] == 'booking.timezone'

    body = booking_event()
    body['type'] = 'booking.exploded'
    assert stack.post(body)[1]['field'] == 'type'
    assert _queued(stack) == []


def test_unknown_tenant_and_unknown_source_are_404(stack):
    raw = json.dumps(booking_event()).encode()
    assert stack.post(raw, tenant_id='t_doesnotexist')[0] == 404

    from helpers import handler, webhook_event
    response = handler('booking_webhook')(
        webhook_event(stack.tenant.tenant_id, raw, sign(stack.tenant.webhook_secret, raw), source='nosuch'),
        stack.context)
    assert response['statusCode'] == 404


def test_an_oversized_body_is_413_and_a_base64_body_is_verified_as_bytes(stack):
    huge = b'{"pad": "' + b'x' * (300 * 1024) + b'"}'
    assert stack.post(huge)[0] == 413

    from helpers import handler, http_event
    raw = json.dumps(booking_event(event_id='evt-b64')).encode()
    event = http_event('POST', '/webhooks/generic/x', '/webhooks/{source}/{tenant_id}',
                       {'source': 'generic', 'tenant_id': stack.tenant.tenant_id}, raw,
                       {'x-meetbridge-signature': sign(stack.tenant.webhook_secret, raw)})
    import base64
    event['body'], event['isBase64Encoded'] = base64.b64encode(raw).decode(), True
    assert handler('booking_webhook')(event, stack.context)['statusCode'] == 202


def test_tenant_ids_that_cannot_exist_are_404_not_errors(stack):
    raw = json.dumps(booking_event()).encode()
    for tenant_id in ('x' * 5000, 't_../../etc', 'TENANT#t_1'):
        assert stack.post(raw, tenant_id=tenant_id)[0] == 404
