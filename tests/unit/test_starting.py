"""auto_start's two steps, with the meeting's store and the start queue stood in for: what is handed over,
when, and what a stale request does."""

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from meetbridge.errors import Conflict, NotFound
from meetbridge.logic import starting

START = datetime(2030, 3, 14, 14, 0, tzinfo=UTC)
END = START + timedelta(hours=1)


@pytest.fixture
def world(monkeypatch):
    """One meeting, the requests sent to the start queue, and the meetings marked started."""
    state = SimpleNamespace(meeting=SimpleNamespace(start=START, end=END, status='scheduled'), sent=[], marked=[], reads=0)

    def get_meeting(tenant_id, meeting_key):
        state.reads += 1
        if state.meeting is None:
            raise NotFound('no such meeting')
        return state.meeting

    monkeypatch.setattr(starting.repository, 'get_meeting', get_meeting)
    monkeypatch.setattr(starting.scheduling, 'send_start_request',
                        lambda tenant_id, meeting_key, start, delay: state.sent.append((start, delay)))
    monkeypatch.setattr(starting, 'mark_started', lambda tenant_id, meeting, by, now: state.marked.append(now) or True)
    return state


def _at(moment: datetime):
    return lambda zone=None: moment


def test_a_schedule_firing_late_in_its_minute_hands_over_the_whole_seconds_left(world):
    outcome = starting.hand_over('t', 'booking:b1', START, clock=_at(START - timedelta(seconds=82.6)))

    assert outcome == 'handed over: due in 82 s' and world.sent == [(START, 82)] and world.marked == []


def test_a_start_further_off_than_900_s_is_handed_over_for_900_s(world):
    assert starting.hand_over('t', 'booking:b1', START, clock=_at(START - timedelta(hours=1))) == \
        'handed over: due in 900 s'


@pytest.mark.parametrize('late', [timedelta(seconds=-0.4), timedelta(0), timedelta(seconds=45)])
def test_with_less_than_a_second_left_or_the_start_passed_the_start_step_takes_it_at_once(world, late):
    assert starting.hand_over('t', 'booking:b1', START, clock=_at(START + late)) is None
    assert world.sent == [] and world.reads == 0


@pytest.mark.parametrize(('meeting', 'outcome'), [
    (SimpleNamespace(start=START + timedelta(hours=1), end=END, status='scheduled'), 'stale request: the meeting was moved'),
    (SimpleNamespace(start=START, end=END, status='cancelled'), 'nothing to do: meeting is cancelled'),
    (SimpleNamespace(start=START, end=END, status='started'), 'nothing to do: meeting is started'),
    (None, 'meeting no longer exists'),
])
def test_a_stale_request_is_not_handed_over_and_starts_nothing(world, meeting, outcome):
    world.meeting = meeting
    clock = SimpleNamespace(now=START - timedelta(seconds=0.3), slept=[])

    assert starting.hand_over('t', 'booking:b1', START, clock=_at(START - timedelta(seconds=70))) == outcome
    assert starting.start_on_time('t', 'booking:b1', START, clock=lambda zone=None: clock.now,
                                  sleep=clock.slept.append) == outcome
    assert world.sent == [] and world.marked == []


def test_the_start_step_waits_the_rest_of_the_second_then_starts(world):
    clock = SimpleNamespace(now=START - timedelta(seconds=0.3), slept=[])

    def sleep(seconds):
        clock.slept.append(seconds)
        clock.now += timedelta(seconds=seconds)

    assert starting.start_on_time('t', 'booking:b1', START, clock=lambda zone=None: clock.now, sleep=sleep) == 'started'
    assert clock.slept == [pytest.approx(0.3)] and world.marked == [START]


def test_a_request_replayed_after_the_meeting_ended_starts_nothing(world):
    """A start request replayed from the dead-letter queue days later finds the meeting over."""
    later = _at(END + timedelta(days=3))
    assert starting.start_on_time('t', 'booking:b1', START, clock=later, sleep=lambda seconds: None) == \
        'nothing to do: the meeting is over'
    assert world.marked == []


def test_a_write_that_landed_meanwhile_is_read_again_at_once(world, monkeypatch):
    """A class's booking joined between the read and the start: the start step reads the meeting again and
    starts it, instead of failing the message until its visibility timeout."""
    refusals = [Conflict('changed concurrently')]

    def mark_started(tenant_id, meeting, by, now):
        if refusals:
            raise refusals.pop()
        world.marked.append(now)
        return True

    monkeypatch.setattr(starting, 'mark_started', mark_started)
    assert starting.start_on_time('t', 'booking:b1', START, clock=_at(START), sleep=lambda seconds: None) == 'started'
    assert world.reads == 2 and world.marked == [START]


def test_a_second_conflict_fails_the_message_for_its_redelivery(world, monkeypatch):
    def mark_started(tenant_id, meeting, by, now):
        raise Conflict('changed concurrently')

    monkeypatch.setattr(starting, 'mark_started', mark_started)
    with pytest.raises(Conflict):
        starting.start_on_time('t', 'booking:b1', START, clock=_at(START), sleep=lambda seconds: None)
    assert world.reads == 2
