"""The index of the meetings an account hosts: derived from the meeting at every write, live meetings only."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bookings import booking_event


def _hosted(stack, since: datetime) -> list[str]:
    from meetbridge.logic.accounts import used_by
    from meetbridge.store import repository

    account = used_by(stack.tenant.tenant_id, 'company')
    return [meeting.meeting_key for meeting in repository.meetings_hosted_by(stack.tenant.tenant_id, account.account_id,
                                                                              since)]


def test_live_meetings_are_listed_by_start_and_leave_when_cancelled(stack):
    stack.setup_online_service()
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    # A half-hour zone: the index keeps UTC whatever offset the start was written with.
    later = (soon + timedelta(days=3)).astimezone(ZoneInfo('Asia/Kolkata'))
    stack.book(booking_event(booking_id='b-later', start=later))
    stack.book(booking_event(booking_id='b-soon', start=soon))

    assert _hosted(stack, soon - timedelta(hours=1)) == ['booking:b-soon', 'booking:b-later']
    assert _hosted(stack, soon + timedelta(seconds=1)) == ['booking:b-later']

    stack.book(booking_event('booking.cancelled', booking_id='b-soon', start=soon))
    assert _hosted(stack, soon - timedelta(hours=1)) == ['booking:b-later']


def test_index_keys_follow_the_meeting_item():
    from meetbridge.store.models import MeetingItem

    start = datetime(2030, 3, 31, 3, 30, tzinfo=ZoneInfo('Europe/Berlin'))  # just after clocks went forward (UTC+2)
    meeting = MeetingItem('TENANT#t_1', 'MEETING#booking:b1', meeting_key='booking:b1', service_id='s', provider_id='p',
                          account_id='acc_1', provider_type='zoom', start=start, end=start + timedelta(hours=1),
                          timezone='Europe/Berlin', status='scheduled', updated_at=start)
    attributes = meeting.serialize()
    assert attributes['gsi1pk'] == {'S': 'HOSTED#t_1#acc_1'}
    assert attributes['gsi1sk'] == {'S': '2030-03-31T01:30:00Z#booking:b1'}
    meeting.status = 'cancelled'
    assert 'gsi1pk' not in meeting.serialize()
    meeting.status, meeting.account_id = 'scheduled', None  # a meeting the booking platform made has no account
    assert 'gsi1pk' not in meeting.serialize()
