from dataclasses import replace
from datetime import UTC, datetime

import pytest

from meetbridge.domain.model import Booking
from meetbridge.providers import provider_for
from meetbridge.providers.base import MeetingSpec

CALL = 'https://app.cal.example/video/abc'
SPEC = MeetingSpec(topic='Consultation', start=datetime(2026, 12, 1, 9, tzinfo=UTC),
                   end=datetime(2026, 12, 1, 10, tzinfo=UTC), timezone='Europe/Berlin', kind='appointment',
                   platform_meeting_url=CALL)


def test_the_platforms_meeting_is_its_url_for_client_and_host_alike():
    provider = provider_for('platform')

    meeting = provider.create(None, SPEC)

    assert (meeting.external_id, meeting.join_url, meeting.password) == (None, CALL, None)
    assert provider.attendee_url(None, meeting, None) == provider.host_url(None, meeting) == CALL
    assert provider.add_attendee(None, meeting, SPEC, 'c@example.org', 'C') is None
    assert provider.find(None, SPEC) is None
    assert provider.delete(None, meeting) is None


def test_an_update_takes_the_latest_url_the_platform_sent():
    provider = provider_for('platform')
    before = provider.create(None, SPEC)

    after = provider.update(None, before, replace(SPEC, platform_meeting_url='https://app.cal.example/video/new'))

    assert after.join_url == 'https://app.cal.example/video/new'


def test_without_the_platforms_url_there_is_nothing_to_wrap():
    with pytest.raises(ValueError):
        provider_for('platform').create(None, replace(SPEC, platform_meeting_url=None))


def _booking(**changes) -> Booking:
    return Booking.model_validate({
        'id': 'b1', 'service_id': 'svc', 'provider_id': 'dana', 'start': '2026-12-01T09:00:00Z',
        'end': '2026-12-01T10:00:00Z', 'timezone': 'Europe/Berlin',
        'client': {'id': 'c1', 'name': 'C', 'email': 'c@example.org'}, **changes})


def test_a_platforms_meeting_is_the_bookings_own_even_in_a_class_session():
    assert _booking(session_id='s1').meeting_key == 'session:s1'
    assert _booking(session_id='s1', platform_meeting_url=CALL).meeting_key == 'booking:b1'
    assert _booking(platform_meeting_url=CALL).meeting_key == 'booking:b1'
