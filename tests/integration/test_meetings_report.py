"""The online meetings report: one row per meeting (a class session's bookings make one, on one page), in the
tenant's zone, with the bookings list's filters and its own cursor; JSON or CSV."""

import csv
import io
import json
import urllib.parse
from datetime import UTC, datetime, timedelta

import pytest
from helpers import admin_event, handler

from meetbridge.logic import listing
from meetbridge.logic.reports import CSV_COLUMNS
from meetbridge.store.models import BookingItem, ClientMap, LinkOpensItem, MeetingItem

START = datetime(2030, 5, 4, 9, 0, tzinfo=UTC)


def _report(stack, accept: str | None = None, rest: str = 'reports/meetings', **query) -> tuple[int, dict, str]:
    event = admin_event('GET', stack.tenant.tenant_id, rest, stack.tenant.api_key, query=query)
    if accept is not None:
        event['headers']['accept'] = accept
    response = handler('admin')(event, stack.context)
    return response['statusCode'], response.get('headers') or {}, response['body']


def _json(stack, **query) -> dict:
    status, headers, body = _report(stack, **query)
    assert status == 200 and headers['Content-Type'] == 'application/json', body
    return json.loads(body)


def _every_page(stack, **query) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        page = _json(stack, **query, **({'next': cursor} if cursor else {}))
        pages.append(page['items'])
        cursor = page['next']
        if cursor is None:
            return pages


@pytest.fixture
def aws_calls(monkeypatch) -> list[tuple[str, str]]:
    """The AWS operations made, as (service, operation)."""
    from botocore.client import BaseClient

    calls = []
    make_api_call = BaseClient._make_api_call

    def recording(client, operation, params):
        calls.append((client.meta.service_model.service_name, operation))
        return make_api_call(client, operation, params)

    monkeypatch.setattr(BaseClient, '_make_api_call', recording)
    return calls


def _booking(tenant_id: str, booking_id: str, start: datetime, client: str = 'Client', **fields) -> BookingItem:
    values = {'source': 'generic', 'service_id': 'svc', 'provider_id': 'dana', 'status': 'active',
              'meeting_key': f'booking:{booking_id}', 'client_link_sealed': b'sealed', **fields}
    item = BookingItem(*BookingItem.key(tenant_id, booking_id), booking_id=booking_id, start=start,
                       end=start + timedelta(minutes=45), timezone='Europe/Berlin', updated_at=START,
                       client=ClientMap(id=f'c-{booking_id}', name=client, email=f'{booking_id}@example.com'),
                       **values)
    item.save()
    return item


def _meeting(tenant_id: str, meeting_key: str, start: datetime, booking_ids: set[str], **fields) -> None:
    values = {'service_id': 'svc', 'provider_id': 'dana', 'account_id': 'acc_1', 'account_slot': 'company',
              'provider_type': 'zoom', 'status': 'scheduled', **fields}
    MeetingItem(*MeetingItem.key(tenant_id, meeting_key), meeting_key=meeting_key, start=start,
                end=start + timedelta(minutes=45), timezone='UTC', booking_ids=booking_ids, updated_at=START,
                **values).save()


@pytest.fixture
def booked(stack):
    """At START: the yoga class session `yoga-1` (bookings s1, s3, s5) and, at the same second, the appointments
    a2 and a4, whose ids sort between the session's (the index keeps them apart: it sorts a second's bookings by
    meeting); a4 has no meeting (it failed). An hour later, the kiosk
    booking k1 (no meeting, a problem) and the appointment a6, cancelled, at another provider."""
    tenant_id = stack.tenant.tenant_id
    assert stack.admin('PUT', 'services/svc', {'name': 'Consultation', 'online': True})[0] == 200
    assert stack.admin('PUT', 'services/yoga', {'name': 'Yoga, "flow"', 'online': True, 'kind': 'class'})[0] == 200
    assert stack.admin('PUT', 'providers/dana', {'name': 'Dana Doe'})[0] == 200
    assert stack.admin('PUT', 'providers/eli', {'name': 'Éli Ørsted'})[0] == 200
    session = {'service_id': 'yoga', 'provider_id': 'eli', 'session_id': 'yoga-1', 'meeting_key': 'session:yoga-1'}
    _booking(tenant_id, 's1', START, 'Zoë Ïvanova', **session)
    _booking(tenant_id, 'a2', START, 'Ann Appointment')
    _booking(tenant_id, 's3', START, '=HYPERLINK("http://x")', **session)
    _booking(tenant_id, 'a4', START, 'Al Failed', client_link_sealed=None,
             problem='no meeting account is connected')
    _booking(tenant_id, 's5', START, 'Sam, Jr.', **{**session, 'status': 'cancelled'})
    _meeting(tenant_id, 'session:yoga-1', START, {'s1', 's3'}, service_id='yoga', provider_id='eli',
             account_slot='provider:eli', provider_type='microsoft', status='started',
             started_at=START + timedelta(seconds=1), started_by='schedule')
    _meeting(tenant_id, 'booking:a2', START, {'a2'}, account_slot='fallback', provider_type='custom_link')
    later = START + timedelta(hours=1)
    _booking(tenant_id, 'k1', later, 'Kim Kiosk', client_link_sealed=None, channel='kiosk',
             problem='online meetings are not available for kiosk bookings')
    _booking(tenant_id, 'a6', later, 'Cy Cancelled', provider_id='eli', status='cancelled')
    _meeting(tenant_id, 'booking:a6', later, {'a6'}, provider_id='eli', status='cancelled')
    LinkOpensItem(*LinkOpensItem.client_key(tenant_id, 's1'), first=START - timedelta(minutes=2), last=START,
                  count=2).save()
    LinkOpensItem(*LinkOpensItem.provider_key(tenant_id, 'session:yoga-1'), first=START - timedelta(minutes=5),
                  last=START, count=1).save()
    return tenant_id


def test_a_class_session_is_one_row_with_all_its_clients_in_the_tenants_zone(stack, booked, aws_calls):
    assert stack.admin('PUT', 'settings/general', {'timezone': 'Asia/Kolkata'})[0] == 200
    aws_calls.clear()
    page = _json(stack)
    assert page['timezone'] == 'Asia/Kolkata' and page['next'] is None
    assert [row['meeting_key'] for row in page['items']] == [
        'booking:a2', 'booking:a4', 'session:yoga-1', 'booking:a6', 'booking:k1']
    session = page['items'][2]
    assert session == {
        'meeting_key': 'session:yoga-1', 'booking_ids': ['s1', 's3', 's5'],
        'service': {'id': 'yoga', 'name': 'Yoga, "flow"'}, 'provider': {'id': 'eli', 'name': 'Éli Ørsted'},
        'clients': [
            {'booking_id': 's1', 'status': 'active', 'name': 'Zoë Ïvanova', 'email': 's1@example.com',
             'first_opened': '2030-05-04T14:28:00+05:30', 'no_show_evidence': None},
            {'booking_id': 's3', 'status': 'active', 'name': '=HYPERLINK("http://x")', 'email': 's3@example.com',
             'first_opened': None, 'no_show_evidence': None},
            {'booking_id': 's5', 'status': 'cancelled', 'name': 'Sam, Jr.', 'email': 's5@example.com',
             'first_opened': None, 'no_show_evidence': None},
        ],
        'start': '2030-05-04T14:30:00+05:30', 'end': '2030-05-04T15:15:00+05:30',
        'account_type': 'microsoft', 'account_slot': 'provider:eli', 'meeting_status': 'started',
        'started_at': '2030-05-04T14:30:01+05:30', 'started_by': 'schedule',
        'provider_first_opened': '2030-05-04T14:25:00+05:30', 'problem': None,
    }
    failed, kiosk = page['items'][1], page['items'][4]
    assert failed['booking_ids'] == ['a4'] and failed['meeting_status'] is None and failed['account_type'] is None
    assert failed['problem'] == 'no meeting account is connected' and failed['provider_first_opened'] is None
    assert kiosk['problem'] == 'online meetings are not available for kiosk bookings'
    assert page['items'][0]['account_slot'] == 'fallback' and page['items'][3]['meeting_status'] == 'cancelled'
    # One Query, then a batch each for meetings, opens and names; no Scan, no GetItem a row, no KMS decrypt.
    dynamodb = [operation for service, operation in aws_calls if service == 'dynamodb']
    assert dynamodb == ['GetItem', 'Query', 'BatchGetItem', 'BatchGetItem', 'BatchGetItem'], dynamodb
    assert not [call for call in aws_calls if call[0] == 'kms'], aws_calls


def test_a_page_never_splits_a_meeting_so_a_session_stays_one_row(stack, booked, aws_calls):
    aws_calls.clear()
    pages = _every_page(stack, limit=2)
    # The first page reads a2, a4, s1: s1 is another meeting than a4, so the page ends after a4. The second reads
    # s1, s3, s5: the third is of the same meeting as the second, so the page goes on to that meeting's end (and
    # reads a6, of another one), and its cursor sits after s5.
    assert [[row['meeting_key'] for row in page] for page in pages] == [
        ['booking:a2', 'booking:a4'], ['session:yoga-1'], ['booking:a6', 'booking:k1']]
    assert pages[1][0]['booking_ids'] == ['s1', 's3', 's5']
    assert ('dynamodb', 'Scan') not in aws_calls
    for limit in (1, 3, 4, 5, 6, 200):
        rows = [row for page in _every_page(stack, limit=limit) for row in page]
        keys = [row['meeting_key'] for row in rows]
        assert len(keys) == len(set(keys)) == 5, (limit, keys)
        assert sorted(booking for row in rows for booking in row['booking_ids']) == [
            'a2', 'a4', 'a6', 'k1', 's1', 's3', 's5'], limit


def test_a_busy_second_is_paged_by_meeting_so_pages_stay_near_the_limit(stack):
    """500 bookings in one second: 100 sessions of 4 and 100 appointments. A page ends between two meetings of the
    second, so it holds 50 bookings plus at most the rest of its last session, and none is lost or shown twice."""
    tenant_id = stack.tenant.tenant_id
    with BookingItem.batch_write() as batch:
        for number in range(500):
            booking_id = f'b{number:03d}'
            session_id = f'class-{number // 4:03d}' if number < 400 else None
            batch.save(BookingItem(
                *BookingItem.key(tenant_id, booking_id), booking_id=booking_id, source='generic', service_id='svc',
                provider_id='dana', start=START, end=START + timedelta(minutes=45), timezone='UTC', updated_at=START,
                session_id=session_id, meeting_key=f'session:{session_id}' if session_id else f'booking:{booking_id}',
                client=ClientMap(id=booking_id, name='Client', email=f'{booking_id}@example.com')))
    pages = _every_page(stack, limit=50)
    sizes = [sum(len(row['booking_ids']) for row in page) for page in pages]
    assert all(50 <= size <= 53 for size in sizes[:-1]) and 0 < sizes[-1] <= 53, sizes
    rows = [row for page in pages for row in page]
    keys = [row['meeting_key'] for row in rows]
    assert len(keys) == len(set(keys)) == 200
    assert all(len(row['booking_ids']) == 4 for row in rows if row['meeting_key'].startswith('session:'))
    assert sorted(booking for row in rows for booking in row['booking_ids']) == [f'b{n:03d}' for n in range(500)]


def test_a_filter_that_drops_what_a_page_read_last_still_keeps_the_session_whole(stack, booked):
    def meeting_keys(limit: int) -> list[list[str]]:
        return [[row['meeting_key'] for row in page] for page in _every_page(stack, limit=limit, provider_id='eli')]

    # limit 2 reads a2, a4 (dana's, dropped) and s1: the meeting may go on after s1, and does (s3, s5).
    assert meeting_keys(2) == [['session:yoga-1'], ['booking:a6']]
    # limit 1: the first page reads only dana's (an empty page with a next); the second reads s1 and s3 and goes on
    # to s5; the third keeps a6 and drops k1, another meeting: the page ends there.
    assert meeting_keys(1) == [[], ['session:yoga-1'], ['booking:a6']]
    assert [row['booking_ids'] for page in _every_page(stack, limit=1, provider_id='eli') for row in page] == [
        ['s1', 's3', 's5'], ['a6']]


def test_the_filters_are_the_bookings_lists(stack, booked):
    rows = _json(stack, status='active')['items']
    assert [row['booking_ids'] for row in rows] == [['a2'], ['a4'], ['s1', 's3'], ['k1']]
    assert [row['meeting_key'] for row in _json(stack, service_id='yoga')['items']] == ['session:yoga-1']
    assert [row['meeting_key'] for row in _json(stack, source='generic', provider_id='eli', status='cancelled')[
        'items']] == ['session:yoga-1', 'booking:a6']
    later = {'from': '2030-05-04T10:00:00+01:00', 'to': '2030-05-04T10:00:01Z'}  # 09:00 UTC to 10:00:01 UTC
    assert [row['meeting_key'] for row in _json(stack, **later)['items']] == [
        'booking:a2', 'booking:a4', 'session:yoga-1', 'booking:a6', 'booking:k1']
    assert [row['meeting_key'] for row in _json(stack, **{'from': '2030-05-04T09:00:01Z'})['items']] == [
        'booking:a6', 'booking:k1']


def test_a_bad_limit_filter_or_another_lists_cursor_is_400(stack, booked):
    for query, field in (({'limit': 201}, 'limit'), ({'limit': 0}, 'limit'), ({'status': 'lost'}, 'status'),
                         ({'from': '2030-05-04T09:00:00'}, 'from'), ({'format': 'xml'}, 'format'),
                         ({'from': '2030-05-05T00:00:00Z', 'to': '2030-05-04T00:00:00Z'}, 'to')):
        status, _, body = _report(stack, **query)
        assert status == 400 and json.loads(body)['field'] == field, (query, body)
    bookings_cursor = json.loads(_report(stack, rest='bookings', limit=1)[2])['next']
    status, _, body = _report(stack, limit=1, next=bookings_cursor)
    assert status == 400 and json.loads(body)['field'] == 'next' and "another list's" in json.loads(body)['message']
    report_cursor = _json(stack, limit=1)['next']
    assert _report(stack, rest='bookings', limit=1, next=report_cursor)[0] == 400
    status, _, body = _report(stack, limit=1, provider_id='eli', next=report_cursor)
    assert status == 400 and 'other filters' in json.loads(body)['message']


def test_a_bound_outside_the_years_listed_is_400_naming_it(stack, booked):
    from test_lists import OUT_OF_RANGE

    for field, moment in OUT_OF_RANGE:
        status, _, body = _report(stack, **{field: moment})
        assert status == 400 and json.loads(body)['field'] == field, (field, moment, body)


def test_times_follow_the_zones_offsets_through_a_daylight_saving_change(stack):
    tenant_id = stack.tenant.tenant_id
    assert stack.admin('PUT', 'settings/general', {'timezone': 'Europe/Paris'})[0] == 200
    # Paris moves to summer time at 01:00 UTC on 31 March 2030.
    _booking(tenant_id, 'winter', datetime(2030, 3, 31, 0, 30, tzinfo=UTC))
    _booking(tenant_id, 'summer', datetime(2030, 3, 31, 1, 30, tzinfo=UTC))
    rows = _json(stack)['items']
    assert [(row['start'], row['end']) for row in rows] == [
        ('2030-03-31T01:30:00+01:00', '2030-03-31T03:15:00+02:00'),
        ('2030-03-31T03:30:00+02:00', '2030-03-31T04:15:00+02:00')]
    assert stack.admin('PUT', 'settings/general', {'timezone': 'UTC'})[0] == 200
    assert _json(stack)['items'][0]['start'] == '2030-03-31T00:30:00Z'


def test_a_past_bookings_row_says_whether_each_client_opened_their_link(stack):
    tenant_id = stack.tenant.tenant_id
    past = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    session = {'session_id': 'past', 'meeting_key': 'session:past'}
    _booking(tenant_id, 'p1', past, **session)
    _booking(tenant_id, 'p2', past, **session)
    _meeting(tenant_id, 'session:past', past, {'p1', 'p2'})
    LinkOpensItem(*LinkOpensItem.client_key(tenant_id, 'p2'), first=past, last=past, count=1).save()
    [row] = _json(stack)['items']
    assert [(client['booking_id'], client['no_show_evidence']) for client in row['clients']] == [
        ('p1', True), ('p2', False)]


def _csv(body: str) -> list[list[str]]:
    assert body.startswith('\ufeff')
    return list(csv.reader(io.StringIO(body[1:], newline='')))


def test_the_same_page_as_csv_one_line_per_client_with_the_next_page_in_headers(stack, booked):
    assert stack.admin('PUT', 'settings/general', {'timezone': 'Asia/Kolkata'})[0] == 200
    status, headers, body = _report(stack, limit=2, format='csv', provider_id='eli')
    assert status == 200 and headers['Content-Type'] == 'text/csv; charset=utf-8'
    assert headers['Content-Disposition'] == f'attachment; filename="meetings-{stack.tenant.tenant_id}.csv"'
    assert body.count('\r\n') == 4 and '\n' not in body.replace('\r\n', '')  # header + s1, s3, s5
    lines = _csv(body)
    assert lines[0] == list(CSV_COLUMNS)
    by_column = [dict(zip(lines[0], line)) for line in lines[1:]]
    assert [line['booking_id'] for line in by_column] == ['s1', 's3', 's5']
    assert {line['meeting_key'] for line in by_column} == {'session:yoga-1'}
    assert by_column[0]['client_name'] == 'Zoë Ïvanova' and by_column[0]['provider_name'] == 'Éli Ørsted'
    assert by_column[0]['service_name'] == 'Yoga, "flow"' and by_column[2]['client_name'] == 'Sam, Jr.'
    assert by_column[1]['client_name'] == '\'=HYPERLINK("http://x")'  # text in a spreadsheet, not a formula
    assert by_column[0]['start'] == '2030-05-04T14:30:00+05:30' and by_column[0]['client_first_opened'] == (
        '2030-05-04T14:28:00+05:30')
    assert by_column[0]['no_show_evidence'] == '' and by_column[0]['account_slot'] == 'provider:eli'

    cursor = headers['X-Next-Cursor']
    assert cursor == _json(stack, limit=2, provider_id='eli')['next']
    link = headers['Link']
    assert link.startswith('<https://api.test/v1/tenants/') and link.endswith('>; rel="next"')
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(link[1:link.index('>')]).query)
    assert query == {'limit': ['2'], 'provider_id': ['eli'], 'next': [cursor], 'format': ['csv']}
    status, headers, body = _report(stack, **{name: values[0] for name, values in query.items()})
    assert status == 200 and [line[1] for line in _csv(body)[1:]] == ['a6'] and 'X-Next-Cursor' not in headers
    assert 'Link' not in headers


def test_accept_chooses_csv_or_json_and_format_overrides_it(stack, booked):
    assert _report(stack, accept='text/csv')[1]['Content-Type'] == 'text/csv; charset=utf-8'
    assert _report(stack, accept='application/json;q=0.4, text/csv')[1]['Content-Type'].startswith('text/csv')
    for accept in ('application/json, text/csv;q=0.5', '*/*', 'text/html', '', 'text/csv;q=bad'):
        assert _report(stack, accept=accept)[1]['Content-Type'] == 'application/json', accept
    assert _report(stack, accept='text/csv', format='json')[1]['Content-Type'] == 'application/json'
    status, headers, body = _report(stack, accept='application/json', format='csv')
    assert headers['Content-Type'].startswith('text/csv') and len(_csv(body)) == 1 + 7


def test_a_cursor_is_checked_like_the_lists(stack, booked):
    other = listing.encode_cursor('t_other', 'meetings-report', {}, {'pk': 'TENANT#t_other', 'sk': 'BOOKING#x',
                                                                     'gsi2pk': 'BOOKINGS#t_other', 'gsi2sk': 'x'})
    status, _, body = _report(stack, next=other)
    assert status == 400 and json.loads(body)['field'] == 'next'
    from test_lists import _tampered

    cursor = _json(stack, limit=2)['next']  # after a4
    for gsi2sk in ('2030-05-04T09:00:00Z#session:yoga-1#a2', '2030-05-04T09:00:00Z#s5',
                   '9999-12-31T23:59:59-14:00#session:yoga-1#s5'):
        status, _, body = _report(stack, limit=2, next=_tampered(cursor, gsi2sk=gsi2sk))
        assert status == 400 and json.loads(body)['field'] == 'next', (gsi2sk, body)


def test_only_an_admin_key_reads_the_report(stack, booked):
    for role, providers in (('senior', []), ('junior', ['eli'])):
        status, made = stack.admin('POST', 'keys', {'role': role, 'providers': providers})
        assert status == 201
        status, answer = stack.admin('GET', 'reports/meetings', api_key=made['key'])
        assert status == 403 and answer['error'] == 'forbidden', (role, answer)
    status, made = stack.admin('POST', 'keys', {'role': 'admin'})
    assert stack.admin('GET', 'reports/meetings', api_key=made['key'])[0] == 200
