from meetbridge.logic.notices import notice_of

STARTED = {'tenant_id': 't_1', 'meeting_key': 'session:yoga', 'started_by': 'schedule',
           'start': '2030-05-04T07:00:00+00:00', 'started_at': '2030-05-04T07:00:00.004+00:00',
           'event_id': 't_1/session:yoga/started/2030-05-04T07:00:00.004+00:00'}


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
