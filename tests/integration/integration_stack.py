"""The in-process stack the integration tests drive: moto's AWS with this stack's resources."""

import json
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import patch

import boto3

from infra.local import iam


TEMPLATE = Path(__file__).resolve().parents[2] / 'template.yaml'
# helpers.http_event answers as the API at https://api.test.
ZOOM_REDIRECT_URI = 'https://api.test/oauth/zoom/callback'
MICROSOFT_REDIRECT_URI = 'https://api.test/oauth/microsoft/callback'
GOOGLE_REDIRECT_URI = 'https://api.test/oauth/google/callback'


def template_resources() -> dict:
    return iam.sam_template(TEMPLATE)['Resources']


def create_table(name: str, properties: dict) -> None:
    client = boto3.client('dynamodb')
    spec = {k: properties[k] for k in ('AttributeDefinitions', 'KeySchema', 'BillingMode', 'GlobalSecondaryIndexes')
            if k in properties}
    client.create_table(TableName=name, **spec)
    ttl = properties['TimeToLiveSpecification']
    client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)




@dataclass
class Queue:
    url: str
    arn: str

    def receive(self) -> list[dict]:
        """Everything waiting, as the records of a real SQS event."""
        sqs = boto3.client('sqs')
        records = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=['All']).get('Messages', [])
            if not batch:
                return records
            for message in batch:
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message['ReceiptHandle'])
                records.append({
                    'messageId': message['MessageId'], 'receiptHandle': message['ReceiptHandle'],
                    'body': message['Body'], 'attributes': message.get('Attributes', {}), 'messageAttributes': {},
                    'md5OfBody': message['MD5OfBody'], 'eventSource': 'aws:sqs', 'eventSourceARN': self.arn,
                    'awsRegion': 'us-east-1',
                })


    def take_delayed(self) -> list[tuple[int, dict]]:
        """Every message, the delayed ones too (moto holds a delay in real time), each with the delay it was
        sent with, taken off the queue as the records of a real SQS event would carry them."""
        from moto.sqs.models import sqs_backends

        queue = sqs_backends['123456789012']['us-east-1'].queues[self.url.rsplit('/', 1)[1]]
        taken = []
        for message in list(queue._messages):
            queue._messages.remove(message)
            delay = max(round((message.delayed_until - message.sent_timestamp) / 1000), 0)
            taken.append((delay, {
                'messageId': message.id, 'receiptHandle': f'taken-{message.id}', 'body': message.body,
                'attributes': {}, 'messageAttributes': {}, 'md5OfBody': message.body_md5, 'eventSource': 'aws:sqs',
                'eventSourceARN': self.arn, 'awsRegion': 'us-east-1',
            }))
        return taken


@dataclass
class Cloud:
    queues: dict[str, Queue]


class Stack:
    """A tenant on the in-process stack, driven through the real handlers and moto's bus and queues."""

    def __init__(self, cloud: Cloud):
        from meetbridge.logic.tenants import create_tenant

        from helpers import LambdaContext

        self.cloud = cloud
        self.tenant = create_tenant('Acme Clinic')
        self.context = LambdaContext()

    def admin(self, method: str, rest: str, body: dict | None = None, api_key: str | None = '',
              query: dict | None = None) -> tuple[int, dict]:
        from helpers import admin_event, handler

        key = self.tenant.api_key if api_key == '' else api_key
        response = handler('admin')(admin_event(method, self.tenant.tenant_id, rest, key, body, query), self.context)
        return response['statusCode'], json.loads(response['body'] or 'null')

    def setup_online_service(self, url: str = 'https://meet.example.com/room', password: str | None = 'pw') -> None:
        assert self.admin('PUT', 'services/svc', {'name': 'Consultation', 'online': True})[0] == 200
        assert self.admin('PUT', 'providers/dana', {'name': 'Dana Doe', 'email': 'dana@example.com',
                                                    'timezone': 'Europe/Berlin'})[0] == 200
        account = {'type': 'custom_link', 'url': url, 'password': password, 'description': 'Room 1'}
        assert self.admin('PUT', 'accounts/default', account)[0] == 200

    def post(self, body: dict | bytes, signature: str | None = None, tenant_id: str | None = None) -> tuple[int, dict]:
        from helpers import handler, sign, webhook_event

        raw = body if isinstance(body, bytes) else json.dumps(body).encode()
        if signature is None:
            signature = sign(self.tenant.webhook_secret, raw)
        event = webhook_event(tenant_id or self.tenant.tenant_id, raw, signature)
        response = handler('booking_webhook')(event, self.context)
        return response['statusCode'], json.loads(response['body'])

    def pump(self) -> dict:
        """Runs the consumers until the queues are empty; returns what each batch reported."""
        from helpers import handler, sqs_event

        reports = {'meetings': [], 'notifications': []}
        for _ in range(5):
            moved = False
            for name in ('meetings', 'notifications'):
                records = self.cloud.queues[name].receive()
                if records:
                    moved = True
                    reports[name].append(handler(name)(sqs_event(records), self.context))
            if not moved:
                return reports
        raise AssertionError('queues did not drain')

    def book(self, body: dict) -> dict:
        status, _ = self.post(body)
        assert status == 202
        return self.pump()

    def view(self, booking_id: str) -> tuple[int, dict]:
        return self.admin('GET', f'bookings/{booking_id}')


def sent_emails() -> list:
    from moto.ses.models import ses_backends

    return list(ses_backends['123456789012']['us-east-1'].sent_messages)


def connect_zoom(stack: Stack, sandbox, user_id: str = 'zoom-owner', provider_id: str | None = None) -> dict:
    """The whole connect flow: admin link, our start, consent at the sandbox, our callback."""
    from urllib.parse import parse_qs, urlsplit

    from helpers import handler, oauth_event

    status, link = stack.admin('POST', 'connections/zoom/connect-link', {'provider_id': provider_id})
    assert status == 200, link
    intent = parse_qs(urlsplit(link['url']).query)['intent'][0]
    started = handler('oauth')(oauth_event('zoom', 'start', {'intent': intent}), stack.context)
    assert started['statusCode'] == 302, started
    authorize = parse_qs(urlsplit(started['headers']['Location']).query)
    code = sandbox.authorize(user_id, code_challenge=authorize['code_challenge'][0],
                             code_challenge_method=authorize['code_challenge_method'][0],
                             redirect_uri=authorize['redirect_uri'][0], state=authorize['state'][0])
    page = handler('oauth')(oauth_event('zoom', 'callback', {'code': code, 'state': authorize['state'][0]}),
                            stack.context)
    return {'authorize': authorize, 'code': code, 'page': page}


def start_connect(stack: Stack, provider_type: str, provider_id: str | None = None) -> str:
    """Our side of the first half: the admin's link and our start; returns the provider's authorize URL."""
    from urllib.parse import parse_qs, urlsplit

    from helpers import handler, oauth_event

    status, link = stack.admin('POST', f'connections/{provider_type}/connect-link', {'provider_id': provider_id})
    assert status == 200, link
    intent = parse_qs(urlsplit(link['url']).query)['intent'][0]
    started = handler('oauth')(oauth_event(provider_type, 'start', {'intent': intent}), stack.context)
    assert started['statusCode'] == 302, started
    return started['headers']['Location']


def finish_connect(stack: Stack, provider_type: str, response: dict) -> dict:
    """The provider's answer as the browser brings it: Microsoft posts a form, Zoom redirects with a query."""
    from urllib.parse import urlencode

    from helpers import handler, http_event, oauth_event

    if provider_type == 'microsoft':
        event = http_event('POST', '/oauth/microsoft/callback', '/oauth/{provider}/callback',
                           {'provider': 'microsoft'}, urlencode(response),
                           {'content-type': 'application/x-www-form-urlencoded'})
    else:
        event = oauth_event(provider_type, 'callback', response)
    return handler('oauth')(event, stack.context)


def connect_microsoft(stack: Stack, sandbox, user_id: str = '00000000-0000-0000-0000-000000000001',
                      provider_id: str | None = None) -> dict:
    return finish_connect(stack, 'microsoft', sandbox.authorize(user_id, start_connect(stack, 'microsoft',
                                                                                       provider_id)))


def connect_google(stack: Stack, sandbox, user_id: str = '105000000000000000001', provider_id: str | None = None,
                   grant_calendar: bool = True) -> dict:
    """The whole connect flow; a second ask with prompt=consent (a user who granted before) is answered the same way.
    Returns our last answer (a page or a redirect)."""
    page = finish_connect(stack, 'google', sandbox.authorize(user_id, start_connect(stack, 'google', provider_id),
                                                            grant_calendar=grant_calendar))
    if page['statusCode'] == 302 and page['headers']['Location'].startswith(sandbox.authorize_url):
        page = finish_connect(stack, 'google', sandbox.authorize(user_id, page['headers']['Location'],
                                                                grant_calendar=grant_calendar))
    return page


@contextmanager
def aws_calls_one_at_a_time() -> Iterator[None]:
    """Each AWS call applied whole before the next, as AWS does: a DynamoDB write, conditional or
    not, is atomic. moto's in-process backend is not thread-safe: threads sharing it see an item
    changed half-way through another's request (`dictionary changed size during iteration` in
    moto's `Item.__deepcopy__` and `Item.size`) and two conditional writes can both pass their
    check (two refresh leases, then a `ConditionalCheckFailedException` when one stores tokens)."""
    from moto.core.botocore_stubber import BotocoreStubber

    lock = threading.RLock()  # reentrant: a moto backend that calls another service through botocore cannot deadlock
    process_request = BotocoreStubber.process_request

    def one_at_a_time(stubber, request):
        with lock:
            return process_request(stubber, request)

    with patch.object(BotocoreStubber, 'process_request', one_at_a_time):
        yield


def book_in_parallel(stack: Stack, count: int) -> list[str]:
    """`count` bookings applied at once, each in its own thread (as many Lambdas would); returns the
    failures' tracebacks, since a thread's own exceptions would otherwise vanish."""
    from datetime import UTC, datetime

    from bookings import booking_event
    from helpers import acting_as

    from functions.meetings.handler import MeetingsSettings
    from meetbridge import config
    from meetbridge.domain.model import BookingEvent
    from meetbridge.logic import bookings

    events = [BookingEvent.model_validate({**booking_event(booking_id=f'b{n}', client_id=f'c{n}'),
                                           'tenant_id': stack.tenant.tenant_id, 'source': 'generic',
                                           'occurred_at': datetime.now(UTC).isoformat()}) for n in range(count)]
    failures: list[str] = []

    @config.using(MeetingsSettings)  # the meetings function's code, in a thread of its own
    def apply(event):
        try:
            with acting_as('meetings'):  # a thread starts without the caller's context
                bookings.apply(event, datetime.now(UTC))
        except Exception as exc:
            failures.append(''.join(traceback.format_exception(exc)))

    threads = [threading.Thread(target=apply, args=(event,)) for event in events]
    for thread in threads:  # each AWS call applied whole: the cloud fixture's aws_calls_one_at_a_time
        thread.start()
    for thread in threads:
        thread.join()
    return failures


class WebhookReceiver:
    """A webhook receiver on 127.0.0.1 that answers each POST with the next status of `statuses` (then 200)."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.requests: list[tuple[dict, bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handle(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers['Content-Length']))
                receiver.requests.append(({key.lower(): value for key, value in self.headers.items()}, body))
                self.send_response(receiver.statuses.pop(0) if receiver.statuses else 200)
                self.send_header('Content-Length', '0')
                self.end_headers()

            def log_message(self, *_):
                pass

        self.server = ThreadingHTTPServer(('127.0.0.1', 0), Handle)
        # A query string the alerts function must never log.
        self.url = f'http://127.0.0.1:{self.server.server_port}/alerts?token=not-logged'
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={'poll_interval': 0.05})

    def bodies(self) -> list[dict]:
        return [json.loads(body) for _, body in self.requests]
