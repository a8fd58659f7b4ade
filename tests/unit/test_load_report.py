"""`make load`'s pure parts (infra/load_report.py): the plan, percentiles, the nothing-lost check, the profile's
categories and the cost arithmetic."""

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from infra import load, prices
from infra.load_report import (
    ACCEPTED, SMOKE, SMOKE_SEED, WAITING_PROBLEM, Action, Expected, Mix, billed_units, booking_start, check, cost_per_1000,
    dead_letter_booking, end_to_end_rate, event_id, expect, own_time, percentile, plan,
)

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


def test_the_smoke_plans_a_reschedule_and_a_cancel():
    kinds = Counter(action.kind for action in plan(SMOKE, SMOKE_SEED))
    assert kinds['reschedule'] >= 1 and kinds['cancel'] >= 1 and kinds['click'] >= 1


STARTED = datetime(2026, 11, 28, 10, 0, 20, tzinfo=UTC)
AT = {hours: STARTED.replace(second=0) + timedelta(hours=hours) for hours in range(2, 9)}


def _answer(status: str, meeting_key: str | None, problem: str | None = None, start: datetime = AT[3],
            link: str | None = None) -> dict:
    return {'booking': {'status': status, 'problem': problem, 'start': start.isoformat()},
            'meeting': {'key': meeting_key, 'status': 'scheduled'} if meeting_key else None,
            'links': {'provider': None, 'clients': {'cl': link or f'http://x/j/{meeting_key}'}}}


def _email(meeting_key: str) -> list[str]:
    return [f'Join at http://x/j/{meeting_key} at the time']


def test_expect_holds_every_planned_booking_with_its_last_accepted_start_and_cancellation():
    actions = [Action(0, 'create', 0, hours_ahead=2), Action(0.1, 'create', 1, session=0, hours_ahead=4),
               Action(0.2, 'create', 2, hours_ahead=5), Action(0.3, 'create', 3, hours_ahead=6),
               Action(0.4, 'click', 0), Action(2, 'reschedule', 0, 2, hours_ahead=3),
               Action(3, 'cancel', 2, 2, hours_ahead=5), Action(4, 'reschedule', 0, 3, hours_ahead=4)]
    answers = {event_id('r', a): ACCEPTED for a in actions if a.kind != 'click'}
    answers[event_id('r', actions[3])] = 'HTTP 400'
    answers[event_id('r', actions[-1])] = 'gave up after 5 attempts'
    assert expect(actions, 'r', answers, STARTED) == {
        'bk-r-0': Expected('booking:bk-r-0', AT[3], not_accepted='reschedule v3: gave up after 5 attempts'),
        'bk-r-1': Expected('session:class-r-0', AT[4]),
        'bk-r-2': Expected('booking:bk-r-2', AT[5], cancelled=True),
        'bk-r-3': Expected('booking:bk-r-3', AT[6], not_accepted='create v1: HTTP 400'),
    }
    assert booking_start(STARTED, actions[0]) == datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def test_check_passes_when_every_booking_ended_somewhere_once():
    expected = {'b1': Expected('booking:b1', AT[3]), 'b2': Expected('booking:b2', AT[3], cancelled=True),
                'b3': Expected('session:s', AT[3]), 'b4': Expected('booking:b4', AT[3]),
                'b5': Expected('booking:b5', AT[3])}
    found = {'b1': _answer('active', 'booking:b1'), 'b2': _answer('cancelled', None, start=AT[2]),  # moot once cancelled
             'b3': _answer('active', 'session:s'), 'b4': _answer('received', None, 'no meeting account'),
             'b5': _answer('received', None, WAITING_PROBLEM)}
    emails = {'b1': _email('booking:b1'), 'b3': _email('session:s'), 'b2': _email('booking:b2')}
    verdict = check(expected, found, emails, dead_letters={'b5'})
    assert verdict.ok, verdict.failures
    assert verdict.outcomes == {'meeting': 2, 'cancelled': 1, 'problem': 1, 'dead letter': 1}
    strict = check(expected, found, emails, dead_letters={'b5'}, strict=True)  # the smoke: meetings and cancels only
    assert [failure.split(':')[0] for failure in strict.failures] == ['b4', 'b5']


def test_check_fails_on_a_missing_booking_a_waiting_one_a_duplicate_email_and_a_second_meeting():
    expected = {'gone': Expected('booking:gone', AT[3]), 'waits': Expected('booking:waits', AT[3]),
                'twice': Expected('booking:twice', AT[3]), 'own': Expected('session:s', AT[3]),
                'silent': Expected('booking:silent', AT[3]), 'kept': Expected('booking:kept', AT[3], cancelled=True),
                'moved': Expected('booking:moved', AT[4]), 'linkless': Expected('booking:linkless', AT[3]),
                'refused': Expected('booking:refused', AT[3], not_accepted='create v1: HTTP 400'),
                'late': Expected('booking:late', AT[3], not_accepted='create v1: gave up after 5 attempts')}
    found = {'gone': None, 'waits': _answer('received', None, WAITING_PROBLEM),
             'twice': _answer('active', 'booking:twice'), 'own': _answer('active', 'booking:own'),
             'silent': _answer('active', 'booking:silent'), 'kept': _answer('active', 'booking:kept'),
             'moved': _answer('active', 'booking:moved'), 'linkless': _answer('active', 'booking:linkless'),
             'refused': None, 'late': _answer('active', 'booking:late')}
    emails = {'twice': _email('booking:twice') * 2, 'own': _email('session:s'), 'kept': _email('booking:kept'),
              'moved': _email('booking:moved'), 'linkless': _email('booking:other'), 'late': _email('booking:late') * 2}
    verdict = check(expected, found, emails, dead_letters=set())
    assert not verdict.ok
    assert verdict.outcomes['lost'] == 3  # gone, waits, and kept (its cancel was not applied)
    assert verdict.outcomes['not accepted'] == 2
    failures = '\n'.join(verdict.failures)
    for said in ('gone: lost (not found)', 'waits: lost (status received', 'twice: 2 creation emails',
                 'own: meeting booking:own, expected session:s', 'silent: a meeting and 0 creation emails',
                 'kept: lost (status active', f'moved: starts {AT[3].isoformat()}, expected {AT[4]:%Y-%m-%dT%H:%M:%SZ}',
                 'linkless: its client email lacks its join link', 'refused: never accepted (create v1: HTTP 400)',
                 'late: never accepted', 'late: 2 creation emails'):
        assert said in failures
    assert check({}, {}, {}, set()).failures == ['no booking was planned: nothing to check']


def test_a_dead_letter_counts_for_the_one_booking_it_names():
    event = {'detail-type': 'booking.received', 'detail': {'booking_id': 'bk-r-1', 'note': 'like bk-r-12, bk-r-2'}}
    assert dead_letter_booking(json.dumps(event), 'r') == 'bk-r-1'
    assert dead_letter_booking(json.dumps({'booking': {'id': 'bk-r-12'}}), 'r') == 'bk-r-12'
    assert dead_letter_booking(json.dumps({'booking_id': 'bk-other-1'}), 'r') is None
    assert dead_letter_booking('bk-r-1 in plain text', 'r') is None


def test_end_to_end_rate_is_completed_bookings_over_first_due_to_last_email():
    assert end_to_end_rate(40, 100.0, 120.0) == 2.0
    assert str(end_to_end_rate(0, 100.0, 120.0)) == 'nan'


def test_connections_cover_the_rate_for_a_whole_request_timeout_within_a_bound():
    assert load.connections_for(5, 30) == 5 * load.REQUEST_TIMEOUT + 30
    assert load.connections_for(100, 30) == load.MAX_CONNECTIONS


class _Sqs:
    def __init__(self, depths: dict[str, tuple[int, int]]):
        self.depths = depths

    def get_queue_attributes(self, QueueUrl, AttributeNames):  # noqa: N803 - boto3's names
        visible, hidden = self.depths[QueueUrl]
        return {'Attributes': {'ApproximateNumberOfMessages': str(visible),
                               'ApproximateNumberOfMessagesNotVisible': str(hidden)}}


@pytest.mark.parametrize(('in_flight', 'busy', 'depths', 'settled'), [
    (0, 0, {'q1': (0, 0), 'q2': (0, 0)}, True),
    (1, 0, {'q1': (0, 0), 'q2': (0, 0)}, False),
    (0, 1, {'q1': (0, 0), 'q2': (0, 0)}, False),
    (0, 0, {'q1': (0, 0), 'q2': (0, 3)}, False),
    (0, 0, {'q1': (2, 0), 'q2': (0, 0)}, False),
])
def test_drained_wants_no_async_invocation_no_busy_function_and_empty_queues(monkeypatch, in_flight, busy, depths, settled):
    health = {'async_in_flight': in_flight, 'functions': {'A': {'busy': 0}, 'B': {'busy': busy}}}
    monkeypatch.setattr(load, '_get_json', lambda url: health)
    assert load.drained({'api_url': 'http://stack'}, _Sqs(depths), list(depths)) is settled


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
            'BookingWebhookFunction': {'DynamoDB_20120810.GetItem': 1000, 'DynamoDB_20120810.GetItem consistent': 400,
                                       'DynamoDB_20120810.PutItem': 1000, 'DynamoDB_20120810.PutItem write units': 1200,
                                       'DynamoDB_20120810.PutItem written bytes': 900_000,
                                       'AWSEvents.PutEvents': 1000, 'AWSEvents.PutEvents items': 1000},
            'MeetingsFunction': {'DynamoDB_20120810.TransactWriteItems': 1000,
                                 'DynamoDB_20120810.TransactWriteItems items': 2000,
                                 'DynamoDB_20120810.TransactWriteItems write units': 2000,
                                 'DynamoDB_20120810.Query': 100, 'DynamoDB_20120810.Query consistent': 100,
                                 'DynamoDB_20120810.BatchGetItem': 10, 'DynamoDB_20120810.BatchGetItem items': 400,
                                 'TrentService.Decrypt': 1000, 'scheduler POST /schedules': 1000,
                                 'scheduler DELETE /schedules': 100, 'sns.Publish': 7},
            'stack': {'AmazonSQS.ReceiveMessage': 2000, 'AmazonSQS.DeleteMessageBatch': 300,
                      'AmazonSQS.GetQueueAttributes': 50, 'secretsmanager.GetSecretValue': 3},
        },
        'functions': {'BookingWebhookFunction': {'invocations': 1000, 'billed_ms': 100_000, 'init_ms': 0, 'memory_mb': 512},
                      'MeetingsFunction': {'invocations': 1000, 'billed_ms': 150_000, 'init_ms': 50_000, 'memory_mb': 1024}},
        'event_source_mappings': {'receives': 300, 'queues': 4},
    }
    units = billed_units(usage, seconds=60)
    assert units == pytest.approx({
        'dynamodb_read_units': 400 + 600 * 0.5 + 100 + 400 * 0.5,
        'dynamodb_write_units': 1200 + 2000 * 2,
        'put_events': 1000, 'kms_requests': 1000, 'sms_messages': 7,
        'scheduler_invocations': 900,  # 100 schedules deleted before they fired
        # the mappings: 300 receives with messages, 5 long polls per 20 s on 4 queues for 60 s, and their deletes;
        # not the stack's own 1 s polls nor the generator's queue checks
        'sqs_requests': 300 + 5 * 4 * 3 + 300,
        'lambda_requests': 2000,
        'lambda_gb_seconds': 100 * 0.5 + 200 * 1.0,
    })
    costs = cost_per_1000(units, bookings=1000)
    assert 'sms_messages' not in costs  # stated apart
    assert costs['lambda_gb_seconds'] == pytest.approx(250 * prices.LAMBDA_ARM_GB_SECOND)
    assert costs['dynamodb_write_units'] == pytest.approx(5200 * 0.625 / 1e6)
    assert costs['kms_requests'] == pytest.approx(1000 * 0.03 / 10_000)
    assert sum(costs.values()) == pytest.approx(
        2000 * 0.20 / 1e6 + 250 * 0.0000133334 + 1000 * 0.125 / 1e6 + 5200 * 0.625 / 1e6 + 660 * 0.40 / 1e6
        + 1000 * 1.00 / 1e6 + 900 * 1.00 / 1e6 + 1000 * 0.03 / 10_000)
    assert cost_per_1000(units, bookings=2000)['kms_requests'] == pytest.approx(costs['kms_requests'] / 2)


def _gone(pid: int) -> bool:
    try:
        state = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ('Z', 'X')  # dead, waiting for its new parent to reap it


def _wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + 10
    while not _gone(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _gone(pid)


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='/proc and PR_SET_PDEATHSIG are Linux')
def test_a_stack_that_does_not_get_ready_is_stopped(monkeypatch, tmp_path):
    never_ready = tmp_path / 'python'
    never_ready.write_text('#!/bin/sh\nexec sleep 60\n')
    never_ready.chmod(0o755)
    monkeypatch.setattr(sys, 'executable', str(never_ready))
    monkeypatch.setattr(load, 'READY_SECONDS', 0.5)
    started: list[subprocess.Popen] = []
    popen = subprocess.Popen
    monkeypatch.setattr(load.subprocess, 'Popen', lambda *args, **kwargs: started.append(popen(*args, **kwargs)) or started[-1])
    with pytest.raises(RuntimeError, match='did not start'):
        load.start_stack(tmp_path, tmp_path / 'stack.log', [])
    assert started and started[0].poll() is not None


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='/proc and PR_SET_PDEATHSIG are Linux')
def test_the_stack_dies_with_the_load_generator_even_when_it_is_killed():
    parent = subprocess.Popen([sys.executable, '-c', (
        'import os, subprocess, time\n'
        'from infra.load import _dies_with_parent\n'
        "child = subprocess.Popen(['sleep', '60'], preexec_fn=_dies_with_parent(os.getpid()))\n"
        'print(child.pid, flush=True)\n'
        'time.sleep(60)\n')], cwd=Path(load.__file__).parents[1], stdout=subprocess.PIPE, text=True)
    child = None
    try:
        child = int(parent.stdout.readline())
        assert not _gone(child)
        parent.kill()  # no finally runs: only the kernel's death signal stops the child
        parent.wait(10)
        assert _wait_gone(child)
    finally:
        parent.kill()
        parent.wait(10)
        parent.stdout.close()
        if child is not None and not _gone(child):
            os.kill(child, signal.SIGKILL)
