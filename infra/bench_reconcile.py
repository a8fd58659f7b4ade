"""How long the re-homing of 200 future Zoom meetings takes on the local stack, and what it asks of Zoom.

    .venv/bin/python -m infra.bench_reconcile [--meetings 200] [--providers 4] [--failures 40]

Starts the local stack in this process, connects the company's Zoom (zoom-owner) and each provider's own Zoom
through the consent flow, maps each provider to a company Zoom user of their own, books the meetings through
the demo tenant's webhook (spread over the providers: Zoom lets one host make 100 meetings a UTC day, so 200
meetings of one provider could not move to one company user in a day), waits until they are made and told,
then DELETEs every provider's own account at once and prints:
- the time from the DELETEs until every meeting is on the company account, and until every accounts.reconciled
  summary is on the bus;
- the Zoom calls the reconciliation made, per operation (the sandbox's call log), and how many failed;
- the meetings at Zoom afterwards (one per booking: none lost, none made twice).
It runs twice: Zoom answering every call, then Zoom failing `--failures` meeting creations part of the way (the
failed meetings are retried after the queue's 30 s first delay). About 3 to 5 minutes in all.
"""

import argparse
import hashlib
import hmac
import json
import logging
import os
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

SETTLE_SECONDS = 300  # the most the bookings, or a reconciliation, may take before the bench gives up
RECONCILED = 'accounts.reconciled'


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _call(url: str, method: str = 'GET', body: dict | None = None, key: str | None = None,
          headers: dict | None = None) -> tuple[int, dict | str, dict]:
    raw = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=raw, method=method, headers={
        **({'Authorization': f'Bearer {key}'} if key else {}),
        **({'Content-Type': 'application/json'} if raw is not None else {}), **(headers or {})})
    try:
        with urllib.request.build_opener(NoRedirect).open(request, timeout=30) as response:
            status, text, answer_headers = response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as error:
        status, text, answer_headers = error.code, error.read().decode(), dict(error.headers)
    try:
        return status, json.loads(text), answer_headers
    except ValueError:
        return status, text, answer_headers


class Tenant:
    def __init__(self, info: dict):
        self.info = info
        self.base = f"{info['api_url']}/v1/tenants/{info['tenant_id']}"

    def admin(self, method: str, rest: str, body: dict | None = None) -> dict:
        status, answer, _ = _call(f'{self.base}/{rest}', method, body, self.info['api_key'])
        if status >= 300:
            raise RuntimeError(f'{method} {rest}: {status} {answer}')
        return answer

    def book(self, booking_id: str, provider_id: str, start: datetime) -> None:
        iso = '%Y-%m-%dT%H:%M:%SZ'
        raw = json.dumps({'event_id': f'evt-{booking_id}', 'type': 'booking.created', 'booking': {
            'id': booking_id, 'service_id': self.info['service_id'], 'provider_id': provider_id,
            'start': start.strftime(iso), 'end': (start + timedelta(minutes=30)).strftime(iso),
            'timezone': 'Europe/Berlin', 'client': {'id': f'cl-{booking_id}', 'name': 'Bench Client',
                                                    'email': f'{booking_id}@example.com'}}}).encode()
        t = int(time.time())
        signature = hmac.new(self.info['webhook_secret'].encode(), f'{t}.'.encode() + raw, hashlib.sha256).hexdigest()
        request = urllib.request.Request(f"{self.info['api_url']}/webhooks/generic/{self.info['tenant_id']}",
                                         data=raw, method='POST', headers={
                                             'Content-Type': 'application/json',
                                             'X-Meetbridge-Signature': f't={t},v1={signature}'})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 202

    def connect_zoom(self, zoom, user_id: str, provider_id: str | None) -> None:
        """The consent flow: our link, our start (302 to Zoom), the user's Allow, our callback."""
        link = self.admin('POST', 'connections/zoom/connect-link', {'provider_id': provider_id})['url']
        status, _, headers = _call(link)
        assert status == 302, status
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(headers['Location']).query)
        code = zoom.authorize(user_id, code_challenge=query['code_challenge'][0],
                              code_challenge_method=query['code_challenge_method'][0],
                              redirect_uri=query['redirect_uri'][0], state=query['state'][0])
        callback = f"{query['redirect_uri'][0]}?{urllib.parse.urlencode({'code': code, 'state': query['state'][0]})}"
        status, page, _ = _call(callback)
        assert status == 200, (status, page)


def _wait(what: str, done, timeout: float = SETTLE_SECONDS, interval: float = 0.5) -> float:
    started = time.monotonic()
    while not done():
        if time.monotonic() - started > timeout:
            raise RuntimeError(f'gave up waiting for {what}')
        time.sleep(interval)
    return time.monotonic() - started


def _queues_idle(stack) -> bool:
    import boto3

    sqs = boto3.client('sqs')
    for poller in stack.pollers:
        counts = sqs.get_queue_attributes(QueueUrl=poller.queue_url, AttributeNames=[
            'ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible',
            'ApproximateNumberOfMessagesDelayed'])['Attributes']
        if poller.busy or any(int(count) for count in counts.values()):
            return False
    return True


class Summaries:
    """accounts.reconciled events as the bus takes them (moto's EventBridge, in this process)."""

    def __init__(self):
        self.seen: list[tuple[float, dict]] = []

    def install(self) -> None:
        from moto.events.models import EventsBackend

        original, seen = EventsBackend.put_events, self.seen

        def put_events(backend, events):
            for entry in events:
                if entry.get('DetailType') == RECONCILED:
                    seen.append((time.monotonic(), json.loads(entry['Detail'])))
            return original(backend, events)

        EventsBackend.put_events = put_events


def run(stack, meetings: int, providers: int, failures: int, summaries: Summaries, run_id: int) -> bool:
    """One reconciliation of `meetings` future meetings of new providers (new Zoom users: each has its day's 100)."""
    tenant, zoom = Tenant(stack.info), stack.sandboxes['zoom'].sandbox
    own = {}
    for n in range(providers):
        provider_id = f'prov-{run_id}-{n}'
        tenant.admin('PUT', f'providers/{provider_id}', {'name': f'Provider {n}', 'email': f'p{n}@example.com',
                                                          'timezone': 'Europe/Berlin'})
        zoom.add_user(f'zoom-own-{run_id}-{n}', f'own-{run_id}-{n}@zoom.example')
        zoom.add_user(f'zoom-company-{run_id}-{n}', f'company-{run_id}-{n}@zoom.example')
        tenant.connect_zoom(zoom, f'zoom-own-{run_id}-{n}', provider_id)
        tenant.admin('PUT', f'providers/{provider_id}/company-user', {'user_id': f'zoom-company-{run_id}-{n}'})
        own[provider_id] = tenant.admin('GET', f'providers/{provider_id}/account')['id']
    company = tenant.admin('GET', 'accounts/default')['id']
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    ids = [f'bk-{run_id}-{n}' for n in range(meetings)]
    before = len(zoom.meetings)
    for n, booking_id in enumerate(ids):
        tenant.book(booking_id, f'prov-{run_id}-{n % providers}', first + timedelta(minutes=30 * n))
    made = _wait('the bookings', lambda: len(zoom.meetings) >= before + meetings and _queues_idle(stack))
    print(f'{meetings} meetings made on {providers} providers\' own Zoom accounts in {made:.0f} s', flush=True)
    zoom.reset_calls()
    if failures:
        zoom.fail('create_meeting', 500, times=failures)
    summaries.seen.clear()
    began = time.monotonic()
    for provider_id in own:
        tenant.admin('DELETE', f'providers/{provider_id}/account')

    def at_zoom() -> int:
        """Meetings made under the company's users: read from the sandbox, so that counting costs the stack nothing."""
        return sum(1 for m in zoom.meetings.values() if m['host_id'].startswith(f'zoom-company-{run_id}-'))

    all_moved = None
    while len(summaries.seen) < providers or all_moved is None:
        if time.monotonic() - began > SETTLE_SECONDS:
            break
        time.sleep(0.5)
        if all_moved is None and at_zoom() >= meetings:
            all_moved = time.monotonic() - began
    _wait('the last meetings to be saved', lambda: _queues_idle(stack))
    moved = [booking_id for booking_id in ids
             if tenant.admin('GET', f'bookings/{booking_id}')['meeting']['account_id'] == company]
    summarised = max((at for at, _ in summaries.seen), default=began) - began
    calls = Counter(call['operation'] for call in zoom.calls())
    failed = Counter(call['operation'] for call in zoom.calls() if call.get('status', 200) >= 400)
    hosts = Counter(m['host_id'] for m in zoom.meetings.values() if m['host_id'].endswith(tuple(
        f'-{run_id}-{n}' for n in range(providers))))
    print(f"Zoom failing {failures} creations: {len(moved)} of {meetings} bookings re-homed to the company "
          f"account ({meetings} made at Zoom {all_moved or float('nan'):.1f} s after the DELETEs); "
          f"{len(summaries.seen)} summaries out {summarised:.1f} s after the DELETEs "
          f"(re-homed at the first attempt {sum(s['rehomed'] for _, s in summaries.seen)}, failed and retried "
          f"{sum(s['failed_count'] for _, s in summaries.seen)})")
    print('  Zoom calls: ' + ', '.join(f'{operation} {count}' + (f' ({failed[operation]} failed)'
                                                                 if failed[operation] else '')
                                       for operation, count in sorted(calls.items())))
    print(f'  meetings at Zoom afterwards: {sum(hosts.values())} ('
          f'{sum(c for h, c in hosts.items() if h.startswith("zoom-company"))} under the company\'s users, '
          f'{sum(c for h, c in hosts.items() if h.startswith("zoom-own"))} left under the providers\' own)',
          flush=True)
    return len(moved) == meetings and sum(c for h, c in hosts.items() if h.startswith('zoom-company')) == meetings


def main() -> int:
    parser = argparse.ArgumentParser(prog='python -m infra.bench_reconcile', description=__doc__.split('\n')[0])
    parser.add_argument('--meetings', type=int, default=200)
    parser.add_argument('--providers', type=int, default=4, help='Zoom lets each host make 100 meetings a day')
    parser.add_argument('--failures', type=int, default=40, help='meeting creations Zoom fails in the second run')
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format='%(asctime)s %(levelname)s %(name)s: %(message)s')
    from infra.local.stack import LocalStack, Options

    summaries = Summaries()
    summaries.install()
    stack = LocalStack(Options(port=0, aws_port=0, state_dir=Path(tempfile.mkdtemp(prefix='bench-reconcile-'))))
    try:
        stack.info = stack.start()
        Tenant(stack.info).connect_zoom(stack.sandboxes['zoom'].sandbox, 'zoom-owner', None)
        ok = all([run(stack, args.meetings, args.providers, failures, summaries, run_id)
                  for run_id, failures in enumerate((0, args.failures))])
    finally:
        stack.stop()
    return 0 if ok else 1


if __name__ == '__main__':
    code = main()
    sys.stdout.flush()
    os._exit(code)  # as infra.local does: skip the teardown of moto's and botocore's object graphs
