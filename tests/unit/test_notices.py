import pytest

from meetbridge.domain.templates import TEMPLATE_NAMES
from meetbridge.logic.notices import notice_of, template_of
from meetbridge.notify.defaults import DEFAULT_TEMPLATES
from meetbridge.store.models import TemplateItem

STARTED = {'tenant_id': 't_1', 'meeting_key': 'session:yoga', 'started_by': 'schedule',
           'start': '2030-05-04T07:00:00+00:00', 'started_at': '2030-05-04T07:00:00.004+00:00',
           'event_id': 't_1/session:yoga/started/2030-05-04T07:00:00.004+00:00'}


def _item(name: str, **fields) -> TemplateItem:
    return TemplateItem('TENANT#t_1', f'TEMPLATE#{name}', name=name, **fields)


@pytest.mark.parametrize('name', TEMPLATE_NAMES)
def test_a_template_never_touched_is_the_default_enabled_unless_it_is_starting_client(name):
    template = template_of(name, None)

    assert (template.subject, template.body) == DEFAULT_TEMPLATES[name]
    assert template.is_default and template.enabled is (name != 'starting_client')


def test_switched_off_without_text_keeps_the_defaults_text():
    template = template_of('reminder_client', _item('reminder_client', enabled=False))

    assert template.is_default and not template.enabled
    assert (template.subject, template.body) == DEFAULT_TEMPLATES['reminder_client']


def test_own_text_without_enabled_sends_as_by_default():
    template = template_of('starting_client', _item('starting_client', subject='s', body='b'))

    assert (template.subject, template.body, template.is_default, template.enabled) == ('s', 'b', False, False)
    assert template_of('starting_client', _item('starting_client', subject='s', body='b', enabled=True)).enabled


def test_a_start_is_one_notice_per_meeting_and_start():
    notice = notice_of('meeting.started', STARTED)
    again = notice_of('meeting.started', {**STARTED, 'started_at': '2030-05-04T07:00:01+00:00'})

    assert notice == again
    assert notice['notice_id'] == 't_1/session:yoga/starting/2030-05-04T07:00:00+00:00'
    assert (notice['change'], notice['meeting_key'], notice['started_by']) == ('starting', 'session:yoga', 'schedule')


def test_a_reminder_is_its_own_notice_and_events_for_nobody_are_none():
    reminder = {'notice_id': 't_1/booking:b1/reminder/PT1H/2030-05-04T07:00:00Z', 'tenant_id': 't_1',
                'meeting_key': 'booking:b1', 'change': 'reminder', 'start': '2030-05-04T07:00:00Z', 'offset': 'PT1H'}

    assert notice_of('meeting.reminder', reminder) == reminder
    assert notice_of('connection.broken', {'tenant_id': 't_1', 'account_id': 'acc_1', 'event_id': 'x'}) is None
    assert notice_of('meeting.delayed', {'tenant_id': 't_1', 'booking_id': 'b1'}) is None
