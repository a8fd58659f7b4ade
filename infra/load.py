"""`make load`: the local stack under an open-loop booking load, and what it cost.

    .venv/bin/python -m infra.load [--rate 5] [--duration 30] [--smoke] [--profile --out DIR] [--stack-arg=--max-workers=8]

Starts the local stack (`python -m infra.local`, as `make dev` does) as a subprocess on free ports, resets its
usage counters (`POST /_local/usage/reset`), then sends, on a schedule that does not wait for answers, signed
generic webhooks at `--rate` a second for `--duration` seconds: new bookings (80%, each with its own client
email `load-<run>-<n>@example.com`, a few hours ahead, in several time zones), reschedules and cancels of
earlier ones (10% each), a class burst of `--class-size` bookings of one session within a second every
`--class-every` seconds, and join-link clicks (a GET of a client's link). A webhook refused with 429 is sent
again after its `Retry-After`, a 5xx, timeout or connection error after a second, as a platform would, with
the same event id and a fresh signature. It then waits (at most `--drain-seconds`) until the queues are empty
and no function is busy, and prints:
- accepted webhooks a second; p50/p95/p99 of the webhook's answer time (from when it was due to be sent) and of
  the time from then to the client's email in `GET /_local/outbox`; errors by kind;
- the nothing-lost check (`infra/load_report.check`): its exit status is 1 when it fails;
- the AWS requests by function and operation, and per 1,000 bookings; the calls on the webhook's path before
  its answer; the cost per 1,000 bookings at the prices of `infra/prices.py` (email apart);
- with `--profile`, py-spy's flame graph and raw stacks of the stack's processes in `--out`, and a table of
  where the CPU time went.
The stack's log goes to `<out>/stack.log`. Everything stops on Ctrl-C or an error: the stack's process group
is killed.
"""

import argparse
import concurrent.futures
import hashlib
import hmac
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from infra import load_report, prices
from infra.load_report import Action, Expected, Mix

REPO_ROOT = Path(__file__).resolve().parents[1]
WEBHOOK_FUNCTION = 'BookingWebhookFunction'
# The client's creation email, by its subject in the default English templates (meetbridge.notify.defaults.en).
CREATED_SUBJECT = 'Your online meeting: '
REQUEST_TIMEOUT = 30
MAX_ATTEMPTS = 5
READY_SECONDS = 120


@dataclass
class Results:
    """What the generator saw, filled by its threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    answer_seconds: list[float] = field(default_factory=list)  # accepted webhooks: from due to 202
    lag_seconds: list[float] = field(default_factory=list)  # from due to actually sent (the generator's own delay)
    errors: Counter = field(default_factory=Counter)
    accepted_at: list[float] = field(default_factory=list)
    created_due: dict[str, float] = field(default_factory=dict)  # booking id -> when its creation was due (epoch)
    accepted: set[str] = field(default_factory=set)  # event ids answered 202
    clicks: Counter = field(default_factory=Counter)


class Load:
    def __init__(self, info: dict, mix: Mix, run: str, connections: int):
        self.info = info
        self.mix = mix
        self.run = run
        self.webhook = f"{info['api_url']}/webhooks/generic/{info['tenant_id']}"
        self.results = Results()
        self.pool = concurrent.futures.ThreadPoolExecutor(max_workers=connections, thread_name_prefix='load')
        self.stop = threading.Event()

    def booking_id(self, number: int) -> str:
        return f'bk-{self.run}-{number}'

    def body(self, action: Action, started: datetime) -> dict:
        start = (started + timedelta(hours=action.hours_ahead)).replace(second=0, microsecond=0)
        kind = {'create': 'booking.created', 'reschedule': 'booking.rescheduled', 'cancel': 'booking.cancelled'}
        booking = {
            'id': self.booking_id(action.booking), 'version': action.version,
            'service_id': self.info['service_id'], 'provider_id': self.info['provider_id'],
            'start': start.strftime('%Y-%m-%dT%H:%M:%SZ'), 'end': (start + timedelta(minutes=30)).strftime('%Y-%m-%dT%H:%M:%SZ'),
            'timezone': action.timezone,
            'client': {'id': f'cl-{self.run}-{action.booking}', 'name': f'Load Client {action.booking}',
                       'email': f'load-{self.run}-{action.booking}@example.com', 'timezone': action.timezone},
        }
        if action.session is not None:
            booking['session_id'] = f'class-{self.run}-{action.session}'
        return {'event_id': f'evt-{self.run}-{action.booking}-{action.version}-{action.kind}',
                'type': kind[action.kind], 'booking': booking}

    def drive(self, actions: list[Action]) -> None:
        """Sends each action when it is due, never waiting for an answer (open loop)."""
        started_wall, started = datetime.now(UTC), time.monotonic()
        futures = []
        for action in actions:
            delay = started + action.at - time.monotonic()
            if self.stop.wait(max(0.0, delay)):
                break
            due = time.time()
            if action.kind == 'click':
                futures.append(self.pool.submit(self.click, action.booking))
                continue
            futures.append(self.pool.submit(self.send, self.body(action, started_wall), due))
        deadline = time.monotonic() + REQUEST_TIMEOUT * 2
        for future in futures:
            try:
                future.result(max(0.0, deadline - time.monotonic()))
            except concurrent.futures.TimeoutError:
                break

    def send(self, body: dict, due: float) -> None:
        raw = json.dumps(body).encode()
        if body['type'] == 'booking.created':
            with self.results.lock:
                self.results.created_due[body['booking']['id']] = due
        for attempt in range(MAX_ATTEMPTS):
            if self.stop.is_set():
                return
            sent = time.time()
            if attempt == 0:
                with self.results.lock:
                    self.results.lag_seconds.append(sent - due)
            signed = int(sent)
            signature = hmac.new(self.info['webhook_secret'].encode(), f'{signed}.'.encode() + raw, hashlib.sha256).hexdigest()
            request = urllib.request.Request(self.webhook, data=raw, method='POST', headers={
                'Content-Type': 'application/json', 'X-Meetbridge-Signature': f't={signed},v1={signature}'})
            retry_after = 1.0
            try:
                with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
                    response.read()
                with self.results.lock:
                    self.results.answer_seconds.append(time.time() - due)
                    self.results.accepted_at.append(time.time())
                    self.results.accepted.add(body['event_id'])
                return
            except urllib.error.HTTPError as exc:
                exc.read()
                kind = f'HTTP {exc.code}' + (' (refused, sent again)' if exc.code == 429 else '')
                if exc.code == 429:
                    retry_after = float(exc.headers.get('Retry-After') or 1)
                elif exc.code < 500:
                    self._error(kind)
                    return  # a 4xx is final: sending it again would get the same answer
            except TimeoutError:
                kind = 'timeout'
            except (urllib.error.URLError, ConnectionError) as exc:
                kind = 'timeout' if isinstance(getattr(exc, 'reason', None), TimeoutError) else 'connection error'
            self._error(kind)
            self.stop.wait(retry_after)
        self._error('gave up after 5 attempts')

    def _error(self, kind: str) -> None:
        with self.results.lock:
            self.results.errors[kind] += 1

    def click(self, number: int) -> None:
        """A client opens their join link: the booking's link from the booking API, then a GET of it."""
        try:
            booking = _get_json(f"{self.info['api_url']}/v1/tenants/{self.info['tenant_id']}/bookings/"
                                f'{self.booking_id(number)}', self.info['api_key'])
            link = ((booking.get('links') or {}).get('clients') or {}).get(f'cl-{self.run}-{number}')
            if not link:
                outcome = 'no link yet'
            else:
                with urllib.request.urlopen(link, timeout=REQUEST_TIMEOUT) as response:
                    response.read()
                outcome = f'HTTP {response.status}'
        except urllib.error.HTTPError as exc:
            outcome = 'no booking yet' if exc.code == 404 else f'HTTP {exc.code}'
        except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
            outcome = type(exc).__name__
        with self.results.lock:
            self.results.clicks[outcome] += 1


def _get_json(url: str, key: str | None = None, timeout: float = REQUEST_TIMEOUT):
    request = urllib.request.Request(url, headers={'Authorization': f'Bearer {key}'} if key else {})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


def _post_json(url: str) -> dict:
    with urllib.request.urlopen(urllib.request.Request(url, data=b'', method='POST'), timeout=REQUEST_TIMEOUT) as response:
        return json.loads(response.read())


# --- the stack ----------------------------------------------------------------------------------------------


def start_stack(state: Path, log: Path, stack_args: list[str]) -> tuple[subprocess.Popen, dict]:
    ready = state / 'ready.json'
    command = [sys.executable, '-m', 'infra.local', '--port', '0', '--aws-port', '0', '--state-dir', str(state),
               '--ready-file', str(ready), '--scheduler-jitter-seconds', '0', *stack_args]
    with open(log, 'wb') as output:
        process = subprocess.Popen(command, cwd=REPO_ROOT, stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + READY_SECONDS
    while not ready.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            tail = log.read_text(errors='replace')[-3000:]
            raise RuntimeError(f'the local stack did not start (see {log}):\n{tail}')
        time.sleep(0.2)
    info = json.loads(Path(json.loads(ready.read_text())['dev_json']).read_text())
    return process, info


def stop_stack(process: subprocess.Popen) -> None:
    """SIGTERM to its process group (the stack stops its workers), then SIGKILL if it is still there."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 5)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _sqs(info: dict):
    import boto3

    return boto3.client('sqs', endpoint_url=info['aws_endpoint_url'], region_name=info['region'],
                        aws_access_key_id='testing', aws_secret_access_key='testing')


def _queues(info: dict) -> tuple[list[str], list[str]]:
    """(work queues, dead-letter queues) by their URLs in dev.json."""
    urls = {lid: ref for lid, ref in info['resources'].items() if lid.endswith('Queue') and ref.startswith('http')}
    dead = [url for lid, url in urls.items() if lid.endswith('DeadLetterQueue')]
    return [url for url in urls.values() if url not in dead], dead


def drained(info: dict, sqs, work_queues: list[str]) -> bool:
    health = _get_json(f"{info['api_url']}/_local/health")
    if health['async_in_flight'] or any(fn['busy'] for fn in health['functions'].values()):
        return False
    for url in work_queues:
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            'ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'])['Attributes']
        if any(int(count) for count in counts.values()):
            return False
    return True


def dead_letter_bookings(sqs, dead_queues: list[str], run: str) -> tuple[set[str], dict[str, int]]:
    """The booking ids of this run named in dead-letter messages, and each queue's depth."""
    pattern = re.compile(rf'bk-{re.escape(run)}-\d+')
    named: set[str] = set()
    depths = {}
    for url in dead_queues:
        depths[url.rsplit('/', 1)[-1]] = int(sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=['ApproximateNumberOfMessages'])['Attributes']['ApproximateNumberOfMessages'])
        while True:  # each message once: hidden for the rest of the run
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600).get('Messages', [])
            if not messages:
                break
            for message in messages:
                named.update(pattern.findall(message['Body']))
    return named, depths


# --- the run ------------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    mix = Mix(rate=args.rate, duration=args.duration, class_every=args.class_every, class_size=args.class_size)
    actions = load_report.plan(mix, args.seed)
    out = Path(args.out or tempfile.mkdtemp(prefix='meetbridge-load-'))
    out.mkdir(parents=True, exist_ok=True)
    state = Path(tempfile.mkdtemp(prefix='state-', dir=out))
    run_id = uuid.uuid4().hex[:6]
    print(f'run {run_id}: {args.rate:g} webhooks/s for {args.duration:g} s, a class of {args.class_size} every '
          f'{args.class_every:g} s; {sum(a.kind == "create" for a in actions)} new bookings, '
          f'{sum(a.kind == "reschedule" for a in actions)} reschedules, {sum(a.kind == "cancel" for a in actions)} '
          f'cancels, {sum(a.kind == "click" for a in actions)} clicks; stack log {out / "stack.log"}', flush=True)
    process, info = start_stack(state, out / 'stack.log', args.stack_arg)
    profilers: list[subprocess.Popen] = []
    load = Load(info, mix, run_id, args.connections)
    try:
        sqs = _sqs(info)
        work_queues, dead_queues = _queues(info)
        fired_before = _get_json(f"{info['api_url']}/_local/health")['scheduler']['fired']
        _post_json(f"{info['api_url']}/_local/usage/reset")
        if args.profile:
            profilers = start_profilers(process.pid, out)
        started = time.monotonic()
        load.drive(actions)
        sending = time.monotonic() - started
        deadline = time.monotonic() + args.drain_seconds
        while not (settled := drained(info, sqs, work_queues)) and time.monotonic() < deadline:
            time.sleep(1)
        drain = time.monotonic() - started - sending
        usage = _get_json(f"{info['api_url']}/_local/usage")
        stop_profilers(profilers)
        fired = _get_json(f"{info['api_url']}/_local/health")['scheduler']['fired'] - fired_before
        print(f'sent for {sending:.1f} s, {"drained in" if settled else "NOT drained within"} {drain:.1f} s; '
              f'{fired} schedules fired during the run', flush=True)
        return report(load, actions, info, usage, sqs, dead_queues, out if args.profile else None, settled)
    finally:
        load.stop.set()
        load.pool.shutdown(wait=False, cancel_futures=True)
        stop_profilers(profilers)
        stop_stack(process)
        shutil.rmtree(state, ignore_errors=True)


def report(load: Load, actions: list[Action], info: dict, usage: dict, sqs, dead_queues: list[str],
           profile_dir: Path | None, settled: bool) -> int:
    results, run_id = load.results, load.run
    expected: dict[str, Expected] = {}
    for action in actions:
        booking_id = load.booking_id(action.booking)
        if action.kind == 'create' and f'evt-{run_id}-{action.booking}-1-create' in results.accepted:
            key = f'session:class-{run_id}-{action.session}' if action.session is not None else f'booking:{booking_id}'
            expected[booking_id] = Expected(cancelled=False, meeting_key=key)
        elif action.kind == 'cancel' and booking_id in expected and \
                f'evt-{run_id}-{action.booking}-{action.version}-cancel' in results.accepted:
            expected[booking_id] = Expected(cancelled=True, meeting_key=expected[booking_id].meeting_key)
    outbox = _get_json(f"{info['api_url']}/_local/outbox?channel=email&to=load-{run_id}-", timeout=120)
    created_emails: Counter = Counter()
    to_outbox: list[float] = []
    emails_sent = len(_get_json(f"{info['api_url']}/_local/outbox?channel=email", timeout=120))
    for email in outbox:
        number = re.search(rf'load-{run_id}-(\d+)@', ' '.join(email['to']))
        if number and email['subject'].startswith(CREATED_SUBJECT):
            booking_id = load.booking_id(int(number.group(1)))
            created_emails[booking_id] += 1
            if booking_id in results.created_due and email['sent_at']:
                sent = datetime.fromisoformat(email['sent_at'].replace('Z', '+00:00')).timestamp()
                to_outbox.append(sent - results.created_due[booking_id])
    found = fetch_bookings(info, list(expected))
    dead, depths = dead_letter_bookings(sqs, dead_queues, run_id)
    verdict = load_report.check(expected, found, created_emails, dead)

    accepted = len(results.accepted)
    span = (max(results.accepted_at) - min(results.accepted_at)) if len(results.accepted_at) > 1 else 0
    print(f'\naccepted webhooks: {accepted} ({accepted / span if span else float("nan"):.1f}/s while answering)')
    _percentiles('webhook answer, from due (s)', results.answer_seconds)
    _percentiles('webhook due to client email (s)', to_outbox)
    _percentiles("generator's own lag (s)", results.lag_seconds)
    print('errors: ' + (', '.join(f'{kind} {count}' for kind, count in sorted(results.errors.items())) or 'none'))
    print('join-link clicks: ' + (', '.join(f'{kind} {count}' for kind, count in sorted(results.clicks.items())) or 'none'))
    print('dead-letter queues: ' + (', '.join(f'{name} {depth}' for name, depth in depths.items() if depth) or 'empty'))
    print(f'nothing lost: {"PASS" if verdict.ok else "FAIL"} ({len(expected)} bookings: '
          + ', '.join(f'{outcome} {count}' for outcome, count in sorted(verdict.outcomes.items())) + ')')
    if not settled:
        print('  (the stack had not drained: what was still in flight counts as lost; --drain-seconds waits longer)')
    for failure in verdict.failures[:20]:
        print(f'  {failure}')
    if len(verdict.failures) > 20:
        print(f'  ... and {len(verdict.failures) - 20} more')
    print_usage(usage, len(expected), emails_sent, settled)
    if profile_dir is not None:
        print_profile(profile_dir)
    return 0 if verdict.ok else 1


def fetch_bookings(info: dict, booking_ids: list[str]) -> dict[str, dict | None]:
    def one(booking_id: str) -> tuple[str, dict | None]:
        try:
            return booking_id, _get_json(f"{info['api_url']}/v1/tenants/{info['tenant_id']}/bookings/{booking_id}",
                                         info['api_key'])
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return booking_id, None
            raise

    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        return dict(pool.map(one, booking_ids))


def _percentiles(name: str, samples: list[float]) -> None:
    cuts = ''.join(f'{load_report.percentile(samples, share):>9.3f}' for share in (0.5, 0.95, 0.99))
    print(f'{name:<36}{cuts}{max(samples, default=float("nan")):>9.3f}   n={len(samples)}')


def print_usage(usage: dict, bookings: int, emails: int, settled: bool) -> None:
    """Per 1,000 bookings: of a run that drained, since the work of a booking still in flight is not all counted."""
    per = 1000 / max(bookings, 1)
    if not settled:
        print('\nNOT DRAINED: the counts below miss the work still queued, so the figures per 1,000 bookings are too '
              'low and the cost target is not judged; rerun with a longer --drain-seconds')
    print(f'\nAWS requests during the run ({bookings} bookings), and per 1,000 bookings:')
    for caller, operations in usage['aws_requests'].items():
        for operation, count in operations.items():
            print(f'  {caller:<32}{operation:<48}{count:>8}{count * per:>10.0f}')
    print(f'{"function":<34}{"invocations":>12}{"billed ms":>12}{"init ms":>10}{"MB":>6}{"GB-s/1000":>11}')
    for name, function in usage['functions'].items():
        if function['invocations']:
            gb_s = (function['billed_ms'] + function['init_ms']) / 1000 * function['memory_mb'] / 1024 * per
            print(f'  {name:<32}{function["invocations"]:>12}{function["billed_ms"]:>12}{function["init_ms"]:>10.0f}'
                  f'{function["memory_mb"]:>6}{gb_s:>11.3f}')
    webhook = usage['functions'].get(WEBHOOK_FUNCTION, {}).get('invocations', 0)
    calls = sum(usage['aws_requests'].get(WEBHOOK_FUNCTION, {}).values())
    transaction_items = sum(count for operation, count in usage['aws_requests'].get(WEBHOOK_FUNCTION, {}).items()
                            if operation.endswith(' items'))
    path = (calls - transaction_items) / webhook if webhook else float('nan')
    print(f'AWS calls on the webhook\'s path before its answer: {path:.2f} a webhook (target <= 2)')
    units = load_report.billed_units(usage)
    costs = load_report.cost_per_1000(units, bookings)
    total = sum(costs.values())
    verdict = ('MET' if total <= 0.05 else 'MISSED') if settled else 'not judged: not drained'
    print(f'cost per 1,000 bookings, us-east-1 arm64: ${total:.4f} (target <= $0.05, email apart) {verdict}')
    for name, cost in costs.items():
        print(f'  {name:<28}{units.get(name, 0) * per:>12.1f} units  ${cost:.4f}')
    print(f'  email (SES, apart): {emails * per:.0f} emails per 1,000 bookings, ${emails * prices.SES_EMAIL * per:.4f}')


# --- profile ------------------------------------------------------------------------------------------------


def start_profilers(pid: int, out: Path) -> list[subprocess.Popen]:
    """py-spy on the stack and its workers, without pausing them (--nonblocking; paused, the stack's own process
    went unsampled here): a flame graph and raw stacks."""
    spy = shutil.which('py-spy') or str(Path(sys.executable).with_name('py-spy'))
    return [subprocess.Popen([spy, 'record', '--pid', str(pid), '--subprocesses', '--nonblocking', '--rate', '50',
                              '--format', fmt, '--output', str(out / name)],
                             stdout=subprocess.DEVNULL, stderr=open(out / f'{name}.log', 'wb'), start_new_session=True)
            for fmt, name in (('flamegraph', 'profile.svg'), ('raw', 'profile.txt'))]


def stop_profilers(profilers: list[subprocess.Popen]) -> None:
    """Ctrl-C makes py-spy write what it recorded."""
    for profiler in profilers:
        if profiler.poll() is None:
            profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        try:
            profiler.wait(60)
        except subprocess.TimeoutExpired:
            profiler.kill()
    profilers.clear()


def print_profile(out: Path) -> None:
    raw = out / 'profile.txt'
    if not raw.exists():
        print(f'\nno profile written (see {out}/profile.txt.log)')
        return
    by_category, by_frame = load_report.own_time(raw.read_text().splitlines())
    idle = by_category.pop(load_report.IDLE, 0)
    busy = sum(by_category.values()) or 1
    print(f'\nwhere the CPU time went (own time of {busy} busy samples; {idle} more in waiting frames; '
          f'{out / "profile.svg"}):')
    for name, samples in by_category.most_common():
        print(f'  {name:<30}{samples / busy:>7.1%}')
    print('top busy frames by own time:')
    for frame, samples in [(f, n) for f, n in by_frame.most_common() if load_report.category(f) != load_report.IDLE][:15]:
        print(f'  {samples / busy:>6.1%}  {frame[:110]}')


def _cpu_model() -> str:
    try:
        cpuinfo = Path('/proc/cpuinfo').read_text()
    except OSError:
        return platform.machine()
    found = re.search(r'^model name\s*:\s*(.+)$', cpuinfo, re.MULTILINE)
    return found.group(1) if found else platform.machine()


def main() -> int:
    parser = argparse.ArgumentParser(prog='python -m infra.load', description=__doc__.split('\n')[0])
    parser.add_argument('--rate', type=float, default=5.0, help='webhooks a second (default 5)')
    parser.add_argument('--duration', type=float, default=30.0, help='seconds of sending (default 30)')
    parser.add_argument('--class-every', type=float, default=20.0, help='a class burst every this many seconds')
    parser.add_argument('--class-size', type=int, default=30, help='bookings of one session within a second')
    parser.add_argument('--drain-seconds', type=float, default=60.0, help='how long to wait for the stack to drain')
    parser.add_argument('--connections', type=int, default=128, help='requests in flight at most')
    parser.add_argument('--seed', type=int, default=14, help='the mix of actions is the same for the same seed')
    parser.add_argument('--profile', action='store_true', help='record the stack with py-spy (needs ptrace: root)')
    parser.add_argument('--out', help='where the stack log and the profile go (default: a new temporary directory)')
    parser.add_argument('--stack-arg', action='append', default=[],
                        help='passed to python -m infra.local (repeat it; --stack-arg=--max-workers=8)')
    parser.add_argument('--smoke', action='store_true',
                        help="CI's preset: 3/s for 4 s, a class of 5, up to 300 s to drain; only the check counts")
    args = parser.parse_args()
    if args.smoke:  # a slow CI machine gets longer to drain: the smoke checks only that nothing was lost
        args.rate, args.duration, args.class_every, args.class_size, args.drain_seconds = 3.0, 4.0, 4.0, 5, 300.0
    print(f'{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores, {_cpu_model()}')
    try:
        return run(args)
    except KeyboardInterrupt:  # the stack is stopped by run()'s finally
        print('\ninterrupted', file=sys.stderr)
        return 130


if __name__ == '__main__':
    code = main()
    sys.stdout.flush()
    os._exit(code)  # the pool's threads may still be waiting on a request: nothing is left to finish
