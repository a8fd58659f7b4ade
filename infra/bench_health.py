"""How fast the hourly health check finds a broken account and a meeting gone at the provider, on the local stack.

    .venv/bin/python -m infra.bench_health

Starts the local stack in this process with the Zoom sandbox, connects Zoom as the demo tenant's company account
and then, each step bounded (a couple of minutes in all):
1. revokes the Zoom user's grants at the sandbox (no webhook), runs the health check now (`POST
   /_local/schedules/HealthFunction`) and prints the time from the revoke to the account marked, to its
   `connection.broken` on the bus and, when the alerts function is in the template, to the alert email in
   /_local/outbox;
2. connects Zoom again, books a meeting 24 h 10 min ahead, deletes it at the sandbox, runs the check and prints the
   time from the deletion to the `meeting.rehome` request on the meetings queue and, when the meetings function
   re-homes (logic/rehoming.py is in the tree), to the meeting made again at Zoom;
3. prints the Zoom calls each check made per account, and the health function's invocations and SQS sends of a
   check (the tick, the tenant's listing, the account's check: one hop each through the health queue).
A figure whose piece is not in the tree prints "n/a".
"""

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import mkdtemp

import boto3

from infra.local.stack import REPO_ROOT

HEALTH = 'HealthFunction'
ALERT_CONTACT = 'alerts@example.com'
WAIT_SECONDS = 90


def _call(url: str, method: str = 'GET', body: dict | None = None, key: str | None = None) -> tuple[int, dict]:
    headers = {'Content-Type': 'application/json', **({'Authorization': f'Bearer {key}'} if key else {})}
    request = urllib.request.Request(url, data=json.dumps(body).encode() if body is not None else None,
                                     method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            is_json = response.headers.get_content_type() == 'application/json'
            return response.status, json.loads(raw) if raw and is_json else {}
    except urllib.error.HTTPError as error:
        return error.code, {}


def _wait(probe, seconds: float = WAIT_SECONDS):
    """The probe's first truthy answer, or None when `seconds` pass without one."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = probe()
        if found:
            return found
        time.sleep(0.1)
    return None


def _figure(seconds: float | None) -> str:
    return f'{seconds:.1f} s' if seconds is not None else 'n/a'


class Bench:
    def __init__(self, stack, info: dict):
        self.stack, self.info = stack, info
        self.api, self.key, self.tenant = info['api_url'], info['api_key'], info['tenant_id']
        self.zoom = stack.sandboxes['zoom'].sandbox
        self.aws = {name: boto3.client(name, endpoint_url=info['aws_endpoint_url'], region_name='us-east-1',
                                       aws_access_key_id='testing', aws_secret_access_key='testing')
                    for name in ('sqs', 'events')}

    def admin(self, method: str, rest: str, body: dict | None = None) -> tuple[int, dict]:
        return _call(f'{self.api}/v1/tenants/{self.tenant}/{rest}', method, body, self.key)

    def connect_zoom(self) -> None:
        """The company connect link, its consent answered in the sandbox (Allow), our callback."""
        status, link = self.admin('POST', 'connections/zoom/connect-link', {'provider_id': None})
        assert status == 200, link
        try:
            urllib.request.build_opener(NoRedirect).open(link['url'])
            raise AssertionError('the connect link did not redirect to Zoom')
        except urllib.error.HTTPError as redirect:
            authorize = redirect.headers['location']
        query = {name: values[0] for name, values in urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query).items()}
        code = self.zoom.authorize('zoom-owner', code_challenge=query['code_challenge'],
                                   code_challenge_method=query['code_challenge_method'],
                                   redirect_uri=query['redirect_uri'], state=query['state'])
        callback = f"{query['redirect_uri']}?{urllib.parse.urlencode({'code': code, 'state': query['state']})}"
        assert _call(callback)[0] == 200
        assert self.admin('GET', 'accounts/default')[1]['type'] == 'zoom'

    def watch_connection_events(self) -> str:
        """A queue of the bench's own behind a rule for connection.*, so the events' arrival can be timed."""
        sqs, events = self.aws['sqs'], self.aws['events']
        url = sqs.create_queue(QueueName='bench-health-connection-events')['QueueUrl']
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
        bus = self.info['event_bus_name']
        rule = events.put_rule(Name='bench-health-connection-events', EventBusName=bus, EventPattern=json.dumps(
            {'source': ['meetbridge'], 'detail-type': ['connection.broken']}))['RuleArn']
        sqs.set_queue_attributes(QueueUrl=url, Attributes={'Policy': json.dumps({'Version': '2012-10-17', 'Statement': [{
            'Effect': 'Allow', 'Principal': {'Service': 'events.amazonaws.com'}, 'Action': 'sqs:SendMessage',
            'Resource': arn, 'Condition': {'ArnEquals': {'aws:SourceArn': rule}}}]})})
        events.put_targets(Rule='bench-health-connection-events', EventBusName=bus, Targets=[{'Id': 'q', 'Arn': arn}])
        return url

    def run_check(self) -> None:
        status, body = _call(f'{self.api}/_local/schedules/{HEALTH}', 'POST')
        assert status == 202, (status, body)

    def health_sends(self) -> int:
        """The SQS sends the health function made (the tick's and the tenants' batches, its re-home requests)."""
        health = next(fn for fn in self.stack.functions if fn.logical_id == HEALTH)
        key = health.credentials()['AWS_ACCESS_KEY_ID']
        return sum(count for (caller, operation), count in self.stack.aws_requests.items()
                   if caller == key and operation in ('AmazonSQS.SendMessage', 'AmazonSQS.SendMessageBatch'))

    def checks_done(self) -> int:
        health = next(fn for fn in self.stack.functions if fn.logical_id == HEALTH)
        return health.invocations


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is answered as an error, so that its Location can be read."""

    def redirect_request(self, *args, **kwargs):
        return None


def _has_alerts(stack) -> bool:
    return any(fn.logical_id == 'AlertsFunction' for fn in stack.functions)


def _rehomes() -> bool:
    return (REPO_ROOT / 'layers/shared/meetbridge/logic/rehoming.py').is_file()


def revoked_account(bench: Bench) -> None:
    sqs = bench.aws['sqs']
    events_url = bench.watch_connection_events()
    alerts = _has_alerts(bench.stack) and bench.admin('PUT', 'settings/alerts',
                                                      {'emails': [ALERT_CONTACT], 'webhook_url': None})[0] == 200
    bench.zoom.reset_calls()
    revoked = time.monotonic()
    bench.zoom.revoke_user('zoom-owner')
    bench.run_check()
    marked = _wait(lambda: bench.admin('GET', 'accounts/default')[1].get('status') == 'needs_reconnect'
                   and time.monotonic())
    published = _wait(lambda: sqs.receive_message(QueueUrl=events_url, WaitTimeSeconds=1).get('Messages')
                      and time.monotonic())
    alerted = alerts and _wait(lambda: _call(f'{bench.api}/_local/outbox?to={ALERT_CONTACT}')[1]
                               and time.monotonic(), 150)
    calls = [call['operation'] for call in bench.zoom.calls()]
    print('revoked Zoom grant (no webhook) -> health check run at once:')
    print(f'  account marked needs_reconnect   {_figure(marked and marked - revoked)}')
    print(f'  connection.broken on the bus      {_figure(published and published - revoked)}')
    print(f'  alert email in /_local/outbox     {_figure(alerted and alerted - revoked if alerts else None)}')
    print(f'  Zoom calls of the check (1 account): {len(calls)} {calls}')


def missing_meeting(bench: Bench) -> None:
    bench.connect_zoom()
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=24, minutes=10)
    booking_id = f'bk-health-{int(time.time())}'
    booking = {'event_id': f'evt-{booking_id}', 'type': 'booking.created', 'booking': {
        'id': booking_id, 'service_id': bench.info['service_id'], 'provider_id': bench.info['provider_id'],
        'start': start.strftime('%Y-%m-%dT%H:%M:%SZ'), 'end': (start + timedelta(minutes=30)).strftime('%Y-%m-%dT%H:%M:%SZ'),
        'timezone': 'Europe/Berlin', 'client': {'id': 'cl-health', 'name': 'Bench Client', 'email': 'client@example.com',
                                                'timezone': 'Europe/London'}}}
    _post_booking(bench, booking)
    zoom_id = _wait(lambda: next((meeting_id for meeting_id, meeting in bench.zoom.meetings.items()
                                  if meeting['start_time'] == booking['booking']['start']), None))
    assert zoom_id, 'the booking got no Zoom meeting'
    sends, invocations = bench.health_sends(), bench.checks_done()
    bench.zoom.reset_calls()
    deleted = time.monotonic()
    bench.zoom.remove_meeting(zoom_id)
    bench.run_check()
    # The tick's batch of tenants, the tenant's batch of accounts, then the account's re-home request.
    requested = _wait(lambda: bench.health_sends() >= sends + 3 and time.monotonic())
    _wait(lambda: bench.checks_done() >= invocations + 3)  # the tick, the tenant's listing, the account's check
    check_calls = [call['operation'] for call in bench.zoom.calls()]
    remade = _rehomes() and _wait(lambda: any(call['operation'] == 'create_meeting' for call in bench.zoom.calls())
                                  and time.monotonic(), 60)
    print('Zoom meeting 24 h ahead deleted at Zoom -> health check run at once:')
    print(f'  meeting.rehome sent to the meetings queue   {_figure(requested and requested - deleted)}')
    print(f'  meeting made again at Zoom                  {_figure(remade and remade - deleted if _rehomes() else None)}')
    print(f'  Zoom calls of the check (1 account, 1 meeting in the windows): {len(check_calls)} {check_calls}')
    print(f'  health function invocations {bench.checks_done() - invocations}, SQS sends {bench.health_sends() - sends}'
          ' (tick, tenant, account)')


def _post_booking(bench: Bench, booking: dict) -> None:
    raw = json.dumps(booking).encode()
    t = int(time.time())
    digest = hmac.new(bench.info['webhook_secret'].encode(), f'{t}.'.encode() + raw, hashlib.sha256).hexdigest()
    request = urllib.request.Request(f"{bench.api}/webhooks/generic/{bench.tenant}", data=raw, method='POST', headers={
        'Content-Type': 'application/json', 'X-Meetbridge-Signature': f't={t},v1={digest}'})
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 202


def main() -> int:
    from infra.local.stack import LocalStack, Options

    stack = LocalStack(Options(port=0, aws_port=0, state_dir=Path(mkdtemp(prefix='bench-health-')),
                               scheduler_jitter_seconds=0))
    try:
        info = stack.start()
        bench = Bench(stack, info)
        bench.connect_zoom()
        revoked_account(bench)
        missing_meeting(bench)
    finally:
        stack.stop()
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
