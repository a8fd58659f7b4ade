"""Connecting meeting accounts: GET /oauth/{provider}/start|callback, and the provider's own
account events (POST /providers/zoom/events)."""

import json
import time
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, event_source

from meetbridge import config
from meetbridge.config import FunctionSettings, GoogleSettings, MicrosoftSettings, ZoomSettings
from meetbridge.domain.hosting import COMPANY
from meetbridge.logic import connect, provider_events
from meetbridge.observability import logger, metrics
from meetbridge.web.errors import answers_errors
from meetbridge.web.pages import page_response, redirect_response
from meetbridge.web.request import raw_body, text_body

ZOOM_EVENTS_ROUTE = 'POST /providers/zoom/events'
# A provider's form post carries a code and a state; anything longer is not one.
MAX_FORM_CHARS = 16_384


class OAuthSettings(FunctionSettings, ZoomSettings, MicrosoftSettings, GoogleSettings):
    """Signs in at Zoom, Microsoft and Google with the app credentials and seals the tokens."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(OAuthSettings)


def _base_url(event: APIGatewayProxyEventV2) -> str:
    """Where this API is reached (a custom domain included), so the redirect URI is the same both ways."""
    return f"{event.headers.get('x-forwarded-proto', 'https')}://{event.request_context.domain_name}"


def _callback_params(event: APIGatewayProxyEventV2) -> dict[str, str]:
    """The provider's answer: the query string, or a form body (response_mode=form_post)."""
    params = dict(event.query_string_parameters)
    if event.request_context.http.method == 'POST' and event.body:
        params.update(parse_qsl(text_body(event)[:MAX_FORM_CHARS]))
    return params


def _oauth(event: APIGatewayProxyEventV2) -> dict:
    provider = event.path_parameters.get('provider', '')
    step = event.raw_path.rsplit('/', 1)[-1]
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
    except connect.AskAgain as again:
        return redirect_response(again.url)
    except connect.ConnectFailed as failure:
        metrics.add_metric(name='ConnectFailed', unit='Count', value=1)
        return page_response(failure.status, failure.title, failure.detail)
    metrics.add_metric(name='AccountConnected', unit='Count', value=1)
    if connected.return_url:
        return redirect_response(connect.return_to(connected.return_url, connected=provider))
    name = connect.OAUTH_PROVIDERS[provider]
    whose = 'the company\'s bookings' if connected.holder == COMPANY else 'this provider\'s own bookings'
    return page_response(200, f'{name} is connected',
                         f'Meetings for {whose} will now be created in {name} as {connected.email}. '
                         'You can close this page.')


def _zoom_events(event: APIGatewayProxyEventV2) -> dict:
    headers = {name.lower(): value for name, value in event.headers.items()}
    answer = provider_events.zoom_event(headers, raw_body(event), time.time())
    return {'statusCode': 200, 'headers': {'Content-Type': 'application/json'}, 'body': json.dumps(answer)}


@config.using(OAuthSettings)
@logger.inject_lambda_context
@metrics.log_metrics
@answers_errors
@event_source(data_class=APIGatewayProxyEventV2)
def lambda_handler(event: APIGatewayProxyEventV2, context) -> dict:
    if event.route_key == ZOOM_EVENTS_ROUTE:
        return _zoom_events(event)
    return _oauth(event)
