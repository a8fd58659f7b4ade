"""GET /j/{token}: our join link. Waiting page before the start, the meeting at the start.

It also answers every path no other route takes (`GET /`, `ANY /{proxy+}`): a page for a person,
JSON for a program, instead of API Gateway's bare `{"message": "Not Found"}`."""

from datetime import UTC, datetime

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, event_source

from meetbridge import config
from meetbridge.config import FunctionSettings, ZoomSettings
from meetbridge.domain.access import Outcome
from meetbridge.errors import NotFound
from meetbridge.logic.joining import open_link
from meetbridge.observability import logger, metrics
from meetbridge.web.errors import answers_errors
from meetbridge.web.pages import page_response, redirect_response


class JoinSettings(FunctionSettings, ZoomSettings):
    """A host's click fetches a fresh start link, refreshing the account's token at the provider."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(JoinSettings)

JOIN_ROUTE = 'GET /j/{token}'
# The waiting page reloads at least this often, so an early start by the provider is noticed.
POLL_SECONDS = 30

MESSAGES = {
    Outcome.CANCELLED: (410, 'This meeting was cancelled', 'The booking behind this link was cancelled, so the link '
                        'no longer opens a meeting. Contact the business if you think this is a mistake.'),
    Outcome.ENDED: (410, 'This meeting has ended', 'The booked time for this meeting is over.'),
    Outcome.PAYMENT_REQUIRED: (402, 'Payment needed to join', 'This booking is not paid yet. The link opens the '
                               'meeting as soon as the payment is approved.'),
    Outcome.UNAVAILABLE: (503, 'The meeting is unavailable', 'The meeting account behind this booking has been '
                          'disconnected. Please contact the business for a new link.'),
}
# A meeting that will not take place shows what was booked, not when it "starts".
WHEN_LABELS = {Outcome.CANCELLED: 'Was booked for', Outcome.ENDED: 'Was booked for'}


@config.using(JoinSettings)
@logger.inject_lambda_context
@metrics.log_metrics
@answers_errors
@event_source(data_class=APIGatewayProxyEventV2)
def lambda_handler(event: APIGatewayProxyEventV2, context) -> dict:
    if event.route_key != JOIN_ROUTE:
        raise NotFound('no such page or endpoint')
    now = datetime.now(UTC)
    view = open_link(event.path_parameters.get('token', ''), now)
    metrics.add_metric(name=f'Join{view.outcome.value.title().replace("_", "")}', unit='Count', value=1)
    if view.outcome is Outcome.REDIRECT:
        return redirect_response(view.location)
    details = {'service_name': view.service_name, 'provider_name': view.provider_name,
               'when': view.local_start.strftime('%A %d %B %Y, %H:%M') + f' ({view.timezone})',
               'when_label': WHEN_LABELS.get(view.outcome, 'Starts')}
    if view.outcome is Outcome.WAIT:
        seconds_left = max(1, int((view.start - now).total_seconds()))
        return page_response(200, 'Your meeting starts soon', 'You are a little early.',
                             refresh_seconds=min(seconds_left, POLL_SECONDS),
                             password=view.password, description=view.description, **details)
    status, title, text = MESSAGES[view.outcome]
    return page_response(status, title, text, **details)
