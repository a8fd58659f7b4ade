"""Connecting meeting accounts: GET /oauth/{provider}/start|callback, and the provider's own
account events (POST /providers/zoom/events)."""

import base64
import binascii
import json
import time
from urllib.parse import parse_qsl
from datetime import UTC, datetime

from meetbridge import config
from meetbridge.config import FunctionSettings, MicrosoftSettings, ZoomSettings
from meetbridge.domain.hosting import COMPANY
from meetbridge.errors import InvalidInput
from meetbridge.logic import connect, provider_events
from meetbridge.observability import logger, metrics
from meetbridge.security.signatures import SignatureError
from meetbridge.web.pages import page_response, redirect_response


class OAuthSettings(FunctionSettings, ZoomSettings, MicrosoftSettings):
    """Signs in at Zoom and Microsoft with the app credentials and seals the tokens."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(OAuthSettings)


def _base_url(event: dict) -> str:
    """Where this API is reached (a custom domain included), so the redirect URI is the same both ways."""
    headers = event.get('headers') or {}
    domain = (event.get('requestContext') or {}).get('domainName', '')
    return f"{headers.get('x-forwarded-proto', 'https')}://{domain}"


def _callback_params(event: dict) -> dict[str, str]:
    """The provider's answer: the query string, or a form body (response_mode=form_post)."""
    params = dict(event.get('queryStringParameters') or {})
    if event.get('requestContext', {}).get('http', {}).get('method') == 'POST' and event.get('body'):
        body = event['body']
        try:
            text = base64.b64decode(body).decode() if event.get('isBase64Encoded') else body
        except (binascii.Error, UnicodeDecodeError):
            return params
        params.update(parse_qsl(text[:16_384]))
    return params


def _oauth(event: dict) -> dict:
    provider = (event.get('pathParameters') or {}).get('provider', '')
    step = event.get('rawPath', '').rsplit('/', 1)[-1]
    params = _callback_params(event)
    redirect_uri = f'{_base_url(event)}/oauth/{provider}/callback'
    now = datetime.now(UTC)
    if provider not in connect.OAUTH_PROVIDERS:
        return page_response(404, 'This meeting provider cannot be connected',
                             'The link names a meeting provider that cannot be connected here.')
    try:
        if step == 'start':
            return redirect_response(connect.start(provider, params.get('intent'), redirect_uri, now))
        connected = connect.callback(provider, params, redirect_uri, now)
    except connect.ConnectFailed as failure:
        metrics.add_metric(name='ConnectFailed', unit='Count', value=1)
        return page_response(failure.status, failure.title, failure.detail)
    metrics.add_metric(name='AccountConnected', unit='Count', value=1)
    if connected.return_url:
        return redirect_response(connect.return_to(connected.return_url, connected=provider))
    name = connect.OAUTH_PROVIDERS[provider]
    whose = 'the company\'s bookings' if connected.connection_id == COMPANY else 'this provider\'s own bookings'
    return page_response(200, f'{name} is connected',
                         f'Meetings for {whose} will now be created in {name} as {connected.email}. '
                         'You can close this page.')


def _zoom_events(event: dict) -> dict:
    body = event.get('body') or ''
    try:
        raw = base64.b64decode(body, validate=True) if event.get('isBase64Encoded') else body.encode()
        answer = provider_events.zoom_event({k.lower(): v for k, v in (event.get('headers') or {}).items()},
                                            raw, time.time())
    except (binascii.Error, ValueError, InvalidInput) as exc:
        return {'statusCode': 400, 'headers': {'Content-Type': 'application/json'},
                'body': json.dumps({'error': 'invalid_request', 'message': str(exc)})}
    except SignatureError as exc:
        logger.warning('zoom event signature rejected', extra={'reason': str(exc)})
        return {'statusCode': 401, 'headers': {'Content-Type': 'application/json'},
                'body': json.dumps({'error': 'invalid_signature', 'message': str(exc)})}
    return {'statusCode': 200, 'headers': {'Content-Type': 'application/json'}, 'body': json.dumps(answer)}


@config.using(OAuthSettings)
@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context) -> dict:
    if event.get('routeKey', '').startswith('POST /providers/zoom/events'):
        return _zoom_events(event)
    return _oauth(event)
