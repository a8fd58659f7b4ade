"""The tenant's general settings, and the lists of its services, providers and bookings."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from meetbridge.logic import listing
from meetbridge.logic.tenants import create_tenant


def test_the_tenants_time_zone_is_utc_until_set_and_only_an_iana_name(stack):
    assert stack.admin('GET', 'settings/general') == (200, {'timezone': 'UTC'})
    assert stack.admin('PUT', 'settings/general', {'timezone': 'Europe/Paris'}) == (200, {'timezone': 'Europe/Paris'})
    assert stack.admin('GET', 'settings/general') == (200, {'timezone': 'Europe/Paris'})
    for bad in ({'timezone': 'Mars/Olympus'}, {'timezone': ''}, {'timezone': 7}, {'timezone': 'UTC', 'zone': 'x'}):
        status, answer = stack.admin('PUT', 'settings/general', bad)
        assert status == 400 and answer['field'] in ('timezone', 'zone'), (bad, answer)
    assert stack.admin('GET', 'settings/general') == (200, {'timezone': 'Europe/Paris'})


def _list(stack, rest: str, **query) -> tuple[int, dict]:
    return stack.admin('GET', rest, query=query)


def _every_page(stack, rest: str, limit: int, **filters) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        status, page = _list(stack, rest, limit=limit, **filters, **({'next': cursor} if cursor else {}))
        assert status == 200, page
        pages.append(page['items'])
        cursor = page['next']
        if cursor is None:
            return pages


def test_services_and_providers_are_listed_by_id_in_pages_by_query_alone(stack, dynamodb_calls):
    for number in range(7):
        assert stack.admin('PUT', f'services/svc{number}', {'name': f'Service {number}', 'online': number % 2 == 0})[0] == 200
        assert stack.admin('PUT', f'providers/p{number}', {'name': f'Provider {number}'})[0] == 200
    stack.admin('PUT', 'accounts/default', {'type': 'custom_link', 'url': 'https://meet.example.com/r'})
    dynamodb_calls.clear()

    pages = _every_page(stack, 'services', limit=3)
    assert [len(page) for page in pages] == [3, 3, 1]  # the last full page knows it is not the last
    assert [service['id'] for page in pages for service in page] == [f'svc{n}' for n in range(7)]
    assert pages[0][0] == {'id': 'svc0', 'name': 'Service 0', 'online': True,
                           'kind': 'appointment', 'links_in_messages': None}
    assert [len(page) for page in _every_page(stack, 'services', limit=7)] == [7]
    assert [provider['id'] for page in _every_page(stack, 'providers', limit=2) for provider in page] == [
        f'p{n}' for n in range(7)]
    status, page = _list(stack, 'providers')
    assert status == 200 and len(page['items']) == 7 and page['next'] is None
    assert page['items'][0] == {'id': 'p0', 'name': 'Provider 0', 'email': None, 'phone': None, 'timezone': None,
                                'company_user': None}
    assert 'Query' in dynamodb_calls and 'Scan' not in dynamodb_calls


def test_a_limit_outside_1_to_200_or_a_cursor_not_handed_out_here_is_400(stack):
    for limit in (0, 201, 'ten'):
        status, answer = _list(stack, 'services', limit=limit)
        assert status == 400 and answer['field'] == 'limit', answer
    assert _list(stack, 'services', limit=200)[0] == 200
    for number in range(3):
        stack.admin('PUT', f'services/svc{number}', {'name': 'S'})
        stack.admin('PUT', f'providers/p{number}', {'name': 'P'})
    services_cursor = _list(stack, 'services', limit=1)[1]['next']
    other = create_tenant('Other Co')
    foreign = listing.encode_cursor(other.tenant_id, 'services', {}, {'pk': f'TENANT#{other.tenant_id}',
                                                                      'sk': 'SERVICE#svc0'})
    outside = listing.encode_cursor(stack.tenant.tenant_id, 'services', {}, {'pk': f'TENANT#{stack.tenant.tenant_id}',
                                                                             'sk': 'KEY#0'})
    for rest, cursor in (('providers', services_cursor), ('services', foreign), ('services', outside),
                         ('services', services_cursor[:-4]), ('services', '%%%'), ('services', 'x' * 3000)):
        status, answer = _list(stack, rest, next=cursor)
        assert status == 400 and answer['field'] == 'next', (rest, cursor, answer)


START = datetime(2030, 5, 4, 9, 0, tzinfo=UTC)


def _booking(tenant_id: str, number: int, **fields):
    """Booking `b<number>`, starting `number` hours after START (saved: its index keys are derived)."""
    from meetbridge.store.models import BookingItem, ClientMap

    values = {'source': 'generic', 'service_id': 'svc', 'provider_id': 'dana', 'status': 'active',
              'start': START + timedelta(hours=number), **fields}
    BookingItem(*BookingItem.key(tenant_id, f'b{number}'), booking_id=f'b{number}', end=values['start'] + timedelta(minutes=30),
                timezone='Europe/Berlin', client=ClientMap(id='c', name='Client', email='client@example.com'),
                meeting_key=f'booking:b{number}', updated_at=START, **values).save()


@pytest.fixture
def booked(stack):
    """Twelve bookings saved in a shuffled order; b3 has a meeting, b5 is cancelled, b7 a kiosk platform's."""
    from meetbridge.store.models import MeetingItem

    stack.admin('PUT', 'services/svc', {'name': 'Consultation', 'online': True})
    stack.admin('PUT', 'services/cut', {'name': 'Haircut'})
    tenant_id = stack.tenant.tenant_id
    for number in (4, 11, 0, 7, 2, 9, 1, 5, 10, 3, 8, 6):
        fields = {}
        if number % 3 == 0:
            fields['provider_id'] = 'eli'
        if number % 4 == 0:
            fields['service_id'] = 'cut'
        if number == 5:
            fields['status'] = 'cancelled'
        if number == 7:
            fields['source'] = 'square'
        _booking(tenant_id, number, **fields)
    MeetingItem(*MeetingItem.key(tenant_id, 'booking:b3'), meeting_key='booking:b3', service_id='svc',
                provider_id='eli', account_id='acc_1', provider_type='custom_link', start=START + timedelta(hours=3),
                end=START + timedelta(hours=3, minutes=30), timezone='UTC', status='scheduled', updated_at=START).save()
    return tenant_id


def _ids(pages: list[list[dict]]) -> list[str]:
    return [booking['id'] for page in pages for booking in page]


def test_bookings_are_listed_by_start_in_pages_from_the_index_never_a_scan(stack, booked, dynamodb_calls):
    dynamodb_calls.clear()
    pages = _every_page(stack, 'bookings', limit=5)
    assert [len(page) for page in pages] == [5, 5, 2]
    assert _ids(pages) == [f'b{n}' for n in range(12)]
    third = pages[0][3]
    assert third == {'id': 'b3', 'source': 'generic', 'service_id': 'svc', 'provider_id': 'eli',
                     'start': '2030-05-04T12:00:00Z', 'end': '2030-05-04T12:30:00Z', 'timezone': 'Europe/Berlin',
                     'status': 'active', 'session_id': None, 'problem': None, 'online': True,
                     'no_show_evidence': None, 'meeting': {'key': 'booking:b3', 'status': 'scheduled', 'account_type': 'custom_link'}}
    assert pages[0][0]['meeting'] is None and pages[0][0]['online'] is False  # b0 is a haircut
    assert 'Scan' not in dynamodb_calls and 'Query' in dynamodb_calls


def test_from_is_inclusive_to_exclusive_in_any_offset(stack, booked):
    # 11:00 UTC is 13:00 in Paris (summer time): b2 starts at it, b5 at 14:00 UTC is the `to`, left out.
    status, page = _list(stack, 'bookings', **{'from': '2030-05-04T13:00:00+02:00', 'to': '2030-05-04T14:00:00Z'})
    assert status == 200 and [booking['id'] for booking in page['items']] == ['b2', 'b3', 'b4'] and page['next'] is None
    status, page = _list(stack, 'bookings', **{'from': '2030-05-04T19:00:00.5Z'})
    assert [booking['id'] for booking in page['items']] == ['b11']
    status, page = _list(stack, 'bookings', to='2030-05-04T09:00:00.5Z')
    assert [booking['id'] for booking in page['items']] == ['b0']


def test_filters_narrow_the_list_and_their_pages_may_be_short(stack, booked, dynamodb_calls):
    dynamodb_calls.clear()
    assert _ids(_every_page(stack, 'bookings', limit=2, provider_id='eli')) == ['b0', 'b3', 'b6', 'b9']
    assert _ids(_every_page(stack, 'bookings', limit=3, service_id='cut')) == ['b0', 'b4', 'b8']
    assert _ids(_every_page(stack, 'bookings', limit=50, status='cancelled')) == ['b5']
    assert _ids(_every_page(stack, 'bookings', limit=50, source='square')) == ['b7']
    assert _ids(_every_page(stack, 'bookings', limit=4, provider_id='eli', service_id='cut')) == ['b0']
    assert _ids(_every_page(stack, 'bookings', limit=4, provider_id='eli', **{'from': '2030-05-04T09:30:00Z'})) == [
        'b3', 'b6', 'b9']
    # Each page reads limit + 1 bookings by start: the first four hold no square booking, so the first page is
    # empty and says where to go on.
    short = _every_page(stack, 'bookings', limit=3, source='square')
    assert short[0] == [] and len(short) > 1 and _ids(short) == ['b7']
    assert 'Scan' not in dynamodb_calls


def test_bad_bounds_and_filters_are_400_naming_them(stack, booked):
    for query, field in (({'from': '2030-05-04T09:00:00'}, 'from'), ({'to': '2030-05-04'}, 'to'),
                         ({'from': 'yesterday'}, 'from'), ({'status': 'lost'}, 'status'),
                         ({'provider_id': 'a b'}, 'provider_id'), ({'limit': 201}, 'limit'),
                         ({'from': '2030-05-05T00:00:00Z', 'to': '2030-05-04T00:00:00Z'}, 'to')):
        status, answer = _list(stack, 'bookings', **query)
        assert status == 400 and answer['field'] == field, (query, answer)
    cursor = _list(stack, 'bookings', limit=2, provider_id='eli')[1]['next']
    status, answer = _list(stack, 'bookings', limit=2, provider_id='dana', next=cursor)
    assert status == 400 and answer['field'] == 'next' and 'other filters' in answer['message']


def _tampered(cursor: str, **position) -> str:
    """`cursor` with its position's keys changed, encoded again (a cursor is checked, not signed)."""
    import base64

    document = json.loads(base64.urlsafe_b64decode(cursor + '=' * (-len(cursor) % 4)))
    return listing.encode_cursor(document['t'], document['l'], document['f'], {**document['k'], **position})


def test_a_cursor_whose_index_key_is_not_its_bookings_or_outside_the_window_is_400(stack, booked):
    window = {'from': '2030-05-04T10:00:00Z', 'to': '2030-05-04T15:00:00Z'}
    cursor = _list(stack, 'bookings', limit=2, **window)[1]['next']  # after b2, 2030-05-04T11:00:00Z
    for sk, gsi2sk in (('BOOKING#b3', '2030-05-04T12:00:00Z#booking:b3#b3'),
                       ('BOOKING#b3', '2030-05-04T12:00:00Z#session:yoga:1#b3')):  # a meeting it may be in
        status, page = _list(stack, 'bookings', limit=2, next=_tampered(cursor, sk=sk, gsi2sk=gsi2sk), **window)
        assert status == 200 and [booking['id'] for booking in page['items']] == ['b4', 'b5'], page
    for gsi2sk in ('2030-05-04T11:00:00Z#booking:b3#b3', '2030-05-04T11:00:00Z#booking:b3#b2',
                   '2030-05-04T11:00:00Z#b2', '2030-05-04T11:00:00Z#booking:b2', '2030-05-04T11:00:00Z', 'x',
                   '2030-05-04T11:00:00Z#session:#b2', '2030-05-04T11:00:00Z#session:a b#b2',
                   '2030-05-04T11:00:00Z#meeting:b2#b2', '2030-05-04T11:00:00Z#booking:b2#b2#b2',
                   '2030-05-04T11:00:00+00:00#booking:b2#b2', '2030-05-04T11:00:00.000Z#booking:b2#b2',
                   '2030-05-04 11:00:00Z#booking:b2#b2', '0001-01-01T00:00:00+14:00#booking:b2#b2',
                   '2030-05-04T09:00:00Z#booking:b2#b2', '2030-05-04T15:00:00Z#booking:b2#b2',
                   '2031-01-01T00:00:00Z#booking:b2#b2'):
        status, answer = _list(stack, 'bookings', limit=2, next=_tampered(cursor, gsi2sk=gsi2sk), **window)
        assert status == 400 and answer['field'] == 'next', (gsi2sk, answer)


def test_a_starting_key_dynamodb_refuses_is_400_naming_next_and_other_refusals_stay_500(stack, booked, monkeypatch):
    """moto takes any starting key; DynamoDB refuses one outside the key condition with a ValidationException."""
    from botocore.client import BaseClient
    from botocore.exceptions import ClientError

    cursor = _list(stack, 'bookings', limit=2)[1]['next']
    make_api_call = BaseClient._make_api_call
    refusal = {}

    def refusing(client, operation, params):
        if operation == 'Query' and params.get('ExclusiveStartKey'):
            raise ClientError({'Error': {'Code': 'ValidationException', 'Message': refusal['message']}}, operation)
        return make_api_call(client, operation, params)

    monkeypatch.setattr(BaseClient, '_make_api_call', refusing)
    refusal['message'] = 'The provided starting key is outside query boundaries based on provided conditions'
    status, answer = _list(stack, 'bookings', limit=2, next=cursor)
    assert status == 400 and answer['field'] == 'next', answer
    refusal['message'] = 'One or more parameter values were invalid'
    assert _list(stack, 'bookings', limit=2, next=cursor)[0] == 500


# Instants datetime cannot move to UTC or round up to the second, and years outside 1970..9998 in UTC.
OUT_OF_RANGE = (('from', '0001-01-01T00:00:00+14:00'), ('from', '9999-12-31T23:59:59.5Z'),
                ('to', '9999-12-31T23:59:59-14:00'), ('from', '0999-01-01T00:00:00Z'), ('to', '1969-12-31T23:59:59Z'),
                ('from', '9999-01-01T00:00:00Z'))


def test_a_bound_outside_the_years_listed_is_400_naming_it(stack, booked):
    for field, moment in OUT_OF_RANGE:
        status, answer = _list(stack, 'bookings', **{field: moment})
        assert status == 400 and answer['field'] == field and '1970' in answer['message'], (field, moment, answer)
    status, page = _list(stack, 'bookings', **{'from': '1970-01-01T00:00:00Z', 'to': '9998-12-31T23:59:59.5Z'})
    assert status == 200 and len(page['items']) == 12


def test_the_index_time_has_four_digit_years_so_it_sorts_by_time():
    from meetbridge.store.models import index_time

    assert index_time(datetime(999, 1, 1, tzinfo=UTC)) == '0999-01-01T00:00:00Z'
    assert index_time(datetime(2030, 5, 4, 13, 0, 0, 500, tzinfo=timezone(timedelta(hours=2)))) == '2030-05-04T11:00:00Z'
    assert index_time(datetime(999, 1, 1, tzinfo=UTC)) < index_time(datetime(1970, 1, 1, tzinfo=UTC))


def test_a_listed_booking_whose_start_passed_says_whether_its_client_opened_the_link_from_one_batch_read(
        stack, dynamodb_calls):
    """no_show_evidence as on the booking itself; the page's client opens are one BatchGetItem, not a read a row."""
    from meetbridge.store.models import LinkOpensItem

    tenant_id = stack.tenant.tenant_id
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2)
    for number, fields in enumerate(({'client_link_sealed': b'sealed'}, {'client_link_sealed': b'sealed'},
                                     {'client_link_sealed': b'sealed', 'status': 'cancelled'}, {},
                                     {'client_link_sealed': b'sealed', 'start': past + timedelta(days=30)})):
        _booking(tenant_id, number, **{'start': past + timedelta(hours=number), **fields})
    LinkOpensItem(*LinkOpensItem.client_key(tenant_id, 'b1'), first=past, last=past, count=1).save()
    dynamodb_calls.clear()

    status, page = _list(stack, 'bookings')
    assert status == 200
    # b0 never opened; b1 did; b2 was cancelled; b3 had no link to open; b4 has not started.
    assert [(item['id'], item['no_show_evidence']) for item in page['items']] == [
        ('b0', True), ('b1', False), ('b2', False), ('b3', None), ('b4', None)]
    # Meetings, services and opens: a batch each; the one GetItem is the API key's tenant.
    assert dynamodb_calls.count('BatchGetItem') == 3 and dynamodb_calls.count('GetItem') == 1, dynamodb_calls
