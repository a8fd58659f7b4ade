"""The rules of reminder offsets: what a tenant may set, how it is kept, and which reminders are still due."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from meetbridge.logic import reminders
from meetbridge.logic.admin import ReminderOffsets
from meetbridge.scheduling import reminder_schedule_name
from meetbridge.store.models import TenantItem

START = datetime(2030, 3, 14, 14, 0, tzinfo=UTC)


@pytest.mark.parametrize('written, kept', [
    ('PT1H', 'PT1H'),
    ('PT24H', 'P1D'),
    ('P1D', 'P1D'),
    ('PT90M', 'PT1H30M'),
    ('P1DT2H', 'P1DT2H'),
    ('PT1M', 'PT1M'),
    ('P30D', 'P30D'),
    ('PT720H', 'P30D'),
])
def test_an_offset_is_kept_in_its_one_spelling(written, kept):
    assert reminders.normalised(written) == kept


@pytest.mark.parametrize('offset', [
    'P1M',  # a month has no fixed length
    'P1Y',
    'P1W',
    'PT30S',  # Scheduler has no second precision to offer
    'PT1.5H',
    '-PT1H',
    'pt1h',
    'PT',
    'P',
    'P1DT',
    '01:00:00',  # pydantic's own other duration format
    '3600',
    '',
    ' PT1H',
    'PT\u0661H',  # a digit, but not an ASCII one
])
def test_anything_but_days_hours_and_minutes_is_refused(offset):
    with pytest.raises(ValueError, match='ISO 8601 duration in days, hours and minutes'):
        reminders.normalised(offset)


@pytest.mark.parametrize('offset', ['PT0M', 'P0D', 'P31D', 'PT43201M', 'PT9999999999999H'])
def test_an_offset_outside_one_minute_to_thirty_days_is_refused(offset):
    with pytest.raises(ValueError, match='must be from PT1M to P30D before the start'):
        reminders.normalised(offset)


def test_the_body_keeps_the_tenants_order_in_the_one_spelling():
    assert ReminderOffsets(offsets=['PT1H', 'PT24H']).offsets == ['PT1H', 'P1D']
    assert ReminderOffsets(offsets=[]).offsets == []


def test_at_most_three_offsets():
    assert ReminderOffsets(offsets=['P2D', 'P1D', 'PT1H']).offsets == ['P2D', 'P1D', 'PT1H']
    with pytest.raises(ValidationError) as refused:
        ReminderOffsets(offsets=['P2D', 'P1D', 'PT1H', 'PT5M'])
    assert [error['loc'] for error in refused.value.errors()] == [('offsets',)]


def test_one_offset_twice_is_refused_whatever_its_spellings():
    with pytest.raises(ValidationError) as refused:
        ReminderOffsets(offsets=['PT24H', 'P1D'])
    assert refused.value.errors()[0]['loc'] == ('offsets',)
    assert 'P1D is given twice' in refused.value.errors()[0]['msg']


def test_a_bad_offset_is_named_by_its_place():
    with pytest.raises(ValidationError) as refused:
        ReminderOffsets(offsets=['PT1H', 'P1M'])
    assert [error['loc'] for error in refused.value.errors()] == [('offsets', 1)]


def test_an_over_long_offset_is_refused_before_it_is_read():
    with pytest.raises(ValidationError) as refused:
        ReminderOffsets(offsets=['PT' + '0' * 100 + '1H'])
    assert refused.value.errors()[0]['type'] == 'string_too_long'


def test_a_tenant_that_set_nothing_has_the_default_and_an_empty_list_is_none():
    assert reminders.offsets_of(TenantItem()) == ['PT1H']
    assert reminders.offsets_of(TenantItem(reminder_offsets=[])) == []
    assert reminders.offsets_of(TenantItem(reminder_offsets=['P1D', 'PT1H'])) == ['P1D', 'PT1H']


def test_each_reminder_is_due_its_offset_before_the_start():
    now = START - timedelta(days=3)

    assert reminders.due(START, ['P1D', 'PT1H'], now) == [('P1D', START - timedelta(days=1)),
                                                           ('PT1H', START - timedelta(hours=1))]


def test_a_reminder_passed_or_less_than_a_minute_away_is_skipped():
    assert reminders.due(START, ['P1D', 'PT1H'], START - timedelta(hours=2)) == [('PT1H', START - timedelta(hours=1))]
    assert reminders.due(START, ['PT1H'], START - timedelta(minutes=61)) == [('PT1H', START - timedelta(hours=1))]
    assert reminders.due(START, ['PT1H'], START - timedelta(minutes=60, seconds=59)) == []
    assert reminders.due(START, ['PT1H'], START) == []


def test_reminder_schedule_names_are_per_tenant_meeting_and_offset_and_fit_scheduler():
    names = {reminder_schedule_name(tenant, key, offset)
             for tenant in ('t1', 't2') for key in ('booking:b1', 'session:b1') for offset in ('PT1H', 'P1D')}
    assert len(names) == 8
    assert reminder_schedule_name('t1', 'booking:b1', 'PT1H') == reminder_schedule_name('t1', 'booking:b1', 'PT1H')
    longest = reminder_schedule_name('x' * 128, 'session:' + 'y' * 128, 'P1DT23H59M')
    assert len(longest) <= 64 and re.fullmatch(r'[0-9a-zA-Z\-_.]+', longest)
