from datetime import UTC, datetime, timedelta

import pytest

from meetbridge.providers import PROVIDER_TYPES, provider_for
from meetbridge.providers.base import MeetingSpec, ProviderMeeting
from meetbridge.store.repository import Account

ROOM = 'https://webex.example.com/meet/room-42'


def account(**settings) -> Account:
    return Account(tenant_id='tenant-1', account_id='acc_1', type='custom_link', status='active',
                   settings={'url': ROOM, **settings}, secret_sealed=None)


SPEC = MeetingSpec(topic='Yoga', start=datetime(2026, 12, 1, 9, tzinfo=UTC),
                   end=datetime(2026, 12, 1, 10, tzinfo=UTC), timezone='Europe/Berlin', kind='appointment')


def test_create_returns_the_accounts_fixed_room():
    meeting = provider_for('custom_link').create(account(description='Room 42, 3rd floor'), SPEC)

    assert meeting == ProviderMeeting(external_id=None, join_url=ROOM, password=None,
                                      description='Room 42, 3rd floor')


def test_create_without_description():
    assert provider_for('custom_link').create(account(), SPEC).description is None


def test_update_keeps_the_same_meeting():
    provider = provider_for('custom_link')
    meeting = provider.create(account(), SPEC)
    moved = MeetingSpec(topic='Yoga', start=SPEC.start + timedelta(days=1), end=SPEC.end + timedelta(days=1),
                        timezone='Europe/Berlin', kind='appointment')

    assert provider.update(account(), meeting, moved) is meeting


def test_delete_is_a_no_op_that_can_repeat():
    provider = provider_for('custom_link')
    meeting = provider.create(account(), SPEC)

    assert provider.delete(account(), meeting) is None
    assert provider.delete(account(), meeting) is None
    assert provider.host_url(account(), meeting) == ROOM


def test_host_and_every_attendee_get_the_room_url():
    provider = provider_for('custom_link')
    meeting = provider.create(account(), SPEC)

    assert provider.host_url(account(), meeting) == ROOM
    assert provider.attendee_url(account(), meeting, 'cl-1') == ROOM
    assert provider.attendee_url(account(), meeting, 'cl-2') == ROOM


def test_unknown_provider_type_is_a_value_error():
    with pytest.raises(ValueError, match="'nope'"):
        provider_for('nope')


def test_every_registered_type_resolves_to_its_adapter():
    for account_type in PROVIDER_TYPES:
        assert provider_for(account_type).type == account_type


def test_provider_meeting_round_trips_through_a_dict():
    meeting = ProviderMeeting(external_id='z-1', join_url=ROOM, password='pw', description='d')

    assert ProviderMeeting.from_dict(meeting.to_dict()) == meeting
    assert ProviderMeeting.from_dict({'join_url': ROOM, 'unknown': 1}) == ProviderMeeting(None, ROOM)
