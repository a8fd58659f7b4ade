"""Thin synthetic events and a Lambda context, as API Gateway, SQS and Lambda give them; each handler
run as its function, with the AWS calls its execution role allows and no others."""

import base64
import contextlib
import datetime
import functools
import hashlib
import hmac
import importlib
import json
import os
import urllib.parse
import time
import unittest.mock
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from infra.local import iam

TEMPLATE = Path(__file__).resolve().parents[1] / 'template.yaml'
PARTITION, REGION, ACCOUNT = 'aws', 'us-east-1', '123456789012'


@dataclass
class LambdaContext:
    function_name: str = 'test-function'
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = 'arn:aws:lambda:us-east-1:123456789012:function:test-function'
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 60_000  # a fresh invocation of the longest function timeout


@functools.cache
def function_ids() -> dict[str, str]:
    """functions/<name> -> the template's logical id of the function built from it."""
    return {resource['Properties']['CodeUri'].removeprefix('functions/'): logical_id
            for logical_id, resource in iam.sam_template(TEMPLATE)['Resources'].items()
            if resource['Type'] == 'AWS::Serverless::Function'}


def _physical_resources() -> tuple[dict[str, str], dict[str, str]]:
    """What the template's Refs and GetAtts are in the tests' moto account (the suite creates them
    under the names the environment gives; the KMS key and secrets exist once a fixture made them)."""
    env = os.environ

    def arn(service: str, resource: str) -> str:
        return f'arn:{PARTITION}:{service}:{REGION}:{ACCOUNT}:{resource}'

    unset = arn('secretsmanager', 'secret:not-created-in-this-test')
    key_arn = env.get('KMS_KEY_ID', arn('kms', 'key/not-created-in-this-test'))
    refs = {
        'AWS::Partition': PARTITION, 'AWS::Region': REGION, 'AWS::AccountId': ACCOUNT,
        'AWS::URLSuffix': 'amazonaws.com', 'AWS::StackName': 'meetbridge-test',
        'Table': env['TABLE_NAME'], 'IdempotencyTable': env['IDEMPOTENCY_TABLE_NAME'],
        'SealingKey': key_arn.rsplit('/', 1)[-1], 'EventBus': env['EVENT_BUS_NAME'],
        'ScheduleGroup': env['SCHEDULE_GROUP'], 'SenderEmail': env['SENDER_EMAIL'],
        'StartQueue': env['START_QUEUE_URL'],
        'AlertWebhookQueue': env['ALERT_WEBHOOK_QUEUE_URL'],
        'CallbacksQueue': env['CALLBACKS_QUEUE_URL'],
        'NotificationsDeadLetterQueue': env['NOTIFICATIONS_DEAD_LETTER_QUEUE_URL'],
        'ZoomClientSecret': env.get('ZOOM_CLIENT_SECRET_ARN', unset),
        'MicrosoftClientSecret': env.get('MICROSOFT_CLIENT_SECRET_ARN', unset),
        'GoogleClientSecret': env.get('GOOGLE_CLIENT_SECRET_ARN', unset),
    }
    attributes = {
        'Table.Arn': arn('dynamodb', f"table/{env['TABLE_NAME']}"),
        'IdempotencyTable.Arn': arn('dynamodb', f"table/{env['IDEMPOTENCY_TABLE_NAME']}"),
        'SealingKey.Arn': key_arn,
        'EventBus.Arn': arn('events', f"event-bus/{env['EVENT_BUS_NAME']}"),
        'SchedulerRole.Arn': env['SCHEDULER_ROLE_ARN'],
        'SchedulerDeadLetterQueue.Arn': env.get('SCHEDULER_DLQ_ARN', arn('sqs', 'scheduler-dlq')),
        'MeetingsQueue.Arn': env['MEETINGS_QUEUE_ARN'],
        'MeetingsDeadLetterQueue.Arn': arn('sqs', 'meetings-dlq'),
        'NotificationsQueue.Arn': arn('sqs', 'notifications'),
        'NotificationsDeadLetterQueue.Arn': arn('sqs', 'notifications-dlq'),
        'StartQueue.Arn': arn('sqs', 'start'),
        'StartDeadLetterQueue.Arn': arn('sqs', 'start-dlq'),
        'HealthQueue.Arn': arn('sqs', 'health'),
        'AlertsQueue.Arn': env['ALERTS_QUEUE_ARN'],
        'AlertWebhookQueue.Arn': arn('sqs', 'alert-webhooks'),
        'CallbacksQueue.Arn': arn('sqs', 'callbacks'),
        'AutoStartFunction.Arn': env['AUTO_START_FUNCTION_ARN'],
    }
    return refs, attributes


@contextlib.contextmanager
def acting_as(name: str) -> Iterator[None]:
    """AWS calls made in this block are checked against the execution role of functions/<name>."""
    logical_id = function_ids()[name]
    refs, attributes = _physical_resources()
    statements = iam.resolve(iam.function_statements(TEMPLATE, logical_id), refs, attributes)
    with iam.acting_as(f'arn:{PARTITION}:sts::{ACCOUNT}:assumed-role/{logical_id}Role/{logical_id}', statements):
        yield


_warm: list[str] = []  # the function whose container the process last was


def _enter_container(name: str) -> None:
    """Drops what another function cached (secrets, opened seals): on Lambda it lives in that
    function's container, so reusing it here would hide a call this function makes on its own."""
    from aws_lambda_powertools.utilities import parameters

    from meetbridge import caching

    if _warm != [name]:
        parameters.clear_caches()
        caching.clear_all()
        _warm[:] = [name]


def handler(name: str):
    """functions/<name>'s handler, invoked as that function (its role's permissions enforced)."""
    lambda_handler = importlib.import_module(f'functions.{name}.handler').lambda_handler

    @functools.wraps(lambda_handler)
    def invoke(event: dict, context) -> dict:
        _enter_container(name)
        with acting_as(name):
            return lambda_handler(event, context)

    return invoke


def http_event(method: str, path: str, route: str, path_parameters: dict, body: bytes | str | None = None,
               headers: dict | None = None, query: dict | None = None) -> dict:
    raw = body.encode() if isinstance(body, str) else body
    text = None
    binary = False
    if raw is not None:
        try:
            text = raw.decode()
        except UnicodeDecodeError:
            text, binary = base64.b64encode(raw).decode(), True
    return {
        'version': '2.0', 'routeKey': f'{method} {route}', 'rawPath': path,
        'rawQueryString': urllib.parse.urlencode(query or {}), 'queryStringParameters': query or None,
        'headers': {k.lower(): v for k, v in (headers or {}).items()},
        'requestContext': {'accountId': '123456789012', 'apiId': 'api', 'domainName': 'api.test',
                           'domainPrefix': 'api', 'http': {'method': method, 'path': path, 'protocol': 'HTTP/1.1',
                                                           'sourceIp': '203.0.113.9', 'userAgent': 'pytest'},
                           'requestId': str(uuid.uuid4()), 'routeKey': f'{method} {route}', 'stage': '$default',
                           'time': '21/Nov/2026:06:00:00 +0000', 'timeEpoch': int(time.time() * 1000)},
        'pathParameters': path_parameters, 'body': text, 'isBase64Encoded': binary,
    }


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f'{t}.'.encode() + body, hashlib.sha256).hexdigest()
    return f't={t},v1={digest}'


def webhook_event(tenant_id: str, body: bytes, signature: str | None, source: str = 'generic') -> dict:
    headers = {'content-type': 'application/json'}
    if signature is not None:
        headers['x-meetbridge-signature'] = signature
    return http_event('POST', f'/webhooks/{source}/{tenant_id}', '/webhooks/{source}/{tenant_id}',
                      {'source': source, 'tenant_id': tenant_id}, body, headers)


def admin_event(method: str, tenant_id: str, rest: str, api_key: str | None, body: dict | None = None,
                query: dict | None = None) -> dict:
    headers = {'content-type': 'application/json'}
    if api_key is not None:
        headers['authorization'] = f'Bearer {api_key}'
    event = http_event(method, f'/v1/tenants/{tenant_id}/{rest}', '/v1/tenants/{tenant_id}/{proxy+}',
                       {'tenant_id': tenant_id, 'proxy': rest}, json.dumps(body) if body is not None else None, headers)
    if query:
        event['queryStringParameters'] = {name: str(value) for name, value in query.items()}
        event['rawQueryString'] = urllib.parse.urlencode(query)
    return event


def join_event(token: str, method: str = 'GET', headers: dict | None = None) -> dict:
    """GET /j/{token} shows the page; POST is the click on its button. One route takes every method."""
    event = http_event(method, f'/j/{token}', '/j/{token}', {'token': token}, headers=headers)
    event['routeKey'] = event['requestContext']['routeKey'] = 'ANY /j/{token}'
    return event


class Clock:
    """auto_start's clock and sleep: time passes only when it sleeps or the test moves it on."""

    def __init__(self, now):
        self.now = now
        self.slept = 0.0

    def read(self, zone=None):
        return self.now.astimezone(zone)

    def sleep(self, seconds: float) -> None:
        self.slept += seconds
        self.now += datetime.timedelta(seconds=seconds)

    @contextlib.contextmanager
    def running_auto_start(self) -> Iterator[None]:
        """auto_start's hand-over and start steps read this clock (and sleep on it)."""
        from meetbridge.logic import starting

        with unittest.mock.patch.object(starting.hand_over, '__defaults__', (self.read,)), \
                unittest.mock.patch.object(starting.start_on_time, '__defaults__', (self.read, self.sleep)):
            yield


def sqs_event(records: list[dict]) -> dict:
    return {'Records': records}


def oauth_event(provider: str, step: str, query: dict) -> dict:
    return http_event('GET', f'/oauth/{provider}/{step}', f'/oauth/{{provider}}/{step}', {'provider': provider},
                      query=query)


def zoom_event_request(body: bytes, headers: dict) -> dict:
    return http_event('POST', '/providers/zoom/events', '/providers/zoom/events', {}, body, headers)
