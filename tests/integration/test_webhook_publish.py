"""A webhook's event is claimed, then published, before the answer: what every delivery of it answers and
publishes, whatever failed in between (logic/webhooks.py, docs/architecture.md "The webhook's path")."""

import contextlib
import json
import threading

import pytest
from bookings import booking_event
from botocore.awsrequest import AWSResponse
from helpers import LambdaContext, handler, sign, sqs_event, webhook_event
from integration_stack import sent_emails

from meetbridge import aws, events
from meetbridge.errors import RetryLater
from meetbridge.logic import tenants, webhooks


def _queued(stack) -> list[dict]:
    return [json.loads(record['body']) for record in stack.cloud.queues['meetings'].receive()]


def _deliver(stack, body: dict, secret: str | None = None, context=None) -> dict:
    raw = json.dumps(body).encode()
    event = webhook_event(stack.tenant.tenant_id, raw, sign(secret or stack.tenant.webhook_secret, raw))
    return handler('booking_webhook')(event, context or stack.context)


def _published(stack) -> list[str]:
    return [event['detail']['event_id'] for event in _queued(stack)]


@contextlib.contextmanager
def _dynamodb_answers(operation: str, reasons: list[dict] | None = None, code: str | None = None):
    """While open, `operation` of the webhook's DynamoDB client is answered with an error, no request made."""
    def answer(**_) -> tuple:
        error = {'Error': {'Code': code or 'TransactionCanceledException', 'Message': 'refused'},
                 'ResponseMetadata': {'HTTPStatusCode': 400 if reasons else 500}}
        if reasons:
            error['CancellationReasons'] = reasons
        return AWSResponse(url='', status_code=error['ResponseMetadata']['HTTPStatusCode'], headers={},
                           raw=None), error
    hooks = aws.client('dynamodb', aws.CLAIMING).meta.events
    hooks.register(f'before-call.dynamodb.{operation}', answer)
    try:
        yield
    finally:
        hooks.unregister(f'before-call.dynamodb.{operation}', answer)


class Died(BaseException):
    """The function stopped between its claim and the end of its publish (killed, out of memory, timed out)."""


def _later(monkeypatch, seconds: float) -> None:
    """The webhook's clock moved on by `seconds`."""
    now = webhooks.time.time
    monkeypatch.setattr(webhooks.time, 'time', lambda: now() + seconds)


def test_a_publish_the_bus_refuses_answers_503_and_the_retry_publishes_it_once(stack, monkeypatch):
    body = booking_event(event_id='evt-1')
    publish = events.publish

    def refused(detail_type, detail):
        raise RetryLater(f'event bus refused {detail_type}')

    monkeypatch.setattr(events, 'publish', refused)
    response = _deliver(stack, body)

    assert response['statusCode'] == 503 and response['headers']['Retry-After'] == '5'
    assert json.loads(response['body'])['error'] == 'not_published'
    assert _queued(stack) == []
    assert stack.view('b1')[1]['booking']['status'] == 'received'  # visible while the platform retries
    monkeypatch.setattr(events, 'publish', publish)
    assert _deliver(stack, body)['statusCode'] == 202
    assert _deliver(stack, body)['statusCode'] == 202
    assert [event['detail']['event_id'] for event in _queued(stack)] == ['evt-1']


def test_a_claim_written_at_the_same_moment_as_another_answers_503_before_anything_is_published(stack):
    body = booking_event(event_id='evt-1')
    with _dynamodb_answers('TransactWriteItems', [{'Code': 'TransactionConflict'}, {'Code': 'None'}]):
        response = _deliver(stack, body)

    assert response['statusCode'] == 503 and response['headers']['Retry-After'] == '5'
    assert _queued(stack) == []
    assert _deliver(stack, body)['statusCode'] == 202
    assert len(_queued(stack)) == 1


@pytest.mark.parametrize('config', [aws.PUBLISHING, aws.CLAIMING], ids=['publish', 'claim'])
def test_a_bus_or_a_table_that_does_not_answer_is_given_up_well_within_the_lease_and_the_timeout(cloud, config):
    worst_seconds = (config.connect_timeout + config.read_timeout) * config.retries['total_max_attempts']

    assert config.retries['total_max_attempts'] == 2
    assert worst_seconds == webhooks.CALL_WORST_SECONDS
    # The claim, a take-over, the publish and its mark: within the lease and the function's 20 s timeout.
    assert 4 * worst_seconds + webhooks.ANSWER_MARGIN_SECONDS <= 2 * webhooks.PUBLISH_LEASE_SECONDS
    assert aws.client('dynamodb', aws.CLAIMING).meta.config.read_timeout == aws.CLAIMING.read_timeout


def test_a_claim_the_table_refuses_answers_503_and_the_retry_publishes_it(stack):
    body = booking_event(event_id='evt-1')
    with _dynamodb_answers('TransactWriteItems', code='InternalServerError'):
        response = _deliver(stack, body)

    assert response['statusCode'] == 503 and json.loads(response['body'])['error'] == 'not_published'
    assert _queued(stack) == []
    assert _deliver(stack, body)['statusCode'] == 202
    assert _published(stack) == ['evt-1']


class ShortOfTime(LambdaContext):
    """An invocation whose claim took most of its time."""

    def get_remaining_time_in_millis(self) -> int:
        return (webhooks.CALL_WORST_SECONDS + webhooks.ANSWER_MARGIN_SECONDS) * 1000 - 1


def test_a_delivery_left_too_little_time_to_publish_releases_its_claim_and_answers_503(stack):
    body = booking_event(event_id='evt-1')
    response = _deliver(stack, body, context=ShortOfTime())

    assert response['statusCode'] == 503 and response['headers']['Retry-After'] == '5'
    assert _queued(stack) == []
    # Released: the next delivery, with its time, publishes it at once rather than after the lease.
    assert _deliver(stack, body)['statusCode'] == 202
    assert _published(stack) == ['evt-1']


def test_a_publish_that_failed_with_its_release_is_answered_503_within_the_lease_and_published_after_it(
        stack, monkeypatch):
    body = booking_event(event_id='evt-1')
    update_claim = webhooks._update_claim

    def refused(detail_type, detail):
        raise RetryLater(f'event bus refused {detail_type}')

    def table_down_for_the_release(claim, expression, condition, values):
        if ':released' in values:
            raise RetryLater('the table is down')
        return update_claim(claim, expression, condition, values)

    with monkeypatch.context() as failing:
        failing.setattr(events, 'publish', refused)
        failing.setattr(webhooks, '_update_claim', table_down_for_the_release)
        assert _deliver(stack, body)['statusCode'] == 503

    _later(monkeypatch, 5)
    retry = _deliver(stack, body)
    assert retry['statusCode'] == 503
    assert 1 <= int(retry['headers']['Retry-After']) <= webhooks.PUBLISH_LEASE_SECONDS - 5
    assert _queued(stack) == []

    _later(monkeypatch, webhooks.PUBLISH_LEASE_SECONDS + 1)
    assert _deliver(stack, body)['statusCode'] == 202
    assert _published(stack) == ['evt-1']


def test_an_event_whose_holder_died_is_published_by_the_first_delivery_after_its_lease(stack, monkeypatch):
    body = booking_event(event_id='evt-1')

    def dies(detail_type, detail):
        raise Died()

    with monkeypatch.context() as dying:
        dying.setattr(events, 'publish', dies)
        with pytest.raises(Died):
            _deliver(stack, body)
    # Within the lease its holder may still be publishing, or may have died: sent again later.
    within = _deliver(stack, body)
    assert within['statusCode'] == 503 and 1 <= int(within['headers']['Retry-After']) <= \
        webhooks.PUBLISH_LEASE_SECONDS
    assert _queued(stack) == []

    _later(monkeypatch, webhooks.PUBLISH_LEASE_SECONDS + 1)
    assert _deliver(stack, body)['statusCode'] == 202
    assert [event['detail']['event_id'] for event in _queued(stack)] == ['evt-1']
    assert _deliver(stack, body)['statusCode'] == 202  # marked published by the delivery that took it over
    assert _queued(stack) == []


def test_a_published_event_is_answered_202_even_when_marking_it_fails(stack, monkeypatch):
    body = booking_event(event_id='evt-1')
    with monkeypatch.context() as dying:
        dying.setattr(events, 'publish', lambda *_: (_ for _ in ()).throw(Died()))
        with pytest.raises(Died):
            _deliver(stack, body)
    _later(monkeypatch, webhooks.PUBLISH_LEASE_SECONDS + 1)
    update_claim = webhooks._update_claim

    def table_down_for_the_mark(claim, expression, condition, values):
        if 'published_at' in expression:
            raise RetryLater('the table is down')
        return update_claim(claim, expression, condition, values)

    monkeypatch.setattr(webhooks, '_update_claim', table_down_for_the_mark)

    assert _deliver(stack, body)['statusCode'] == 202
    assert len(_queued(stack)) == 1


def test_concurrent_deliveries_of_one_event_publish_it_once(stack):
    body = booking_event(event_id='evt-1')
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(_deliver(stack, body)['statusCode'])) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # One claims and publishes; the others find it claimed and not marked published (or wrote at the same
    # moment): sent again later.
    assert sorted(answers) == [202, 503, 503, 503]
    assert len(_queued(stack)) == 1


def test_an_event_published_twice_is_applied_once(stack, monkeypatch):
    """A delivery after the lease of a claim whose holder published without marking it publishes it again:
    the meetings function applies an event once by its id, so the booking gets one meeting and one email each."""
    stack.setup_online_service()
    body = booking_event(event_id='evt-1')
    assert _deliver(stack, body)['statusCode'] == 202
    assert _deliver(stack, body)['statusCode'] == 503  # within the lease: its first publish is not marked
    _later(monkeypatch, webhooks.PUBLISH_LEASE_SECONDS + 1)
    assert _deliver(stack, body)['statusCode'] == 202
    assert _deliver(stack, body)['statusCode'] == 202  # answered from the mark the second delivery wrote

    publications = stack.cloud.queues['meetings'].receive()
    assert len(publications) == 2
    for publication in publications:  # one batch each, as two invocations would take them
        assert handler('meetings')(sqs_event([publication]), stack.context) == {'batchItemFailures': []}
    stack.pump()
    assert sorted(email.destinations['ToAddresses'][0] for email in sent_emails()) == ['c1@example.org',
                                                                                       'dana@example.com']


def test_a_rotated_secret_verifies_at_once_in_a_warm_container(stack):
    assert _deliver(stack, booking_event(booking_id='b1'))['statusCode'] == 202  # the tenant is cached
    rotated = tenants.rotate_keys(stack.tenant.tenant_id, api_key=False)

    assert _deliver(stack, booking_event(booking_id='b2'), rotated.webhook_secret)['statusCode'] == 202
    assert _deliver(stack, booking_event(booking_id='b3'))['statusCode'] == 202  # the previous one, in its overlap
    assert _deliver(stack, booking_event(booking_id='b4'), 'whsec_not-the-secret')['statusCode'] == 401


def test_bad_signatures_reread_the_tenant_at_most_once_in_a_few_seconds(stack, monkeypatch):
    from meetbridge import caching

    reads = []
    read_verifier = webhooks._read_verifier
    monkeypatch.setattr(webhooks, '_read_verifier', lambda *key: reads.append(key) or read_verifier(*key))
    assert _deliver(stack, booking_event(booking_id='b1'))['statusCode'] == 202
    assert len(reads) == 1  # the tenant, now kept by the container

    for n in range(3):
        assert _deliver(stack, booking_event(booking_id=f'f{n}'), 'whsec_forged')['statusCode'] == 401
    assert len(reads) == 2  # the first forged delivery read it again; the others within seconds did not

    now = caching.time.monotonic
    monkeypatch.setattr(caching.time, 'monotonic', lambda: now() + webhooks.REREAD_SECONDS + 1)
    assert _deliver(stack, booking_event(booking_id='f9'), 'whsec_forged')['statusCode'] == 401
    assert len(reads) == 3


def test_a_change_of_a_booking_never_seen_records_it_and_of_a_known_one_leaves_it(stack):
    stack.setup_online_service()
    assert _deliver(stack, booking_event('booking.rescheduled', booking_id='b9'))['statusCode'] == 202
    assert stack.view('b9')[1]['booking']['status'] == 'received'

    stack.book(booking_event(booking_id='b1'))
    assert _deliver(stack, booking_event('booking.rescheduled', booking_id='b1'))['statusCode'] == 202
    assert stack.view('b1')[1]['booking']['status'] == 'active'


def test_a_platform_sources_new_key_verifies_at_once_and_a_removed_source_is_refused_after_the_minute(
        stack, monkeypatch):
    from test_calcom_webhooks import cal_signature, calcom_body, post

    from meetbridge import caching
    from meetbridge.logic import sources

    def signed_post(uid: str, secret: str) -> int:
        body = calcom_body(uid=uid)
        return post(stack, body, cal_signature(body, secret))[0]

    assert stack.admin('PUT', 'sources/calcom', {'secret': 'first-secret'})[0] == 200
    assert signed_post('uid-1', 'first-secret') == 202  # the source's settings are kept by the container
    # Changed by the admin function, which this container does not see.
    sources.put_source(stack.tenant.tenant_id, 'calcom', {'secret': 'second-secret'}, 'https://api.test')
    assert signed_post('uid-2', 'second-secret') == 202

    sources.delete_source(stack.tenant.tenant_id, 'calcom', 'https://api.test')
    assert signed_post('uid-3', 'second-secret') == 202  # honoured while kept, up to a minute
    now = caching.time.monotonic
    monkeypatch.setattr(caching.time, 'monotonic', lambda: now() + webhooks.VERIFIER_CACHE_SECONDS + 1)
    assert signed_post('uid-4', 'second-secret') == 404
