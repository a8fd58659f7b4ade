"""Thin synthetic events and a Lambda context, as API Gateway, SQS and Lambda give them."""

import base64
import hashlib
import hmac
import importlib
import json
import urllib.parse
import time
import uuid
from dataclasses import dataclass, field


@dataclass
class LambdaContext:
    function_name: str = 'test-function'
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = 'arn:aws:lambda:us-east-1:123456789012:function:test-function'
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def handler(name: str):
    return importlib.import_module(f'functions.{name}.handler').lambda_handler


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


def admin_event(method: str, tenant_id: str, rest: str, api_key: str | None, body: dict | None = None) -> dict:
    headers = {'content-type': 'application/json'}
    if api_key is not None:
        headers['authorization'] = f'Bearer {api_key}'
    return http_event(method, f'/v1/tenants/{tenant_id}/{rest}', '/v1/tenants/{tenant_id}/{proxy+}',
                      {'tenant_id': tenant_id, 'proxy': rest}, json.dumps(body) if body is not None else None, headers)


def join_event(token: str) -> dict:
    return http_event('GET', f'/j/{token}', '/j/{token}', {'token': token})


def sqs_event(records: list[dict]) -> dict:
    return {'Records': records}


def oauth_event(provider: str, step: str, query: dict) -> dict:
    return http_event('GET', f'/oauth/{provider}/{step}', f'/oauth/{{provider}}/{step}', {'provider': provider},
                      query=query)


def zoom_event_request(body: bytes, headers: dict) -> dict:
    return http_event('POST', '/providers/zoom/events', '/providers/zoom/events', {}, body, headers)
