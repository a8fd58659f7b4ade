"""How long a page of the bookings list takes on the local stack, for a tenant of 5,000 bookings.

    .venv/bin/python -m infra.bench_lists [--bookings 5000]

Starts the local stack in this process, writes the demo tenant's bookings straight into the table (as the
functions save them, index keys derived by BookingItem.serialize; over the webhook each would also make a
meeting, which is not what is measured), one every 10 minutes across four providers, then walks every page
of `GET …/bookings` over HTTP and prints the time per page (median and slowest): unfiltered at limit 50 and
200, and filtered to one provider at limit 200 (a filter's pages are short, see docs/api.md). About a minute.
"""

import argparse
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
FIRST_START = datetime(2031, 1, 6, 8, 0, tzinfo=UTC)


def _write_bookings(info: dict, count: int) -> None:
    import boto3

    from meetbridge.store.models import BookingItem, ClientMap

    client = boto3.client('dynamodb')
    requests = []
    for number in range(count):
        start = FIRST_START + timedelta(minutes=10 * number)
        item = BookingItem(*BookingItem.key(info['tenant_id'], f'bench-{number:05d}'), booking_id=f'bench-{number:05d}',
                           source='generic', service_id=info['service_id'], provider_id=f'bench-p{number % PROVIDERS}',
                           start=start, end=start + timedelta(minutes=30), timezone='Europe/Berlin',
                           client=ClientMap(id=f'c{number}', name='Bench Client', email=f'c{number}@example.com'),
                           meeting_key=f'booking:bench-{number:05d}', updated_at=start, version=1)
        requests.append({'PutRequest': {'Item': item.serialize()}})
    for offset in range(0, len(requests), 25):
        client.batch_write_item(RequestItems={info['table_name']: requests[offset:offset + 25]})


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
        _write_bookings(info, args.bookings)
        print(f'{args.bookings} bookings written in {time.perf_counter() - started:.1f} s')
        window = {'from': FIRST_START.isoformat(), 'to': (FIRST_START + timedelta(days=365)).isoformat()}
        ok = True
        for label, query in (('limit 50', {'limit': 50}), ('limit 200', {'limit': 200}),
                             ('limit 200, one provider', {'limit': 200, 'provider_id': 'bench-p1'})):
            seconds, listed = _walk(info, **window, **query)
            expected = args.bookings // PROVIDERS if 'provider_id' in query else args.bookings
            ok &= listed == expected
            print(f'{label:>24}: {len(seconds)} pages, {listed} bookings; per page median '
                  f'{statistics.median(seconds) * 1000:.0f} ms, slowest {max(seconds) * 1000:.0f} ms, '
                  f'all {sum(seconds):.1f} s')
    finally:
        stack.stop()
    return 0 if ok else 1


if __name__ == '__main__':
    code = main()
    sys.stdout.flush()
    os._exit(code)  # as infra.local does: skip the teardown of moto's and botocore's object graphs
