"""/j/{token}: our join link. GET shows the page, the person's click on it (POST) opens the meeting.

A GET (or HEAD) changes nothing, so the mail scanners that fetch every link of an email before a
person does (and may run the page's script) record no open, start no meeting and mint no start URL.
The page has one button, a form POST to the same link, which works without JavaScript.

It also answers every path no other route takes (`GET /`, `ANY /{proxy+}`): a page for a person,
JSON for a program, instead of API Gateway's bare `{"message": "Not Found"}`."""

from datetime import UTC, datetime

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, event_source

from meetbridge import config
from meetbridge.config import FunctionSettings, ZoomSettings
from meetbridge.domain.access import Outcome, Role
from meetbridge.domain.templates import zone_label
from meetbridge.errors import Forbidden, NotFound
from meetbridge.logic.joining import JoinView, follow_link, view_link
from meetbridge.observability import logger, metrics
from meetbridge.web.errors import Problem, answers_errors, json_response
from meetbridge.web.pages import page_response, redirect_response


class JoinSettings(FunctionSettings, ZoomSettings):
    """A host's click fetches a fresh start link, refreshing the account's token at the provider."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(JoinSettings)

JOIN_ROUTE = 'ANY /j/{token}'
ALLOWED_METHODS = 'GET, HEAD, POST'
# A browser names where a request comes from (Fetch Metadata); the button is on our own page, so a
# click posted from another site is refused. Programs that send no such header are not browsers.
CLICK_SITES = frozenset({'same-origin'})
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
    method, token, now = event.request_context.http.method, event.path_parameters.get('token', ''), datetime.now(UTC)
    if method in ('GET', 'HEAD'):
        response = _page(view_link(token, now), now)
        return {**response, 'body': ''} if method == 'HEAD' else response
    if method != 'POST':
        problem = Problem(405, 'method_not_allowed', f'{method} is not allowed on a join link; use GET or POST',
                          'Not allowed', 'Open the link in a browser.')
        response = json_response(problem)
        response['headers']['Allow'] = ALLOWED_METHODS
        return response
    if event.headers.get('sec-fetch-site', 'same-origin') not in CLICK_SITES:
        raise Forbidden('a join link opens the meeting from its own page only')
    view = follow_link(token, now)
    metrics.add_metric(name=f'Join{view.outcome.value.title().replace("_", "")}', unit='Count', value=1)
    if view.location:
        return redirect_response(view.location, status=303)
    return _page(view, now)


def _page(view: JoinView, now: datetime) -> dict:
    details = {'service_name': view.service_name, 'provider_name': view.provider_name,
               'when': view.local_start.strftime('%A %d %B %Y, %H:%M') + f' ({zone_label(view.timezone, view.start)})',
               'when_label': WHEN_LABELS.get(view.outcome, 'Starts'), 'timezone': view.timezone}
    if view.outcome is Outcome.WAIT:
        seconds_left = max(1, int((view.start - now).total_seconds()))
        return page_response(200, 'Your meeting starts soon', 'You are a little early.',
                             refresh_seconds=min(seconds_left, POLL_SECONDS), countdown_start=view.start.isoformat(),
                             countdown=f'Starts in about {_rounded_minutes(seconds_left)}',
                             password=view.password, description=view.description, **details)
    if view.outcome is Outcome.REDIRECT:
        title, text, button = _ready_text(view)
        return page_response(200, title, text, button=button, **details)
    status, title, text = MESSAGES[view.outcome]
    return page_response(status, title, text, **details)


def _ready_text(view: JoinView) -> tuple[str, str, str]:
    """The title, what the click does, and the button's label, for the person about to click it."""
    if view.role is Role.CLIENT:
        return 'Your meeting is open', 'The meeting is open. Join it with the button below.', 'Join the meeting'
    if view.starts_meeting:
        return 'Your meeting is ready', 'Starting the meeting lets your clients in.', 'Start the meeting'
    return 'Your meeting', 'Open the meeting with the button below.', 'Open the meeting'


def _rounded_minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return '1 minute' if minutes == 1 else f'{minutes} minutes'
