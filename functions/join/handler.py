"""/j/{token}: our join link. GET shows the page, the person's click on it (POST) opens the meeting.

A GET (or HEAD) changes nothing, so the mail scanners that fetch every link of an email before a
person does (and may run the page's script) record no open, start no meeting and mint no start URL.
The page has one button, a form POST to the same link, which works without JavaScript.

`GET /j/{token}/state` is what the waiting page's script polls: the link's phase, its start and the
server's clock as JSON, read like the page and showing less.

`POST /j/{token}/opened` is what the page's script sends once per page view, when the page has been visible
for a moment: a person opened the link (join analytics, logic/analytics.py). No body; 204.

It also answers every path no other route takes (`GET /`, `ANY /{proxy+}`): a page for a person,
JSON for a program, instead of API Gateway's bare `{"message": "Not Found"}`."""

import json
from datetime import UTC, datetime

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, event_source

from meetbridge import config
from meetbridge.config import FunctionSettings, ZoomSettings
from meetbridge.domain.access import Outcome, Phase, Role
from meetbridge.domain.templates import zone_label
from meetbridge.errors import Forbidden, NotFound, PayloadTooLarge
from meetbridge.logic.joining import JoinView, LinkStatus, follow_link, link_status, record_page_open, view_link
from meetbridge.observability import logger, metrics
from meetbridge.web.errors import Problem, answers_errors, json_response, problem_of
from meetbridge.web.pages import page_response, redirect_response


class JoinSettings(FunctionSettings, ZoomSettings):
    """A host's click fetches a fresh start link, refreshing the account's token at the provider."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(JoinSettings)

JOIN_ROUTE = 'ANY /j/{token}'
STATE_ROUTE = 'ANY /j/{token}/state'
OPENED_ROUTE = 'ANY /j/{token}/opened'
ALLOWED_METHODS = 'GET, HEAD, POST'
STATE_METHODS = 'GET, HEAD'
OPENED_METHODS = 'POST'
# A browser names where a request comes from (Fetch Metadata); the button is on our own page, so a
# click posted from another site is refused. Programs that send no such header are not browsers.
CLICK_SITES = frozenset({'same-origin'})
# Without JavaScript the waiting page reloads at least this often, so an early start is noticed; with
# it, the page's script polls /state every 2 s instead (web/countdown.js).
POLL_SECONDS = 30
STATE_HEADERS = {'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Referrer-Policy': 'no-referrer',
                 'X-Robots-Tag': 'noindex', 'X-Content-Type-Options': 'nosniff'}

MESSAGES = {
    Outcome.CANCELLED: (410, 'This meeting was cancelled', 'The booking behind this link was cancelled, so the link '
                        'no longer opens a meeting. Contact the business if you think this is a mistake.'),
    Outcome.ENDED: (410, 'This meeting has ended', 'The booked time for this meeting is over.'),
    Outcome.PAYMENT_REQUIRED: (402, 'Payment needed to join', 'This booking is not paid yet. The link opens the '
                               'meeting as soon as the payment is approved.'),
    Outcome.IN_PERSON: (200, 'This session is now in person', 'The business changed this session from an online '
                        'meeting to an in-person one, so the link no longer opens a meeting. Contact the business '
                        'for where to meet.'),
    Outcome.UNAVAILABLE: (503, 'The meeting is unavailable', 'The meeting account behind this booking has been '
                          'disconnected. Please contact the business for a new link.'),
}
# A meeting that will not take place shows what was booked, not when it "starts".
WHEN_LABELS = {Outcome.CANCELLED: 'Was booked for', Outcome.ENDED: 'Was booked for'}
# A client's click before the start answers the waiting page again, marked: its script takes them in.
CLIENT_EARLY = ('You are a little early. Press "Join when it starts" and keep this page open: it takes you into '
                'the meeting as soon as it starts.')
CLIENT_WAITING_FOOTNOTE = 'Keep this page open: it turns into the meeting when it starts.'
CLIENT_TAKEN_IN = 'Keep this page open: it takes you into the meeting as soon as the meeting starts.'
CLIENT_TAKEN_IN_FOOTNOTE = 'You do not need to do anything else.'
PROVIDER_EARLY = ('From 15 minutes before the start you can start the meeting here; starting it lets your clients '
                  'in. Until then you can open the meeting room without starting it.')
PROVIDER_WAITING_FOOTNOTE = 'Keep this page open: "Start now" appears here 15 minutes before the start.'


@config.using(JoinSettings)
@logger.inject_lambda_context
@metrics.log_metrics
@answers_errors
@event_source(data_class=APIGatewayProxyEventV2)
def lambda_handler(event: APIGatewayProxyEventV2, context) -> dict:
    if event.route_key not in (JOIN_ROUTE, STATE_ROUTE, OPENED_ROUTE):
        raise NotFound('no such page or endpoint')
    method, token, now = event.request_context.http.method, event.path_parameters.get('token', ''), datetime.now(UTC)
    if event.route_key == OPENED_ROUTE:
        return _opened(event, method, token, now)
    if event.route_key == STATE_ROUTE:
        response = _state(method, token, now)
    elif method in ('GET', 'HEAD'):
        response = _page(view_link(token, now), now)
    else:
        return _click(event, method, token, now)
    return {**response, 'body': ''} if method == 'HEAD' else response


def _click(event: APIGatewayProxyEventV2, method: str, token: str, now: datetime) -> dict:
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
    return _page(view, now, clicked=True)


def _opened(event: APIGatewayProxyEventV2, method: str, token: str, now: datetime) -> dict:
    """The page's script saying a person has the page in front of them: one open, one write. JSON errors."""
    try:
        if method != 'POST':
            response = json_response(Problem(405, 'method_not_allowed', f'{method} is not allowed on a link\'s '
                                             'opened; use POST', 'Not allowed', 'Open the link in a browser.'))
            response['headers']['Allow'] = OPENED_METHODS
            return response
        # The same checks as the button: sent from the link's own page, and nothing to read.
        if event.headers.get('sec-fetch-site', 'same-origin') not in CLICK_SITES:
            raise Forbidden('a link\'s opening is recorded from its own page only')
        if event.body:
            raise PayloadTooLarge('a link\'s opening carries no body')
        record_page_open(token, now)
    except Exception as exc:  # noqa: BLE001 - a script posts this: every error is answered as JSON
        return json_response(problem_of(exc))
    return {'statusCode': 204, 'headers': {'Cache-Control': 'no-store'}, 'body': ''}


def _state(method: str, token: str, now: datetime) -> dict:
    """The link's phase for the waiting page's script: JSON, errors included (the one error map's problem)."""
    try:
        if method not in ('GET', 'HEAD'):
            response = json_response(Problem(405, 'method_not_allowed', f'{method} is not allowed on a link\'s state; '
                                             'use GET', 'Not allowed', 'Open the link in a browser.'))
            response['headers']['Allow'] = STATE_METHODS
            return response
        status = link_status(token, now)
    except Exception as exc:  # noqa: BLE001 - a program polls this: every error is answered as JSON
        return json_response(problem_of(exc))
    return {'statusCode': 200, 'headers': dict(STATE_HEADERS), 'body': json.dumps(_state_body(status, now))}


def _state_body(status: LinkStatus, now: datetime) -> dict:
    return {'state': status.phase.value, 'starts_at': _iso(status.start), 'server_now': _iso(now),
            'started': status.started}


def _page(view: JoinView, now: datetime, clicked: bool = False) -> dict:
    # A page a GET showed has its script record the open once a person sees it; a click was recorded already.
    details = {'service_name': view.service_name, 'provider_name': view.provider_name,
               'when': view.local_start.strftime('%A %d %B %Y, %H:%M') + f' ({zone_label(view.timezone, view.start)})',
               'when_label': WHEN_LABELS.get(view.outcome, 'Starts'), 'timezone': view.timezone,
               'records_open': not clicked}
    # The page's script counts down on the server's clock (sent with the page) and polls /state.
    live = {'start': view.start.isoformat(), 'server_now_ms': int(now.timestamp() * 1000),
            'waiting_ends': view.waiting_ends.isoformat(), 'phase': view.phase.value,
            'started': 'true' if view.started else 'false'}
    seconds_left = max(1, int((view.start - now).total_seconds()))
    countdown = f'Starts in about {_rounded_minutes(seconds_left)}' if view.start > now else 'Starting now'
    if view.phase is Phase.WAITING:
        refresh_seconds = min(max(1, int((view.waiting_ends - now).total_seconds())), POLL_SECONDS)
        waiting = {'live': live, 'countdown': countdown, 'refresh_seconds': refresh_seconds,
                   'password': view.password, 'description': view.description}
        if view.role is Role.PROVIDER:
            return page_response(200, 'Your meeting starts soon', PROVIDER_EARLY, button='Open the meeting room',
                                 footnote=PROVIDER_WAITING_FOOTNOTE, **waiting, **details)
        if clicked:
            return page_response(200, 'You will be taken in when it starts', CLIENT_TAKEN_IN, auto_join=True,
                                 footnote=CLIENT_TAKEN_IN_FOOTNOTE, **waiting, **details)
        return page_response(200, 'Your meeting starts soon', CLIENT_EARLY, button='Join when it starts',
                             footnote=CLIENT_WAITING_FOOTNOTE, **waiting, **details)
    if view.phase is Phase.OPEN:
        title, text, button = _ready_text(view)
        # The provider's "Start now" page keeps counting down, and changes once the meeting is started.
        start_now = {'live': live, 'countdown': countdown} if view.starts_meeting else {}
        return page_response(200, title, text, button=button, focus_button=True, **start_now, **details)
    status, title, text = MESSAGES[view.outcome]
    return page_response(status, title, text, **details)


def _ready_text(view: JoinView) -> tuple[str, str, str]:
    """The title, what the click does, and the button's label, for the person about to click it."""
    if view.role is Role.CLIENT:
        return 'Your meeting is open', 'The meeting is open. Join it with the button below.', 'Join the meeting'
    if view.starts_meeting:
        return ('Your meeting is ready to start',
                'Starting the meeting lets your clients in: those waiting on their page are taken in at once.',
                'Start now')
    if view.started:
        return 'Your meeting has started', 'Your clients can join now. Open the meeting with the button below.', \
            'Open the meeting'
    return 'Your meeting', 'Open the meeting with the button below.', 'Open the meeting'


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec='milliseconds').replace('+00:00', 'Z')


def _rounded_minutes(seconds: int) -> str:
    minutes = max(1, round(seconds / 60))
    return '1 minute' if minutes == 1 else f'{minutes} minutes'
