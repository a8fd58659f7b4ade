"""The local stack fires a function's own rate(...) Schedule event (the outbox sweeper's), as EventBridge does."""

import datetime as dt
import threading
from types import SimpleNamespace

from infra.local.lambdas import FunctionEvent
from infra.local.scheduler import SchedulerLoop, rate_seconds, recurring_events

START = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)


class RecordingInvoker:
    def __init__(self):
        self.invocations = []

    def invoke(self, fn, payload, *, source):
        self.invocations.append((fn.logical_id, payload, source))
        return 'request-id'


def _function(logical_id: str, *events: FunctionEvent) -> SimpleNamespace:
    return SimpleNamespace(logical_id=logical_id, events=list(events))


def test_rate_expressions_become_periods_and_others_are_not_fired():
    assert rate_seconds('rate(1 minute)') == 60
    assert rate_seconds('rate(5 minutes)') == 300
    assert rate_seconds('rate(2 hours)') == 7200
    assert rate_seconds('rate(1 day)') == 86400
    assert rate_seconds('cron(0 12 * * ? *)') is None


def test_a_rate_event_fires_once_per_period_with_the_scheduled_event_shape():
    sweeper = _function('Sweeper', FunctionEvent('EveryMinute', 'Schedule', {'Schedule': 'rate(1 minute)'}),
                        FunctionEvent('Queue', 'SQS', {'Queue': 'arn:aws:sqs:us-east-1:123456789012:q'}))
    off = _function('Off', FunctionEvent('Never', 'Schedule', {'Schedule': 'rate(1 minute)', 'Enabled': False}))
    recurring = recurring_events([sweeper, off], START.timestamp(), 'meetbridge')
    invoker = RecordingInvoker()
    loop = SchedulerLoop(invoker, threading.Event(), recurring=recurring)

    fired = [loop.fire_recurring(START + dt.timedelta(seconds=seconds)) for seconds in (30, 60, 61, 119, 120, 300)]

    assert fired == [0, 1, 0, 0, 1, 1]  # a tick late after a pause fires once, not once per missed period
    assert [source for _, _, source in invoker.invocations] == ['rule meetbridge-SweeperEveryMinute'] * 3
    name, payload, _ = invoker.invocations[0]
    assert name == 'Sweeper'
    assert payload['detail-type'] == 'Scheduled Event' and payload['source'] == 'aws.events'
    assert payload['resources'] == ['arn:aws:events:us-east-1:123456789012:rule/meetbridge-SweeperEveryMinute']
    assert payload['time'] == '2030-01-01T00:01:00Z' and payload['detail'] == {}


def test_a_functions_rate_events_fire_now_on_request_and_keep_their_rhythm():
    checks = _function('Health', FunctionEvent('EveryHour', 'Schedule', {'Schedule': 'rate(1 hour)'}))
    sweeper = _function('Sweeper', FunctionEvent('EveryMinute', 'Schedule', {'Schedule': 'rate(1 minute)'}))
    invoker = RecordingInvoker()
    loop = SchedulerLoop(invoker, threading.Event(), recurring=recurring_events([checks, sweeper], START.timestamp(),
                                                                                'meetbridge'))

    assert loop.fire_now('Health', START + dt.timedelta(minutes=5)) == ['meetbridge-HealthEveryHour']
    assert loop.fire_now('Nobody', START) == []

    [(name, payload, source)] = invoker.invocations
    assert (name, source, payload['time']) == ('Health', 'rule meetbridge-HealthEveryHour', '2030-01-01T00:05:00Z')
    # The hourly period still runs from the start: the next tick is at 01:00, not an hour after the request.
    assert loop.fire_recurring(START + dt.timedelta(hours=1)) == 2
