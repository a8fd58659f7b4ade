"""`make load`'s pure parts (infra/load_report.py): the plan, percentiles, the nothing-lost check, the profile's
categories and the cost arithmetic."""

from collections import Counter

import pytest

from infra import prices
from infra.load_report import WAITING_PROBLEM, Expected, Mix, billed_units, check, cost_per_1000, own_time, percentile, plan

MIX = Mix(rate=10, duration=30, class_every=10, class_size=30)


def test_the_same_seed_plans_the_same_run_and_another_seed_another():
    assert plan(MIX, 7) == plan(MIX, 7)
    assert plan(MIX, 7) != plan(MIX, 8)


def test_the_plan_holds_the_mix():
    actions = plan(MIX, 7)
    kinds = Counter(action.kind for action in actions)
    webhooks = kinds['create'] + kinds['reschedule'] + kinds['cancel']
    assert webhooks == 300 + 3 * 30  # the rate's webhooks and three classes of 30
    assert 15 <= kinds['reschedule'] <= 50 and 15 <= kinds['cancel'] <= 50
    assert [action.at for action in actions] == sorted(action.at for action in actions)
    sessions = Counter(action.session for action in actions if action.session is not None)
    assert sessions == {0: 30, 1: 30, 2: 30}
    for session in sessions:
        seats = [action for action in actions if action.session == session]
        assert seats[-1].at - seats[0].at < 1  # a class books within one second
        assert len({(seat.hours_ahead, seat.timezone) for seat in seats}) == 1
    assert {'Asia/Kolkata', 'Asia/Kathmandu'} & {action.timezone for action in actions}


def test_changes_follow_their_booking_with_growing_versions_and_nothing_after_a_cancel():
    actions = plan(MIX, 7)
    created_at = {a.booking: a.at for a in actions if a.kind == 'create'}
    zones = {a.booking: a.timezone for a in actions if a.kind == 'create'}
    last: dict[int, int] = {}
    cancelled: set[int] = set()
    for action in actions:
        if action.kind in ('reschedule', 'cancel'):
            assert action.at - created_at[action.booking] >= 2
            assert action.timezone == zones[action.booking]  # the whole booking, as it is at its source
            assert action.booking not in cancelled
            assert action.version == last.get(action.booking, 1) + 1
            last[action.booking] = action.version
            if action.kind == 'cancel':
                cancelled.add(action.booking)
        if action.kind == 'click':
            assert created_at[action.booking] <= action.at


def test_percentile_is_a_measured_value_by_nearest_rank():
    samples = list(range(1, 101))
    assert (percentile(samples, 0.5), percentile(samples, 0.95), percentile(samples, 0.99)) == (50, 95, 99)
    assert percentile([3.0], 0.99) == 3.0
    assert percentile([5, 1, 3], 0.5) == 3


def _answer(status: str, meeting_key: str | None, problem: str | None = None) -> dict:
    return {'booking': {'status': status, 'problem': problem},
            'meeting': {'key': meeting_key, 'status': 'scheduled'} if meeting_key else None}


def test_check_passes_when_every_booking_ended_somewhere_once():
    expected = {'b1': Expected(False, 'booking:b1'), 'b2': Expected(True, 'booking:b2'),
                'b3': Expected(False, 'session:s'), 'b4': Expected(False, 'booking:b4'),
                'b5': Expected(False, 'booking:b5')}
    found = {'b1': _answer('active', 'booking:b1'), 'b2': _answer('cancelled', None),
             'b3': _answer('active', 'session:s'), 'b4': _answer('received', None, 'no meeting account'),
             'b5': _answer('received', None, WAITING_PROBLEM)}
    verdict = check(expected, found, Counter({'b1': 1, 'b3': 1, 'b2': 1}), dead_letters={'b5'})
    assert verdict.ok, verdict.failures
    assert verdict.outcomes == {'meeting': 2, 'cancelled': 1, 'problem': 1, 'dead letter': 1}


def test_check_fails_on_a_missing_booking_a_waiting_one_a_duplicate_email_and_a_second_meeting():
    expected = {'gone': Expected(False, 'booking:gone'), 'waits': Expected(False, 'booking:waits'),
                'twice': Expected(False, 'booking:twice'), 'own': Expected(False, 'session:s'),
                'silent': Expected(False, 'booking:silent'), 'kept': Expected(True, 'booking:kept')}
    found = {'gone': None, 'waits': _answer('received', None, WAITING_PROBLEM),
             'twice': _answer('active', 'booking:twice'), 'own': _answer('active', 'booking:own'),
             'silent': _answer('active', 'booking:silent'), 'kept': _answer('active', 'booking:kept')}
    verdict = check(expected, found, Counter({'twice': 2, 'own': 1, 'kept': 1}), dead_letters=set())
    assert not verdict.ok
    assert verdict.outcomes['lost'] == 3  # gone, waits, and kept (its cancel was not applied)
    failures = '\n'.join(verdict.failures)
    for said in ('gone: lost (not found)', 'waits: lost (status received', 'twice: 2 creation emails',
                 'own: meeting booking:own, expected session:s', 'silent: a meeting and 0 creation emails',
                 'kept: lost (status active'):
        assert said in failures


def test_own_time_sorts_the_innermost_frames_into_categories():
    collapsed = [
        'process 1:"python -m infra.local";serve (werkzeug/serving.py:1);dispatch (moto/core/responses.py:2) 60',
        'process 1:"python -m infra.local";handler (functions/webhook/handler.py:3);send (botocore/endpoint.py:4) 25',
        'process 1:"python -m infra.local";process 2:"python worker.py";render (jinja2/environment.py:5) 10',
        'process 2:"python worker.py";handle (meetbridge/logic/webhooks.py:6) 4',
        'process 1:"python -m infra.local";count (infra/local/stack.py:7) 2',
        'process 1:"python -m infra.local";Condition.wait (threading.py:8) 1',
        'process 1:"python -m infra.local";serve (socketserver.py:9);_PollLikeSelector.select (selectors.py:10) 7',
        'process 1:"python -m infra.local";shrink (json/decoder.py:11) 3',
        'process 1:"python -m infra.local" 40',
        'not a line',
    ]
    by_category, by_frame = own_time(collapsed)
    assert by_category == {'moto': 60, 'botocore': 25, 'jinja2/pydantic/powertools': 10, 'meetbridge': 4,
                           'local stack (infra/local)': 2, 'other': 3, 'waiting (idle threads)': 8}
    assert by_frame.most_common(1) == [('dispatch (moto/core/responses.py:2)', 60)]


def test_the_cost_of_known_counts():
    usage = {
        'aws_requests': {
            'BookingWebhookFunction': {'DynamoDB_20120810.GetItem': 1000, 'DynamoDB_20120810.PutItem': 1000,
                                       'AWSEvents.PutEvents': 1000, 'AWSEvents.PutEvents items': 1000},
            'MeetingsFunction': {'DynamoDB_20120810.TransactWriteItems': 1000,
                                 'DynamoDB_20120810.TransactWriteItems items': 2000,
                                 'DynamoDB_20120810.BatchGetItem': 10, 'DynamoDB_20120810.BatchGetItem items': 400,
                                 'TrentService.Decrypt': 1000, 'scheduler POST /schedules': 1000},
            'stack': {'AmazonSQS.ReceiveMessage': 2000, 'AmazonSQS.GetQueueAttributes': 50,
                      'secretsmanager.GetSecretValue': 3},
        },
        'functions': {'BookingWebhookFunction': {'invocations': 1000, 'billed_ms': 100_000, 'init_ms': 0, 'memory_mb': 512},
                      'MeetingsFunction': {'invocations': 1000, 'billed_ms': 150_000, 'init_ms': 50_000, 'memory_mb': 1024}},
    }
    units = billed_units(usage)
    assert units == pytest.approx({
        'dynamodb_read_units': 1000 * 0.5 + 400 * 0.5,
        'dynamodb_write_units': 1000 + 2000 * 2,
        'put_events': 1000, 'kms_requests': 1000, 'scheduler_invocations': 1000,
        'sqs_requests': 2000,  # the mappings' receives; the generator's own queue checks are not the system's
        'lambda_requests': 2000,
        'lambda_gb_seconds': 100 * 0.5 + 200 * 1.0,
    })
    costs = cost_per_1000(units, bookings=1000)
    assert costs['lambda_gb_seconds'] == pytest.approx(250 * prices.LAMBDA_ARM_GB_SECOND)
    assert costs['dynamodb_write_units'] == pytest.approx(5000 * 0.625 / 1e6)
    assert costs['kms_requests'] == pytest.approx(1000 * 0.03 / 10_000)
    assert sum(costs.values()) == pytest.approx(
        2000 * 0.20 / 1e6 + 250 * 0.0000133334 + 700 * 0.125 / 1e6 + 5000 * 0.625 / 1e6 + 2000 * 0.40 / 1e6
        + 1000 * 1.00 / 1e6 + 1000 * 1.00 / 1e6 + 1000 * 0.03 / 10_000)
    assert cost_per_1000(units, bookings=2000)['kms_requests'] == pytest.approx(costs['kms_requests'] / 2)
