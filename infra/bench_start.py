"""How late meetings start, and what their start path costs, on the local stack.

    .venv/bin/python -m infra.bench_start [--meetings 200] [--spread-seconds 150] [--jitter-seconds 60]

Starts the local stack in this process (`infra.local`, its scheduler firing each one-time schedule at a
random moment within the minute after its time, as EventBridge Scheduler does), books the meetings through
the demo tenant's webhook with starts spread over a few minutes (whole seconds, several in the same second),
each far enough ahead for its schedule, waits for every start, and prints:
- the lateness of each meeting's `started_at`, and of its `meeting.started` event reaching the notifications
  queue, against the booked second: p50, p95, p99, max;
- the start path's requests, counted: Scheduler invocations and Lambda requests (the auto_start
  function's invocations), SQS requests (its sends, the event source mapping's receives that returned
  messages and its deletes), DynamoDB reads and writes and PutEvents (the moto requests its role made), and
  its GB-s (the billed durations of its REPORT lines x its MemorySize in template.yaml; its workers are
  started before, as a busy function's environments are warm);
- their cost per 1,000 meetings at the public us-east-1 prices (`infra/prices.py`), beside the sleeping path's.

It takes about 8 minutes: up to 150 s to make the bookings (and send their emails) before the first schedule
is due, the 120 s lead, the spread of the starts. Everything the function does (the schedule's hand-over and
the start) is in the start path; making the
booking (its schedule, its emails) is not. The mapping's empty long polls cost the same with or without
meetings: they are a fixed cost, printed apart.
"""

import argparse
import hashlib
import hmac
import json
import logging
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from infra.local.lambdas import DEFAULT_MAX_WORKERS
from infra.prices import (
    DYNAMODB_READ_UNIT,
    DYNAMODB_WRITE_UNIT,
    LAMBDA_ARM_GB_SECOND,
    LAMBDA_REQUEST,
    PUT_EVENT,
    READ_UNITS,
    SCHEDULER_INVOCATION,
    SQS_REQUEST,
    WRITE_UNITS,
)

# Lambda's SQS event source mapping keeps 5 long polls (20 s) open on an idle queue.
IDLE_RECEIVES_PER_MONTH = 5 * 30 * 24 * 3600 / 20

# The sleeping path this replaced (main at 8bb430c: the schedule fired auto_start AutoStartLeadSeconds = 60 s
# early, anywhere in its minute, and it slept until the second, at 512 MB), measured on 2026-11-27 with this
# bench and this change's infra/local copied into a checkout of that commit (`--max-workers 48`: one worker per
# sleeping meeting), 200 meetings over 150 s, on the same loaded machine as the figures above.
BEFORE = {'lateness_p50_ms': 22, 'lateness_p99_ms': 3697, 'gb_seconds': 15.073, 'cost_per_1000': 0.2083}

REPORT = re.compile(r'REPORT RequestId: \S+\tDuration: [\d.]+ ms\tBilled Duration: (\d+) ms\tMemory Size: (\d+) MB'
                    r'(?:.*Init Duration: ([\d.]+) ms)?')
AUTO_START = 'AutoStartFunction'


class Reports(logging.Handler):
    """The billed milliseconds (and init) of each REPORT line the auto_start function's workers write."""

    def __init__(self):
        super().__init__()
        self.billed_ms: list[tuple[float, int]] = []  # (billed ms, memory MB)

    def emit(self, record: logging.LogRecord) -> None:
        found = REPORT.search(record.getMessage())
        if found:
            billed, memory, init = found.groups()
            self.billed_ms.append((int(billed) + float(init or 0), int(memory)))


class EventArrivals:
    """When each meeting.started event reached the notifications queue (moto's SQS, in this process)."""

    def __init__(self):
        self.arrived: dict[str, float] = {}

    def install(self) -> None:
        from moto.sqs.models import SQSBackend

        original = SQSBackend.send_message
        arrived = self.arrived

        def send_message(backend, queue_name, message_body, *args, **kwargs):
            if 'Notifications' in queue_name and '"meeting.started"' in message_body:
                detail = json.loads(message_body).get('detail', {})
                arrived.setdefault(detail.get('meeting_key', ''), time.time())
            return original(backend, queue_name, message_body, *args, **kwargs)

        SQSBackend.send_message = send_message


def _post(url: str, body: dict, secret: str) -> int:
    raw = json.dumps(body).encode()
    t = int(time.time())
    signature = hmac.new(secret.encode(), f'{t}.'.encode() + raw, hashlib.sha256).hexdigest()
    request = urllib.request.Request(url, data=raw, method='POST', headers={
        'Content-Type': 'application/json', 'X-Meetbridge-Signature': f't={t},v1={signature}'})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status


def _get(url: str, key: str) -> dict:
    request = urllib.request.Request(url, headers={'Authorization': f'Bearer {key}'})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


def percentiles(samples: list[float]) -> str:
    """p50, p95, p99 and max of lateness in seconds, as columns of milliseconds."""
    cuts = statistics.quantiles(samples, n=100, method='inclusive')
    return ''.join(f'{value * 1000:>10.0f}' for value in (statistics.median(samples), cuts[94], cuts[98], max(samples)))


def _booking(tenant: dict, booking_id: str, start: datetime) -> dict:
    return {'event_id': f'evt-{booking_id}', 'type': 'booking.created', 'booking': {
        'id': booking_id, 'service_id': tenant['service_id'], 'provider_id': tenant['provider_id'],
        'start': _iso(start), 'end': _iso(start + timedelta(minutes=30)), 'timezone': 'Europe/Berlin',
        'client': {'id': f'cl-{booking_id}', 'name': 'Bench Client', 'email': f'{booking_id}@example.com',
                   'timezone': 'Europe/London'}}}


def _warm(stack, function, workers: int) -> None:
    """Starts the function's workers (a busy function's environments are warm), then forgets what that cost."""
    request = {'tenant_id': 't_' + '0' * 20, 'meeting_key': 'booking:warm-up', 'start': _iso(datetime.now(UTC) + timedelta(hours=1))}
    threads = [threading.Thread(target=function.invoke, args=(request,)) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    function.invocations = 0
    stack.aws_requests.clear()


def _settled(stack) -> bool:
    """No booking left to make and no email left to send: the start path runs on its own from here."""
    import boto3

    sqs = boto3.client('sqs')
    for poller in stack.pollers:
        if poller.function.logical_id == AUTO_START:
            continue
        counts = sqs.get_queue_attributes(QueueUrl=poller.queue_url, AttributeNames=[
            'ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'])['Attributes']
        if poller.busy or any(int(count) for count in counts.values()):
            return False
    return True


def _started(info: dict, ids: list[str]) -> dict[str, dict]:
    meetings = {}
    for booking_id in ids:
        meeting = _get(f"{info['api_url']}/v1/tenants/{info['tenant_id']}/bookings/{booking_id}",
                       info['api_key']).get('meeting') or {}
        if meeting.get('status') == 'started':
            meetings[booking_id] = meeting
    return meetings


def run(meetings: int, spread: int, jitter: float, booking_seconds: int, max_workers: int) -> int:
    from infra.local.stack import LocalStack, Options

    arrivals = EventArrivals()
    arrivals.install()
    reports = Reports()
    console = logging.getLogger(AUTO_START)
    console.setLevel(logging.INFO)
    console.propagate = False
    console.addHandler(reports)
    state = Path(tempfile.mkdtemp(prefix='bench-start-'))
    stack = LocalStack(Options(port=0, aws_port=0, state_dir=state, scheduler_jitter_seconds=jitter,
                               max_workers=max_workers))
    try:
        info = stack.start()
        function = next(fn for fn in stack.functions if fn.logical_id == AUTO_START)
        _warm(stack, function, function.max_workers)
        reports.billed_ms.clear()
        lead = int(stack.provisioner.resolver.parameters['AutoStartLeadSeconds'])
        webhook = f"{info['api_url']}/webhooks/generic/{info['tenant_id']}"
        # Each booking is made more than lead + 5 s before its start, so each gets its schedule.
        first = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead + 5 + booking_seconds)
        rng = random.Random(10)
        starts = sorted(first + timedelta(seconds=rng.randrange(spread)) for _ in range(meetings))
        ids = [f'bk-{uuid.uuid4().hex[:10]}' for _ in starts]
        for booking_id, start in zip(ids, starts, strict=True):
            assert _post(webhook, _booking(info, booking_id, start), info['webhook_secret']) == 202
        while not _settled(stack):
            time.sleep(1)
        left = (first - timedelta(seconds=lead) - datetime.now(UTC)).total_seconds()
        print(f'{meetings} bookings made {"" if left > 0 else "AFTER THE FIRST SCHEDULE WAS DUE "}'
              f'({abs(left):.0f} s {"before" if left > 0 else "after"} it); starts from {first:%H:%M:%S} over {spread} s, '
              f'{meetings - len(set(starts))} of them in a second another one starts in; lead {lead} s, '
              f'scheduler jitter {jitter:.0f} s, {function.max_workers} auto_start workers', flush=True)
        # Nothing is read while the meetings start, so the reading does not slow the starts down.
        time.sleep(max((starts[-1] - datetime.now(UTC)).total_seconds() + 10, 0))
        started = _started(info, ids)
        deadline = time.monotonic() + 60
        while len(started) < meetings and time.monotonic() < deadline:
            time.sleep(5)
            started = _started(info, ids)
        return _print(stack, meetings, started, arrivals, reports, dict(zip(ids, starts, strict=True)))
    finally:
        stack.stop()


def _print(stack, meetings: int, started: dict, arrivals: EventArrivals, reports: Reports, starts: dict) -> int:
    function = next(fn for fn in stack.functions if fn.logical_id == AUTO_START)
    pollers = [poller for poller in stack.pollers if poller.function is function]
    keys = {fn.credentials()['AWS_ACCESS_KEY_ID']: fn.logical_id for fn in stack.functions}
    made: Counter[str] = Counter()
    start_requests_sent_by_meetings = 0
    for (caller, operation), count in stack.aws_requests.items():
        if keys.get(caller) == AUTO_START:
            made[operation.rsplit('.', 1)[-1]] += count
        elif keys.get(caller) == 'MeetingsFunction' and operation == 'AmazonSQS.SendMessage':
            start_requests_sent_by_meetings += count

    late = [(datetime.fromisoformat(meeting['started_at']) - starts[booking_id]).total_seconds()
            for booking_id, meeting in started.items()]
    by_key = {meeting['key']: starts[booking_id] for booking_id, meeting in started.items()}
    event_late = [arrivals.arrived[key] - start.timestamp() for key, start in by_key.items() if key in arrivals.arrived]
    print(f'{"lateness against the booked second (ms)":<48}{"p50":>10}{"p95":>10}{"p99":>10}{"max":>10}')
    if late:
        print(f'{"started_at":<48}{percentiles(late)}')
    if event_late:
        print(f'{"meeting.started on the notifications queue":<48}{percentiles(event_late)}')
    print(f'started {len(started)} of {meetings}; before their second: {sum(1 for s in late if s < 0)}')

    invocations = function.invocations
    batches = sum(poller.invocations for poller in pollers)
    scheduler = invocations - batches
    sqs = made['SendMessage'] + start_requests_sent_by_meetings + sum(p.receives + p.deletes for p in pollers)
    reads = sum(count * READ_UNITS.get(operation, 0) for operation, count in made.items())
    writes = sum(count * WRITE_UNITS.get(operation, 0) for operation, count in made.items())
    gb_seconds = sum(ms / 1000 * memory / 1024 for ms, memory in reports.billed_ms)
    costs = {
        'Scheduler': scheduler * SCHEDULER_INVOCATION,
        'Lambda requests': invocations * LAMBDA_REQUEST,
        'Lambda GB-s': gb_seconds * LAMBDA_ARM_GB_SECOND,
        'SQS': sqs * SQS_REQUEST,
        'DynamoDB': reads * DYNAMODB_READ_UNIT + writes * DYNAMODB_WRITE_UNIT,
        'PutEvents': made['PutEvents'] * PUT_EVENT,
    }
    n = max(len(started), 1)
    print(f'per meeting: {scheduler / n:.2f} Scheduler invocations, {invocations / n:.2f} Lambda requests '
          f'({batches} SQS batches), {gb_seconds / n:.3f} GB-s, {sqs / n:.2f} SQS requests '
          f'({made["SendMessage"] + start_requests_sent_by_meetings} sent, '
          f'{sum(p.receives for p in pollers)} receives, {sum(p.deletes for p in pollers)} deletes in all), '
          f'{reads / n:.2f} DynamoDB read units, {writes / n:.2f} write units, {made["PutEvents"] / n:.2f} PutEvents')
    print(f'auto_start: {len(reports.billed_ms)} invocations, {reports.billed_ms[0][1] if reports.billed_ms else 0} MB, '
          f'billed {statistics.mean(ms for ms, _ in reports.billed_ms):.0f} ms on average')
    print('DynamoDB requests: ' + ', '.join(f'{operation} {count}' for operation, count in sorted(made.items())
                                             if operation in READ_UNITS or operation in WRITE_UNITS))
    total = sum(costs.values()) / n * 1000
    print(f'cost per 1,000 meetings: ${total:.4f} (' + ', '.join(f'{name} ${cost / n * 1000:.4f}'
                                                                for name, cost in costs.items()) + ')')
    print(f'fixed: the start queue\'s idle long polls, ${IDLE_RECEIVES_PER_MONTH * SQS_REQUEST:.2f} a month')
    print(f'before (sleeping auto_start, 8bb430c): lateness p50 {BEFORE["lateness_p50_ms"]} ms, '
          f'p99 {BEFORE["lateness_p99_ms"]} ms; {BEFORE["gb_seconds"]:.3f} GB-s per meeting; '
          f'${BEFORE["cost_per_1000"]:.4f} per 1,000 meetings')
    return 0 if len(started) == meetings else 1


def main() -> int:
    parser = argparse.ArgumentParser(prog='python -m infra.bench_start', description=__doc__.split('\n')[0])
    parser.add_argument('--meetings', type=int, default=200)
    parser.add_argument('--spread-seconds', type=int, default=150, help='the starts fall in this many seconds')
    parser.add_argument('--jitter-seconds', type=float, default=60.0,
                        help="how late in its window the local scheduler fires a schedule at most (AWS's 60 s)")
    parser.add_argument('--booking-seconds', type=int, default=150,
                        help='time given to make the bookings before the first schedule is due')
    parser.add_argument('--max-workers', type=int, default=DEFAULT_MAX_WORKERS,
                        help=f'worker processes per function at most (default {DEFAULT_MAX_WORKERS}, the local '
                        "stack's; a sleeping start path needs one per waiting meeting)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    return run(args.meetings, args.spread_seconds, args.jitter_seconds, args.booking_seconds, args.max_workers)


if __name__ == '__main__':
    code = main()
    sys.stdout.flush()
    os._exit(code)  # as infra.local does: skip the teardown of moto's and botocore's object graphs
