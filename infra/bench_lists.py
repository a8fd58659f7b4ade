"""How long a page of the bookings list and of the meetings report takes on the local stack, for a tenant of
5,000 bookings.

    .venv/bin/python -m infra.bench_lists [--bookings 5000]

Starts the local stack in this process, writes the demo tenant's bookings straight into the table (as the
functions save them, index keys derived by BookingItem.serialize; over the webhook each would also make a
meeting at a provider, which is not what is measured), one start every 10 minutes across four providers, every
tenth start a class session of five bookings, with their meetings and the link opens of every other client.
Then it walks every page over HTTP and prints the time per page (median and slowest): `GET …/bookings`
unfiltered at limit 50 and 200 and filtered to one provider at limit 200 (a filter's pages are short, see
docs/api.md), and `GET …/reports/meetings` at limit 200 as JSON and as CSV, with the bytes per page. About two
minutes.
"""

import argparse
import csv
import io
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

PROVIDERS = 4
CLASS_EVERY, CLASS_SIZE = 10, 5  # every tenth start is a class session of five bookings
FIRST_START = datetime(2031, 1, 6, 8, 0, tzinfo=UTC)


def _write_bookings(info: dict, count: int) -> tuple[dict[str, int], int]:
    """Writes `count` bookings with their meetings, providers and some opens; answers the bookings of each
    provider and the number of meetings."""
    import boto3

    from meetbridge.store.models import BookingItem, ClientMap, LinkOpensItem, MeetingItem, ProviderItem

    tenant_id = info['tenant_id']
    client = boto3.client('dynamodb')
    items, meetings, by_provider = [], {}, {}
    slot, number = 0, 0
    while number < count:
        start = FIRST_START + timedelta(minutes=10 * slot)
        provider_id = f'bench-p{slot % PROVIDERS}'
        session_id = f'bench-s{slot:05d}' if slot % CLASS_EVERY == 0 else None
        for _ in range(min(CLASS_SIZE if session_id else 1, count - number)):
            booking_id = f'bench-{number:05d}'
            meeting_key = f'session:{session_id}' if session_id else f'booking:{booking_id}'
            items.append(BookingItem(
                *BookingItem.key(tenant_id, booking_id), booking_id=booking_id, source='generic',
                service_id=info['service_id'], provider_id=provider_id, start=start, end=start + timedelta(minutes=30),
                timezone='Europe/Berlin', session_id=session_id, meeting_key=meeting_key,
                client=ClientMap(id=f'c{number}', name=f'Bench Client {number}', email=f'c{number}@example.com'),
                client_link_sealed=os.urandom(180), updated_at=start, version=1))
            meetings.setdefault(meeting_key, (start, provider_id, set()))[2].add(booking_id)
            by_provider[provider_id] = by_provider.get(provider_id, 0) + 1
            if number % 2 == 0:
                items.append(LinkOpensItem(*LinkOpensItem.client_key(tenant_id, booking_id), first=start, last=start,
                                           count=1))
            number += 1
        slot += 1
    for meeting_key, (start, provider_id, booking_ids) in meetings.items():
        items.append(MeetingItem(
            *MeetingItem.key(tenant_id, meeting_key), meeting_key=meeting_key, service_id=info['service_id'],
            provider_id=provider_id, account_id='bench-account', account_slot='company', provider_type='custom_link',
            start=start, end=start + timedelta(minutes=30), timezone='Europe/Berlin', status='scheduled',
            booking_ids=booking_ids, provider_link_sealed=os.urandom(180), updated_at=start, version=1))
    items += [ProviderItem(*ProviderItem.key(tenant_id, provider_id), provider_id=provider_id,
                           name=f'Bench Provider {provider_id}', updated_at=FIRST_START) for provider_id in by_provider]
    requests = [{'PutRequest': {'Item': item.serialize()}} for item in items]
    for offset in range(0, len(requests), 25):
        client.batch_write_item(RequestItems={info['table_name']: requests[offset:offset + 25]})
    return by_provider, len(meetings)


def _walk(info: dict, **query) -> tuple[list[float], int]:
    base = f"{info['api_url']}/v1/tenants/{info['tenant_id']}/bookings"
    seconds, listed, cursor = [], 0, None
    while True:
        params = {**query, **({'next': cursor} if cursor else {})}
        request = urllib.request.Request(f'{base}?{urllib.parse.urlencode(params)}',
                                         headers={'Authorization': f"Bearer {info['api_key']}"})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            page = json.loads(response.read())
        seconds.append(time.perf_counter() - started)
        listed += len(page['items'])
        cursor = page['next']
        if cursor is None:
            return seconds, listed


def _walk_report(info: dict, accept: str, **query) -> tuple[list[float], list[int], int, int]:
    """Every page of the meetings report: seconds and bytes per page, meetings and bookings reported."""
    base = f"{info['api_url']}/v1/tenants/{info['tenant_id']}/reports/meetings"
    seconds, sizes, meetings, bookings, cursor = [], [], 0, 0, None
    while True:
        params = {**query, **({'next': cursor} if cursor else {})}
        request = urllib.request.Request(f'{base}?{urllib.parse.urlencode(params)}',
                                         headers={'Authorization': f"Bearer {info['api_key']}", 'Accept': accept})
        started = time.perf_counter()
        with urllib.request.urlopen(request, timeout=60) as response:
            body, next_cursor = response.read(), response.headers.get('X-Next-Cursor')
        seconds.append(time.perf_counter() - started)
        sizes.append(len(body))
        if accept == 'text/csv':
            lines = list(csv.reader(io.StringIO(body.decode('utf-8-sig'), newline='')))[1:]
            meetings += len({line[0] for line in lines})
            bookings += len(lines)
            cursor = next_cursor
        else:
            page = json.loads(body)
            meetings += len(page['items'])
            bookings += sum(len(row['booking_ids']) for row in page['items'])
            cursor = page['next']
        if cursor is None:
            return seconds, sizes, meetings, bookings


def main() -> int:
    parser = argparse.ArgumentParser(prog='python -m infra.bench_lists', description=__doc__.split('\n')[0])
    parser.add_argument('--bookings', type=int, default=5000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from infra.local.stack import LocalStack, Options

    stack = LocalStack(Options(port=0, aws_port=0, state_dir=Path(tempfile.mkdtemp(prefix='bench-lists-'))))
    try:
        info = stack.start()
        started = time.perf_counter()
        by_provider, meeting_count = _write_bookings(info, args.bookings)
        print(f'{args.bookings} bookings ({meeting_count} meetings) written in {time.perf_counter() - started:.1f} s')
        window = {'from': FIRST_START.isoformat(), 'to': (FIRST_START + timedelta(days=365)).isoformat()}
        ok = True
        for label, query in (('limit 50', {'limit': 50}), ('limit 200', {'limit': 200}),
                             ('limit 200, one provider', {'limit': 200, 'provider_id': 'bench-p1'})):
            seconds, listed = _walk(info, **window, **query)
            ok &= listed == by_provider.get(query.get('provider_id'), args.bookings)
            print(f'{label:>24}: {len(seconds)} pages, {listed} bookings; per page median '
                  f'{statistics.median(seconds) * 1000:.0f} ms, slowest {max(seconds) * 1000:.0f} ms, '
                  f'all {sum(seconds):.1f} s')
        for label, accept in (('report JSON, limit 200', 'application/json'), ('report CSV, limit 200', 'text/csv')):
            seconds, sizes, meetings, bookings = _walk_report(info, accept, **window, limit=200)
            ok &= meetings == meeting_count and bookings == args.bookings
            print(f'{label:>24}: {len(seconds)} pages, {meetings} meetings of {bookings} bookings; per page median '
                  f'{statistics.median(seconds) * 1000:.0f} ms, slowest {max(seconds) * 1000:.0f} ms, '
                  f'all {sum(seconds):.1f} s; bytes per page median {statistics.median(sizes):.0f}, '
                  f'largest {max(sizes)}')
    finally:
        stack.stop()
    return 0 if ok else 1


if __name__ == '__main__':
    code = main()
    sys.stdout.flush()
    os._exit(code)  # as infra.local does: skip the teardown of moto's and botocore's object graphs
