"""The AWS calls each step of a booking makes, counted per handler invocation, so a change that adds one fails
here. The webhook's warm path (the tenant's second booking: per-container caches are warm) makes at most two
before it answers: the claim that records the booking, and the publish."""

import contextlib
from collections import Counter
from collections.abc import Iterator

import pytest
from bookings import booking_event
from helpers import handler, join_event, sqs_event
from integration_stack import Stack, connect_zoom


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


def _consume(stack: Stack, calls: Calls, queue: str) -> Counter:
    """One batch of everything waiting on `queue`, its calls counted (the queue's own receive is not a call of
    the function: Lambda's poller makes it)."""
    records = stack.cloud.queues[queue].receive()
    assert records, f'nothing on {queue}'
    with calls.of() as counted:
        report = handler(queue)(sqs_event(records), stack.context)
    assert report == {'batchItemFailures': []}
    return counted


def _book(stack: Stack, calls: Calls, body: dict) -> dict[str, Counter]:
    """A webhook, the meetings function applying it, the notifications function sending what it announced."""
    return {'webhook': _post(stack, calls, body), 'meetings': _consume(stack, calls, 'meetings'),
            'notifications': _consume(stack, calls, 'notifications')}


def _warm(stack: Stack) -> None:
    """The tenant's first booking, so every function's container has what it caches."""
    stack.book(booking_event(booking_id='warm-up', client_id='warm'))


def _report(name: str, counted: Counter) -> None:
    print(f'\n{name}: {sum(counted.values())} calls {dict(sorted(counted.items()))}')


def test_a_warm_webhook_makes_at_most_two_aws_calls_before_it_answers(stack, calls):
    stack.setup_online_service()
    _warm(stack)
    for n in range(3):
        counted = _post(stack, calls, booking_event(booking_id=f'b{n}', client_id=f'c{n}'))
        _report('webhook booking.created', counted)
        assert sum(counted.values()) <= 2, counted


def _lifecycle(stack: Stack, calls: Calls) -> dict[str, Counter]:
    """The calls of each step of one booking's life on a warm tenant, the webhook's counted after a first one of
    its own so its container is warm too."""
    _warm(stack)
    steps = {}
    created = _book(stack, calls, booking_event(booking_id='b1', client_id='c1'))
    steps |= {f'created {name}': counted for name, counted in created.items()}
    _post(stack, calls, booking_event(booking_id='b2', client_id='c2'))  # the webhook's container warm again
    stack.pump()
    [link] = [url for url in stack.view('b1')[1]['links']['clients'].values()]
    with calls.of() as counted:
        assert handler('join')(join_event(link.rsplit('/', 1)[1]), stack.context)['statusCode'] == 200
    steps['join page'] = counted
    moved = booking_event('booking.rescheduled', booking_id='b1', client_id='c1')
    _post(stack, calls, booking_event(booking_id='b3', client_id='c3'))
    steps |= {f'rescheduled {name}': counted for name, counted in _book(stack, calls, moved).items()}
    stack.pump()
    cancelled = booking_event('booking.cancelled', booking_id='b1', client_id='c1')
    _post(stack, calls, booking_event(booking_id='b4', client_id='c4'))
    steps |= {f'cancelled {name}': counted for name, counted in _book(stack, calls, cancelled).items()}
    for name, counted in steps.items():
        _report(name, counted)
    return steps


def test_the_calls_of_a_booking_on_a_custom_link(stack, calls):
    stack.setup_online_service()
    steps = _lifecycle(stack, calls)
    assert {name: sum(counted.values()) for name, counted in steps.items()} == {}


def test_the_calls_of_a_booking_on_zoom(stack, calls, zoom):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    steps = _lifecycle(stack, calls)
    assert {name: sum(counted.values()) for name, counted in steps.items()} == {}
