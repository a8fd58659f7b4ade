"""`meetbridge backfill indexes`: meetings and bookings written before their index keys were derived are put in
the HOSTED# and FAILED# indexes (gsi1) and the BOOKINGS# index (gsi2), once; a dry run writes nothing; an item changed meanwhile is left to that
change."""

import json
import os
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from meetbridge.cli import main

START = datetime(2030, 5, 4, 9, 0, tzinfo=UTC)


def _meeting(tenant_id: str, key: str, status: str = 'scheduled', account_id: str | None = 'acc_1'):
    from meetbridge.store.models import MeetingItem

    return MeetingItem(*MeetingItem.key(tenant_id, key), meeting_key=key, service_id='s', provider_id='p',
                       account_id=account_id, provider_type='zoom', start=START, end=START + timedelta(hours=1),
                       timezone='UTC', status=status, updated_at=START)


def _booking(tenant_id: str, booking_id: str, status: str = 'active', problem: str | None = 'no account connected'):
    from meetbridge.store.models import BookingItem, ClientMap

    return BookingItem(*BookingItem.key(tenant_id, booking_id), booking_id=booking_id, source='generic',
                       service_id='s', provider_id='p', start=START, end=START + timedelta(hours=1), timezone='UTC',
                       client=ClientMap(id='c', name='Client', email='client@example.com'), status=status,
                       meeting_key=f'booking:{booking_id}', problem=problem, updated_at=START)


def _written_before_the_index(*items) -> None:
    """Saves each item, then takes its index keys away, as an item written before they were derived has none."""
    table = boto3.client('dynamodb')
    for item in items:
        item.save()
        table.update_item(TableName=os.environ['TABLE_NAME'], Key={'pk': {'S': item.pk}, 'sk': {'S': item.sk}},
                          UpdateExpression='REMOVE gsi1pk, gsi1sk, gsi2pk, gsi2sk')


def _hosted(tenant_id: str) -> list[str]:
    from meetbridge.store import repository

    return [meeting.meeting_key for meeting in repository.meetings_hosted_by(tenant_id, 'acc_1', START - timedelta(days=1))]


def _failed(tenant_id: str) -> list[str]:
    from meetbridge.store.models import BookingItem, failed_key

    return [booking.booking_id for booking in BookingItem.gsi1.query(failed_key(tenant_id))]


def _listed(tenant_id: str) -> list[str]:
    from meetbridge.store.models import BookingItem, bookings_key

    return [booking.booking_id for booking in BookingItem.gsi2.query(bookings_key(tenant_id))]


def _backfill(capsys, *argv) -> dict:
    assert main(['backfill', 'indexes', *argv, '--json']) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def tenants(cloud, monkeypatch, tmp_path):
    """Two tenants, each with a live meeting and a failed booking written before the index, and items the index
    leaves out (a cancelled meeting, a platform's meeting, a booking with its meeting, a cancelled booking)."""
    from meetbridge.logic.tenants import create_tenant

    monkeypatch.chdir(tmp_path)  # no local stack state here: settings come from the environment
    ids = [create_tenant('Studio One').tenant_id, create_tenant('Studio Two').tenant_id]
    for tenant_id in ids:
        _written_before_the_index(
            _meeting(tenant_id, 'booking:live'), _meeting(tenant_id, 'booking:gone', status='cancelled'),
            _meeting(tenant_id, 'booking:platform', account_id=None),
            _booking(tenant_id, 'failed'), _booking(tenant_id, 'fine', problem=None),
            _booking(tenant_id, 'cancelled', status='cancelled'))
        assert _hosted(tenant_id) == [] and _failed(tenant_id) == [] and _listed(tenant_id) == []
    return ids


def test_items_written_before_the_indexes_are_indexed_once(tenants, capsys):
    done = _backfill(capsys)

    one_each = {'checked': 6, 'outdated': 2, 'indexed': 2, 'changed_concurrently': 0}
    every_booking = {'checked': 6, 'outdated': 6, 'indexed': 6, 'changed_concurrently': 0}  # all are in gsi2
    assert done == {'tenants': 2, 'meetings': one_each, 'bookings': every_booking, 'dry_run': False}
    for tenant_id in tenants:
        assert _hosted(tenant_id) == ['booking:live'] and _failed(tenant_id) == ['failed']
        assert sorted(_listed(tenant_id)) == ['cancelled', 'failed', 'fine']

    again = _backfill(capsys)
    nothing = {'checked': 6, 'outdated': 0, 'indexed': 0, 'changed_concurrently': 0}
    assert again == {'tenants': 2, 'meetings': nothing, 'bookings': nothing, 'dry_run': False}


def test_a_bookings_index_key_of_the_old_format_is_rewritten_with_its_meeting(cloud, monkeypatch, tmp_path, capsys):
    """gsi2sk was `<start>#<booking>` before it held the meeting (`<start>#<meeting key>#<booking>`)."""
    from meetbridge.logic.tenants import create_tenant
    from meetbridge.store.models import BookingItem

    monkeypatch.chdir(tmp_path)
    tenant_id = create_tenant('Studio One').tenant_id
    booking = _booking(tenant_id, 'old', problem=None)
    booking.save()
    boto3.client('dynamodb').update_item(
        TableName=os.environ['TABLE_NAME'], Key={'pk': {'S': booking.pk}, 'sk': {'S': booking.sk}},
        UpdateExpression='SET gsi2sk = :old', ExpressionAttributeValues={':old': {'S': '2030-05-04T09:00:00Z#old'}})

    assert _backfill(capsys, '--tenant', tenant_id)['bookings'] == {
        'checked': 1, 'outdated': 1, 'indexed': 1, 'changed_concurrently': 0}
    assert BookingItem.get(*booking.key(tenant_id, 'old')).gsi2sk == '2030-05-04T09:00:00Z#booking:old#old'


def test_one_tenant_is_indexed_and_the_others_left(tenants, capsys):
    first, second = tenants

    done = _backfill(capsys, '--tenant', first)

    assert done['tenants'] == 1 and done['meetings']['indexed'] == 1 and done['bookings']['indexed'] == 3
    assert _hosted(first) == ['booking:live'] and _failed(first) == ['failed'] and len(_listed(first)) == 3
    assert _hosted(second) == [] and _failed(second) == [] and _listed(second) == []


def test_a_dry_run_counts_and_writes_nothing(tenants, capsys):
    from meetbridge.store import repository

    first = tenants[0]
    version = repository.get_meeting(first, 'booking:live').version

    assert main(['backfill', 'indexes', '--tenant', first, '--dry-run']) == 0
    lines = capsys.readouterr().out.splitlines()

    assert lines[1].startswith('meetings:  3 checked, 1 not indexed, 0 indexed') and lines[-1].startswith('Dry run')
    assert _hosted(first) == [] and _failed(first) == []
    assert repository.get_meeting(first, 'booking:live').version == version


def test_an_item_changed_between_the_read_and_the_update_is_left_to_that_change(tenants, capsys, monkeypatch):
    from meetbridge.logic import backfill
    from meetbridge.store import repository

    first = tenants[0]
    derive = backfill._derived_keys

    def changed_meanwhile(item, names):
        if item.sk == 'MEETING#booking:live':
            concurrent = repository.get_meeting(first, 'booking:live')
            concurrent.fallback_reason = 'moved meanwhile'
            concurrent.save()  # a write derives the keys itself
        return derive(item, names)

    monkeypatch.setattr(backfill, '_derived_keys', changed_meanwhile)
    done = _backfill(capsys, '--tenant', first)

    assert done['meetings'] == {'checked': 3, 'outdated': 1, 'indexed': 0, 'changed_concurrently': 1}
    assert repository.get_meeting(first, 'booking:live').fallback_reason == 'moved meanwhile'
    assert _hosted(first) == ['booking:live']
    monkeypatch.setattr(backfill, '_derived_keys', derive)
    assert _backfill(capsys, '--tenant', first)['meetings']['outdated'] == 0


def test_an_unknown_tenant_is_named(cloud, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit, match='^meetbridge: no tenant t_00000000000000000000$'):
        main(['backfill', 'indexes', '--tenant', 't_00000000000000000000'])
