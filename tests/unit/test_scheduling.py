import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from infra.local.scheduler import fire_time
from meetbridge.logic.starting import MAX_WAIT_SECONDS, remainder_seconds
from meetbridge.scheduling import MAX_DELAY_SECONDS, at_expression, delay_seconds, schedule_name

NAME = re.compile(r'[0-9a-zA-Z\-_.]+')


def test_schedule_name_is_deterministic():
    assert schedule_name('tenant-1', 'booking:b-1') == schedule_name('tenant-1', 'booking:b-1')


def test_schedule_name_fits_scheduler_rules_even_for_the_longest_ids():
    for tenant, key in [('t', 'booking:b'), ('x' * 128, 'session:' + 'y' * 128), ('a.b@c:d', 'booking:ü#/ ')]:
        name = schedule_name(tenant, key)
        assert len(name) <= 64
        assert NAME.fullmatch(name), name


def test_schedule_name_differs_per_tenant_and_per_meeting():
    names = {
        schedule_name('tenant-1', 'booking:b-1'),
        schedule_name('tenant-2', 'booking:b-1'),
        schedule_name('tenant-1', 'booking:b-2'),
        schedule_name('tenant-1', 'session:b-1'),
    }

    assert len(names) == 4


def test_the_at_expression_is_the_instants_utc_wall_time_whatever_its_offset():
    start = datetime(2030, 3, 14, 9, 0, tzinfo=timezone(timedelta(hours=-5)))  # the 09:00-05:00

    assert at_expression(start) == 'at(2030-03-14T14:00:00)'
    assert fire_time(at_expression(start), 'UTC') == start == datetime(2030, 3, 14, 14, 0, tzinfo=UTC)
    assert at_expression(datetime(2030, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=5, minutes=45)))) == \
        'at(2029-12-31T18:45:00)'
    with pytest.raises(ValueError, match='aware'):
        at_expression(datetime(2030, 3, 14, 9, 0))


START = datetime(2030, 3, 14, 14, 0, tzinfo=UTC)


def test_a_request_waits_on_the_queue_the_whole_seconds_left():
    assert delay_seconds(START, START - timedelta(seconds=61.7)) == 61  # fired late in the schedule's minute
    assert delay_seconds(START, START - timedelta(seconds=120)) == 120


def test_a_start_further_off_than_one_message_may_wait_is_held_900_s_then_handed_over_again():
    assert delay_seconds(START, START - timedelta(seconds=1500)) == MAX_DELAY_SECONDS == 900
    assert delay_seconds(START, START - timedelta(seconds=600)) == 600


def test_with_less_than_a_second_left_or_the_start_passed_nothing_waits_on_the_queue():
    assert delay_seconds(START, START - timedelta(seconds=0.999)) == 0
    assert delay_seconds(START, START) == 0
    assert delay_seconds(START, START + timedelta(seconds=30)) == 0  # a late firing: start at once


def test_at_receipt_only_the_rest_of_the_last_second_is_waited():
    assert remainder_seconds(START, START - timedelta(seconds=0.7)) == pytest.approx(0.7)
    assert remainder_seconds(START, START) == 0
    assert remainder_seconds(START, START + timedelta(seconds=2)) == 0  # late: no wait
    # Never more than a second, whatever arrives early (a replayed dead letter, say).
    assert remainder_seconds(START, START - timedelta(seconds=40)) == MAX_WAIT_SECONDS == 1.0


def test_the_delay_and_the_remainder_add_up_to_the_start():
    sent = START - timedelta(seconds=83, milliseconds=420)
    delay = delay_seconds(START, sent)
    received = sent + timedelta(seconds=delay)
    assert received + timedelta(seconds=remainder_seconds(START, received)) == START
