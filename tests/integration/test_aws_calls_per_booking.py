"""The AWS calls each step of a booking makes, counted per handler invocation, so a change that adds one fails
here. The webhook's warm path (the tenant's second booking: per-container caches are warm) makes two before it
answers a new booking or a cancellation: the claim (that records the booking), and the publish. A change of a
booking already recorded makes three: the transaction is refused for the booking's record alone, and the claim is
put by itself (an update of the record with if_not_exists would set `pending` and `waiting_since` on a booking
already applied, so the refused transaction stays)."""

import contextlib
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from bookings import booking_event
from helpers import handler, join_event, sqs_event
from integration_stack import Stack, connect_google, connect_zoom


class Calls:
    """Every AWS call a handler makes while counting, by `service:Operation`, whichever client made it."""

    def __init__(self):
        self.counting: Counter | None = None

    @contextlib.contextmanager
    def of(self) -> Iterator[Counter]:
        self.counting = counted = Counter()
        try:
            yield counted
        finally:
            self.counting = None


@pytest.fixture
def calls(monkeypatch) -> Calls:
    from botocore.client import BaseClient

    spy = Calls()
    make_api_call = BaseClient._make_api_call

    def recording(client, operation, params):
        if spy.counting is not None:
            spy.counting[f'{client.meta.service_model.service_name}:{operation}'] += 1
        return make_api_call(client, operation, params)

    monkeypatch.setattr(BaseClient, '_make_api_call', recording)
    return spy


def _post(stack: Stack, calls: Calls, body: dict) -> Counter:
    with calls.of() as counted:
        assert stack.post(body)[0] == 202
    return counted


def _consume(stack: Stack, calls: Calls, queue: str, booking_id: str) -> Counter:
    """What waits on `queue` for `booking_id`, as one batch, its calls counted; what waits for other bookings is
    applied first, uncounted, in the same container (the queue's own receive is not the function's call:
    Lambda's poller makes it)."""
    records = stack.cloud.queues[queue].receive()
    counted_records = [record for record in records if f'"{booking_id}"' in record['body']]
    others = [record for record in records if record not in counted_records]
    assert counted_records, f'nothing on {queue} for {booking_id}'
    if others:
        assert handler(queue)(sqs_event(others), stack.context) == {'batchItemFailures': []}
    with calls.of() as counted:
        report = handler(queue)(sqs_event(counted_records), stack.context)
    assert report == {'batchItemFailures': []}
    return counted


def _warm_post(stack: Stack, calls: Calls, body: dict, warm_up: str) -> Counter:
    """`body`'s webhook, counted after one of another booking, so its container is warm."""
    _post(stack, calls, booking_event(booking_id=warm_up, client_id=warm_up))
    return _post(stack, calls, body)


def _book(stack: Stack, calls: Calls, body: dict, warm_up: str) -> dict[str, Counter]:
    """A webhook, the meetings function applying it, the notifications function sending what it announced."""
    booking_id = body['booking']['id']
    webhook = _warm_post(stack, calls, body, warm_up)
    meetings = _consume(stack, calls, 'meetings', booking_id)
    notifications = _consume(stack, calls, 'notifications', booking_id)
    return {'webhook': webhook, 'meetings': meetings, 'notifications': notifications}


def _warm(stack: Stack) -> None:
    """The tenant's first booking, so every function's container has what it caches."""
    stack.book(booking_event(booking_id='warm-up', client_id='warm'))


def _report(name: str, counted: Counter) -> None:
    print(f'\n{name}: {sum(counted.values())} calls {dict(sorted(counted.items()))}')


def test_a_warm_webhook_makes_at_most_two_aws_calls_before_it_answers(stack, calls):
    stack.setup_online_service()
    _warm(stack)
    _post(stack, calls, booking_event(booking_id='warm-webhook', client_id='warm-webhook'))
    for n in range(3):
        counted = _post(stack, calls, booking_event(booking_id=f'b{n}', client_id=f'c{n}'))
        _report('webhook booking.created', counted)
        assert counted == {'dynamodb:TransactWriteItems': 1, 'events:PutEvents': 1}


def _lifecycle(stack: Stack, calls: Calls) -> dict[str, Counter]:
    """The calls of each step of one booking's life on a warm tenant, each function's container warm."""
    _warm(stack)
    steps = {f'created {name}': counted for name, counted in
             _book(stack, calls, booking_event(booking_id='b1', client_id='c1'), 'w1').items()}
    links = {booking_id: next(iter(stack.view(booking_id)[1]['links']['clients'].values()))
             for booking_id in ('w1', 'b1')}
    assert handler('join')(join_event(links['w1'].rsplit('/', 1)[1]), stack.context)['statusCode'] == 200
    with calls.of() as counted:
        assert handler('join')(join_event(links['b1'].rsplit('/', 1)[1]), stack.context)['statusCode'] == 200
    steps['join page'] = counted
    moved = booking_event('booking.rescheduled', booking_id='b1', client_id='c1',
                          start=datetime.now(UTC).replace(microsecond=0) + timedelta(days=3))
    steps |= {f'rescheduled {name}': counted for name, counted in _book(stack, calls, moved, 'w2').items()}
    cancelled = booking_event('booking.cancelled', booking_id='b1', client_id='c1')
    steps |= {f'cancelled {name}': counted for name, counted in _book(stack, calls, cancelled, 'w3').items()}
    for name, counted in steps.items():
        _report(name, counted)
    return steps


# The webhook's steps: a change of a booking already recorded costs its claim a second write, three calls in all
# (docs/architecture.md, "The webhook's path").
WEBHOOK_CALLS = {'created webhook': {'dynamodb:TransactWriteItems': 1, 'events:PutEvents': 1},
                 'rescheduled webhook': {'dynamodb:TransactWriteItems': 1, 'dynamodb:PutItem': 1,
                                         'events:PutEvents': 1},
                 'cancelled webhook': {'dynamodb:PutItem': 1, 'events:PutEvents': 1}}


def _totals(steps: dict[str, Counter]) -> dict[str, int]:
    assert {name: dict(steps[name]) for name in WEBHOOK_CALLS} == WEBHOOK_CALLS
    return {name: sum(counted.values()) for name, counted in steps.items() if name not in WEBHOOK_CALLS}


def test_the_calls_of_a_booking_on_a_custom_link(stack, calls):
    stack.setup_online_service()
    assert _totals(_lifecycle(stack, calls)) == {
        'created meetings': 23, 'created notifications': 12, 'join page': 6,
        'rescheduled meetings': 23, 'rescheduled notifications': 13,
        'cancelled meetings': 17, 'cancelled notifications': 14}


def test_the_calls_of_a_booking_on_zoom(stack, calls, zoom):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    assert _totals(_lifecycle(stack, calls)) == {
        'created meetings': 25, 'created notifications': 12, 'join page': 6,
        'rescheduled meetings': 25, 'rescheduled notifications': 13,
        'cancelled meetings': 18, 'cancelled notifications': 14}


def test_the_calls_of_a_booking_on_google_meet(stack, calls, google):
    stack.setup_online_service()
    assert connect_google(stack, google)['statusCode'] == 200
    google.reset_calls()
    # Zoom's one more is its daily quota's counter: Google's Calendar has none we count.
    assert _totals(_lifecycle(stack, calls)) == {
        'created meetings': 24, 'created notifications': 12, 'join page': 6,
        'rescheduled meetings': 24, 'rescheduled notifications': 13,
        'cancelled meetings': 18, 'cancelled notifications': 14}
    # One Calendar call for each change: an insert for b1 and each of its four warm-up bookings, b1's one move and
    # one cancellation, and no read.
    operations = [call['operation'] for call in google.calls() if call['operation'] != 'token']
    assert sorted(operations) == ['delete_event'] + ['insert_event'] * 5 + ['patch_event']
