"""A local Zoom: OAuth (authorization code, PKCE, rotating refresh tokens, revoke) and the REST
calls meetbridge makes, answering and refusing as Zoom does (docs: provider-apis.md section 1).

The lifecycle, clock, faults and calls log are the shared ``infra.sandboxes.sandbox.Sandbox``'s. The
sandbox clock is real time plus whatever ``advance()`` added; token, code and start-link expiry and
the UTC day of the daily limit follow it.
Webhook timestamps use the real clock, because receivers check them against theirs.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hmac
import json
import re
import secrets
import string
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from ..sandbox import Reject, Sandbox
from ..web import Request, Response, html_response, json_response, post, redirect, with_query
from ..web import first_values as _first_values
from . import pages
from .control import ROUTES as CONTROL_ROUTES
from ..oauth import PKCE_RE, s256_challenge
from .signing import sign, url_validation_response
from .validation import APPROVAL_TYPES, SCHEDULED, format_utc, is_iana_zone, is_int, validate_meeting

OPERATIONS = ('authorize', 'token', 'revoke', 'get_me', 'list_users', 'create_meeting', 'list_meetings',
              'get_meeting', 'update_meeting', 'delete_meeting', 'add_registrant', 'update_registrant_status', 'list_registrants')
PAGE_OPERATIONS = ('join_page', 'start_page')  # the browser landings; logged, but not fault targets
BASE_SCOPES = ('meeting:write:meeting', 'meeting:read:meeting', 'meeting:update:meeting', 'meeting:delete:meeting',
               'meeting:read:list_meetings', 'meeting:write:registrant', 'user:read:user')
ADMIN_SCOPE = 'user:read:list_users:admin'
ROLES = ('owner', 'admin', 'member')
ROLE_NAMES = {'owner': 'Owner', 'admin': 'Admin', 'member': 'Member'}
ROLE_IDS = {'owner': '0', 'admin': '1', 'member': '2'}
RATE_LABELS = {'get_me': 'Light', 'list_users': 'Medium', 'create_meeting': 'Medium', 'list_meetings': 'Medium',
               'get_meeting': 'Light',
               'update_meeting': 'Light', 'delete_meeting': 'Light', 'add_registrant': 'Light',
               'update_registrant_status': 'Medium', 'list_registrants': 'Medium'}
START_URL_TTL = 2 * 3600
PAGE_TOKEN_TTL = 15 * 60
USERS_PAGE_SIZE, USERS_PAGE_MAX = 30, 300
# List meetings' `type`: `scheduled` is every unexpired scheduled meeting (past, live and upcoming);
# `upcoming` and `upcoming_meetings` both mean upcoming and live ones.
MEETING_LIST_TYPES = ('scheduled', 'live', 'upcoming', 'upcoming_meetings', 'previous_meetings')
LISTED_AGENDA_MAX = 250  # the list truncates each agenda; GET /meetings/{id} has it whole
EMAIL_RE = re.compile(r'[^@\s]+@[^@\s]+\.[^@\s]+')
NOT_JSON = 'Request Body should be a valid JSON object.'
SEED_ACCOUNT = 'acct-demo'
SEED_USERS = (
    ('zoom-owner', 'owner@zoom.example', 'Olive', 'Owner', 'owner'),
    ('zoom-dana', 'dana@zoom.example', 'Dana', 'Reyes', 'member'),
    ('zoom-eli', 'eli@zoom.example', 'Eli', 'Park', 'member'),
)


# --- requests and responses (the shared pieces live in infra.sandboxes.web) ----------------------


def zoom_error(status: int, code: int, message: str, **extra: Any) -> Response:
    return json_response(status, {'code': code, 'message': message, **extra})


def validation_failed(errors: list[dict[str, str]]) -> Response:
    return zoom_error(400, 300, 'Validation Failed.', errors=errors)


def oauth_error(status: int, error: str, reason: str) -> Response:
    return json_response(status, {'reason': reason, 'error': error}, {'Cache-Control': 'no-store'})


def _iso(moment: datetime) -> str:
    return format_utc(moment)


def _iso_ms(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.') + f'{moment.microsecond // 1000:03d}Z'


@dataclass
class _Meeting:
    data: dict[str, Any]
    pwd: str
    registrants: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Context:
    user: dict[str, Any]
    grant: dict[str, Any]


# --- the sandbox ----------------------------------------------------------------------------------


class ZoomSandbox(Sandbox):
    """Zoom's OAuth + REST API on a loopback port. ``start()``, use ``url``/``api_base``, ``stop()``."""

    NAME = 'Zoom'
    OPERATIONS = OPERATIONS
    CONTROL_ROUTES = CONTROL_ROUTES

    def __init__(self, client_id: str = 'sandbox-client-id', client_secret: str = 'sandbox-client-secret',
                 webhook_secret_token: str = 'sandbox-webhook-secret', redirect_uris: tuple[str, ...] = (),
                 host: str = '127.0.0.1', port: int = 0, access_token_ttl: int = 3599, code_ttl: int = 300, *,
                 daily_limit: int | None = 100, qps_limit: int | None = None, refresh_token_ttl: float | None = None,
                 app_name: str = 'meetbridge', seed: bool = True, webhook_timeout: float = 3.0,
                 localized_messages: bool = False):
        super().__init__(client_id, client_secret, redirect_uris, host, port)
        self.webhook_secret_token = webhook_secret_token
        self.access_token_ttl = access_token_ttl
        self.code_ttl = code_ttl
        self.daily_limit = daily_limit  # create+update requests per host user per UTC day; None: unlimited
        self.qps_limit = qps_limit  # REST requests per second per account; None: unlimited
        self.refresh_token_ttl = refresh_token_ttl  # seconds; None: refresh tokens do not expire
        self.app_name = app_name
        self.webhook_timeout = webhook_timeout
        self.localized_messages = localized_messages  # REST error messages in Russian: clients must read `code`
        self._users: dict[str, dict[str, Any]] = {}
        self._codes: dict[str, dict[str, Any]] = {}
        self._grants: dict[str, dict[str, Any]] = {}
        self._refresh_tokens: dict[str, str] = {}  # live refresh token -> grant id
        self._meetings: dict[int, _Meeting] = {}
        self._used_meeting_ids: set[int] = set()
        self._zaks: dict[str, tuple[int, float]] = {}
        self._page_tokens: dict[str, dict[str, Any]] = {}
        self._daily: Counter = Counter()
        self._qps: dict[str, deque] = {}
        self._refreshes: Counter = Counter()
        if seed:
            for user_id, email, first, last, role in SEED_USERS:
                self.add_user(user_id, email, first, last, role=role, account_id=SEED_ACCOUNT)

    # --- addresses, set-up and inspection ---

    @property
    def api_base(self) -> str:
        return self.url + '/v2'

    def add_user(self, user_id: str, email: str, first_name: str = '', last_name: str = '', role: str = 'member',
                 account_id: str = SEED_ACCOUNT, timezone: str = 'UTC') -> dict[str, Any]:
        if role not in ROLES:
            raise ValueError(f'role must be one of {ROLES}')
        if not is_iana_zone(timezone):
            raise ValueError(f'{timezone!r} is not an IANA time zone')
        with self._lock:
            if user_id in self._users or user_id == 'me' or self._user_by_email(email):
                raise ValueError(f'user {user_id!r} or email {email!r} exists already')
            user = {'id': user_id, 'email': email, 'first_name': first_name, 'last_name': last_name, 'role': role,
                    'account_id': account_id, 'timezone': timezone, 'created_at': _iso(self.now()),
                    'pmi': 1_000_000_000 + secrets.randbelow(9_000_000_000)}
            self._users[user_id] = user
            return dict(user)

    @property
    def users(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._users)

    @property
    def meetings(self) -> dict[int, dict[str, Any]]:
        with self._lock:
            return {mid: copy.deepcopy(m.data) for mid, m in self._meetings.items()}

    def registrants(self, meeting_id: int | str) -> list[dict[str, Any]]:
        with self._lock:
            meeting = self._meetings.get(int(meeting_id))
            return [self._registrant_view(meeting, r, always_url=True) for r in meeting.registrants] if meeting else []

    def remove_meeting(self, meeting_id: int | str) -> None:
        """The host deletes the meeting in Zoom's web portal: the API answers 3001 for it from now on."""
        with self._lock:
            if self._meetings.pop(int(meeting_id), None) is None:
                raise ValueError(f'no meeting {meeting_id!r}')

    def refresh_count(self, user_id: str | None = None) -> int:
        with self._lock:
            return sum(self._refreshes.values()) if user_id is None else self._refreshes[user_id]

    # --- OAuth without a browser ---

    def authorize(self, user_id: str, shared_access: bool = True, code_challenge: str | None = None,
                  code_challenge_method: str | None = None, redirect_uri: str | None = None, state: str = 's') -> str:
        """The consent step, as if ``user_id`` clicked Allow: returns the authorization code."""
        with self._lock:
            if user_id not in self._users:
                raise ValueError(f'unknown user {user_id!r}')
            if redirect_uri is None:
                if not self._redirect_uris:
                    raise ValueError('no redirect URI is allowed: call allow_redirect_uri() first')
                redirect_uri = self._redirect_uris[0]
            elif redirect_uri not in self._redirect_uris:
                raise ValueError(f'4709 Redirect URI mismatch: {redirect_uri!r} is not allowed')
            problem = self._pkce_problem(code_challenge, code_challenge_method)
            if problem:
                raise ValueError(problem)
            return self._issue_code(user_id, bool(shared_access), redirect_uri, code_challenge, code_challenge_method)

    def revoke_user(self, user_id: str) -> None:
        """The user removes the app in Zoom's marketplace and the event is lost (or not subscribed): every grant
        and unused code of ``user_id`` dies, and no ``app_deauthorized`` is sent. Its access tokens answer 124
        and its refresh tokens ``invalid_grant`` from now on."""
        with self._lock:
            self._revoke_user(user_id)

    def _revoke_user(self, user_id: str) -> dict[str, Any]:
        user = self._users.get(user_id)
        if user is None:
            raise ValueError(f'unknown user {user_id!r}')
        for grant in self._grants.values():
            if grant['user_id'] == user_id:
                self._revoke_grant(grant)
        for record in self._codes.values():
            if record['user_id'] == user_id:
                record['used'] = True
        return user

    def deauthorize(self, user_id: str, target_url: str) -> tuple[int, dict[str, str], bytes]:
        """Revoke every grant of ``user_id`` and POST a signed ``app_deauthorized`` event to ``target_url``."""
        with self._lock:
            user = self._revoke_user(user_id)
            when = _iso_ms(self.now())
        marker = f'{user["account_id"]}:{user_id}:{self.client_id}:{when}'
        event = {'event': 'app_deauthorized', 'event_ts': int(time.time() * 1000), 'payload': {
            'account_id': user['account_id'], 'user_id': user_id,
            'signature': hmac.new(self.webhook_secret_token.encode(), marker.encode(), 'sha256').hexdigest(),
            'deauthorization_time': when, 'client_id': self.client_id}}
        return self.send_webhook(target_url, event)

    # --- webhooks ---

    def send_webhook(self, target_url: str, event: dict[str, Any] | None, timestamp: int | str | None = None,
                     secret: str | None = None, raw_body: str | bytes | None = None
                     ) -> tuple[int, dict[str, str], bytes]:
        """POST ``event`` (or ``raw_body`` verbatim) signed as Zoom signs: (status, lower-cased headers, body)."""
        if raw_body is None:
            raw_body = json.dumps(event, separators=(',', ':'), ensure_ascii=False)  # UTF-8 on the wire
        body = raw_body.encode() if isinstance(raw_body, str) else bytes(raw_body)
        timestamp = str(int(time.time()) if timestamp is None else timestamp)
        headers = {'Content-Type': 'application/json; charset=utf-8', 'User-Agent': 'Zoom Marketplace/1.0a',
                   'x-zm-request-timestamp': timestamp,
                   'x-zm-signature': sign(self.webhook_secret_token if secret is None else secret, timestamp, body),
                   'x-zm-trackingid': 'sandbox_' + secrets.token_hex(12)}
        return post(target_url, body, headers, self.webhook_timeout)

    def validate_endpoint(self, target_url: str) -> dict[str, Any]:
        """Zoom's ``endpoint.url_validation`` challenge: sends it signed and checks the answer."""
        plain = secrets.token_urlsafe(16)
        event = {'payload': {'plainToken': plain}, 'event_ts': int(time.time() * 1000),
                 'event': 'endpoint.url_validation'}
        status, headers, body = self.send_webhook(target_url, event)
        try:
            answer = json.loads(body)
        except ValueError:
            answer = None
        expected = url_validation_response(self.webhook_secret_token, plain)
        valid = status in (200, 204) and isinstance(answer, dict) and all(
            isinstance(answer.get(k), str) and hmac.compare_digest(answer[k], v) for k, v in expected.items())
        return {'valid': valid, 'status': status, 'headers': headers, 'body': body.decode('utf-8', 'replace'),
                'plainToken': plain}

    # --- dispatch ---

    ROUTES = (
        ('GET', ('oauth', 'authorize'), 'authorize', '_authorize_page'),
        ('POST', ('oauth', 'authorize', 'decision'), 'authorize', '_authorize_decision'),
        ('POST', ('oauth', 'token'), 'token', '_token'),
        ('POST', ('oauth', 'revoke'), 'revoke', '_revoke'),
        ('GET', ('v2', 'users', 'me'), 'get_me', '_get_me'),
        ('GET', ('v2', 'users'), 'list_users', '_list_users'),
        ('POST', ('v2', 'users', '*', 'meetings'), 'create_meeting', '_create_meeting'),
        ('GET', ('v2', 'users', '*', 'meetings'), 'list_meetings', '_list_meetings'),
        ('GET', ('v2', 'meetings', '*'), 'get_meeting', '_get_meeting'),
        ('PATCH', ('v2', 'meetings', '*'), 'update_meeting', '_update_meeting'),
        ('DELETE', ('v2', 'meetings', '*'), 'delete_meeting', '_delete_meeting'),
        ('POST', ('v2', 'meetings', '*', 'registrants'), 'add_registrant', '_add_registrant'),
        ('GET', ('v2', 'meetings', '*', 'registrants'), 'list_registrants', '_list_registrants'),
        ('PUT', ('v2', 'meetings', '*', 'registrants', 'status'), 'update_registrant_status',
         '_update_registrant_status'),
        ('GET', ('j', '*'), 'join_page', '_join_page'),
        ('GET', ('s', '*'), 'start_page', '_start_page'),
    )

    def _unrouted(self, request: Request, path_known: bool) -> Response:
        if path_known:
            return zoom_error(405, 405, f'Method {request.method} is not allowed here.')
        return zoom_error(404, 404, f'The Zoom sandbox has no {request.method} {request.path}.')

    def _plain_error(self, status: int, message: str) -> Response:
        return zoom_error(status, status, message)

    def _injected_error(self, status: int, operation: str, request: Request) -> Response:
        if operation == 'authorize':
            return html_response(status, pages.oauth_error(4700, 'Injected fault (sandbox).'))
        if operation in ('token', 'revoke'):
            return json_response(status, {'reason': 'Injected fault (sandbox).', 'error': 'server_error'})
        return self._plain_error(status, 'Injected fault (sandbox).')

    def _run(self, route: tuple, request: Request, params: list[str]) -> Response:
        handler = getattr(self, route[3])
        if route[1][0] != 'v2':
            return handler(request, *params)
        try:
            context = self._authenticate(request)
            self._check_qps(context.user['account_id'], route[2])
            response = handler(request, context, *params)
        except Reject as reject:
            response = reject.response
        return _localized(response) if self.localized_messages else response

    # --- OAuth ---

    def _scopes(self, user: dict[str, Any]) -> str:
        scopes = list(BASE_SCOPES) + ([ADMIN_SCOPE] if user['role'] in ('owner', 'admin') else [])
        return ' '.join(scopes)

    @staticmethod
    def _pkce_problem(challenge: str | None, method: str | None) -> str | None:
        if challenge is None:
            return 'code_challenge_method without a code_challenge' if method is not None else None
        if method not in (None, 'S256', 'plain'):
            return f'Unsupported code_challenge_method {method!r}: use S256 or plain.'
        if not PKCE_RE.fullmatch(challenge):
            return 'code_challenge must be 43-128 characters of [A-Z a-z 0-9 - . _ ~].'
        return None

    def _authorize_error(self, params: dict[str, str]) -> Response | None:
        if params.get('client_id') != self.client_id:
            return html_response(400, pages.oauth_error(4702, 'Invalid client_id',
                                                        f'No app has the client_id {params.get("client_id", "")!r}.'))
        redirect_uri = params.get('redirect_uri', '')
        if redirect_uri not in self._redirect_uris:
            return html_response(400, pages.oauth_error(
                4709, 'Redirect URI mismatch',
                f'{redirect_uri!r} is not exactly one of the redirect URLs on the app\'s allow list.'))
        if params.get('response_type') != 'code':
            return html_response(400, pages.oauth_error(4700, 'Invalid response_type',
                                                        'This app can only use response_type=code.'))
        problem = self._pkce_problem(params.get('code_challenge'), params.get('code_challenge_method'))
        if problem:
            return html_response(400, pages.oauth_error(4700, 'Invalid PKCE parameters', problem))
        return None

    def _authorize_page(self, request: Request) -> Response:
        params = request.query
        error = self._authorize_error(params)
        if error:
            return error
        hidden = {k: params[k] for k in ('response_type', 'client_id', 'redirect_uri', 'state', 'code_challenge',
                                         'code_challenge_method') if k in params}
        users = sorted(self._users.values(), key=lambda u: ROLES.index(u['role']))
        return html_response(200, pages.consent(app_name=self.app_name, users=users, hidden=hidden,
                                                scopes=self._scopes({'role': 'owner'}).split(),
                                                redirect_uri=params['redirect_uri']))

    def _authorize_decision(self, request: Request) -> Response:
        params = self._form(request)
        error = self._authorize_error(params)
        if error:
            return error
        user_id = params.get('user_id', '')
        if user_id not in self._users:
            return html_response(400, pages.oauth_error(4700, 'Unknown user', f'No sandbox user {user_id!r}.'))
        decision = params.get('decision')
        state = params.get('state')
        if decision == 'deny':
            return redirect(with_query(params['redirect_uri'], {'error': 'access_denied', 'state': state}))
        if decision != 'allow':
            return html_response(400, pages.oauth_error(4700, 'No decision', 'Press Allow or Deny.'))
        code = self._issue_code(user_id, params.get('shared_access') in ('on', 'true', '1'), params['redirect_uri'],
                                params.get('code_challenge'), params.get('code_challenge_method'))
        return redirect(with_query(params['redirect_uri'], {'code': code, 'state': state}))

    def _issue_code(self, user_id: str, shared_access: bool, redirect_uri: str, challenge: str | None,
                    method: str | None) -> str:
        code = secrets.token_urlsafe(24)
        self._codes[code] = {'user_id': user_id, 'shared_access': shared_access, 'redirect_uri': redirect_uri,
                             'challenge': challenge, 'method': method or 'plain',
                             'expires_at': self._clock() + self.code_ttl, 'used': False}
        return code

    @staticmethod
    def _form(request: Request) -> dict[str, str]:
        """Query parameters, overridden by an ``application/x-www-form-urlencoded`` body."""
        params = dict(request.query)
        kind = request.header('Content-Type').split(';')[0].strip().lower()
        if request.body and kind in ('application/x-www-form-urlencoded', ''):
            try:
                text = request.body.decode('utf-8')
            except UnicodeDecodeError:
                raise Reject(oauth_error(400, 'invalid_request', 'The request body is not UTF-8.')) from None
            params.update(_first_values(text))
        return params

    def _client_ok(self, request: Request) -> bool:
        scheme, _, encoded = request.header('Authorization').strip().partition(' ')
        if scheme.lower() != 'basic':
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode('utf-8')
        except (binascii.Error, ValueError):
            return False
        client_id, sep, client_secret = decoded.partition(':')
        return bool(sep) and hmac.compare_digest(client_id.encode(), self.client_id.encode()) and hmac.compare_digest(
            client_secret.encode(), self.client_secret.encode())

    def _token(self, request: Request) -> Response:
        params = self._form(request)
        if not self._client_ok(request):
            return oauth_error(401, 'invalid_client', 'Invalid client_id or client_secret')
        grant_type = params.get('grant_type')
        if not grant_type:
            return oauth_error(400, 'invalid_request', 'Invalid request : grant type missing')
        if grant_type == 'authorization_code':
            return self._grant_code(params)
        if grant_type == 'refresh_token':
            return self._grant_refresh(params)
        return oauth_error(400, 'unsupported_grant_type', 'Unsupported grant type')

    def _grant_code(self, params: dict[str, str]) -> Response:
        code = params.get('code', '')
        record = self._codes.get(code)
        if record is None or record['used'] or self._clock() >= record['expires_at']:
            return oauth_error(400, 'invalid_grant', f'Invalid authorization code {code}')
        record['used'] = True  # one attempt per code: a failed exchange burns it too
        if params.get('redirect_uri') != record['redirect_uri']:
            return oauth_error(400, 'invalid_request', 'Redirect URI mismatch')
        if record['challenge'] is not None:
            verifier = params.get('code_verifier', '')
            computed = s256_challenge(verifier) if record['method'] == 'S256' else verifier
            if not verifier or not hmac.compare_digest(computed.encode(), record['challenge'].encode()):
                return oauth_error(400, 'invalid_grant', 'Invalid code_verifier')
        user = self._users[record['user_id']]
        grant = {'id': secrets.token_hex(8), 'user_id': user['id'], 'shared_access': record['shared_access'],
                 'scope': self._scopes(user), 'revoked': False, 'refresh_token': None}
        self._grants[grant['id']] = grant
        return self._token_response(grant)

    def _grant_refresh(self, params: dict[str, str]) -> Response:
        grant = self._grants.get(self._refresh_tokens.get(params.get('refresh_token', ''), ''))
        if grant is None or grant['revoked'] or (
                grant['refresh_expires_at'] is not None and self._clock() >= grant['refresh_expires_at']):
            return oauth_error(400, 'invalid_grant', 'Invalid Token!')
        self._refreshes[grant['user_id']] += 1
        return self._token_response(grant)

    def _token_response(self, grant: dict[str, Any]) -> Response:
        """New access and refresh tokens for ``grant``; its previous refresh token dies here."""
        now = self._clock()
        self._refresh_tokens.pop(grant['refresh_token'] or '', None)
        grant['refresh_token'] = secrets.token_urlsafe(48)
        grant['refresh_expires_at'] = None if self.refresh_token_ttl is None else now + self.refresh_token_ttl
        self._refresh_tokens[grant['refresh_token']] = grant['id']
        access_token = secrets.token_urlsafe(48)
        self._access_tokens[access_token] = {'grant': grant['id'], 'expires_at': now + self.access_token_ttl}
        return json_response(200, {'access_token': access_token, 'token_type': 'bearer',
                                   'refresh_token': grant['refresh_token'], 'expires_in': self.access_token_ttl,
                                   'scope': grant['scope'], 'api_url': self.url},
                             {'Cache-Control': 'no-store', 'Pragma': 'no-cache'})

    def _revoke(self, request: Request) -> Response:
        params = self._form(request)
        if not self._client_ok(request):
            return oauth_error(401, 'invalid_client', 'Invalid client_id or client_secret')
        record = self._access_tokens.get(params.get('token', ''))
        grant = self._grants.get(record['grant']) if record else None
        if grant is None or grant['revoked']:
            return oauth_error(400, 'invalid_request', 'Invalid token')
        self._revoke_grant(grant)
        return json_response(200, {'status': 'success'})

    def _revoke_grant(self, grant: dict[str, Any]) -> None:
        grant['revoked'] = True
        self._refresh_tokens.pop(grant['refresh_token'] or '', None)

    # --- REST: authentication, limits, lookups ---

    def _authenticate(self, request: Request) -> _Context:
        scheme, _, token = request.header('Authorization').strip().partition(' ')
        record = self._access_tokens.get(token.strip()) if scheme.lower() == 'bearer' else None
        grant = self._grants.get(record['grant']) if record else None
        user = self._users.get(grant['user_id']) if grant else None
        if user is None or grant['revoked']:
            raise Reject(zoom_error(401, 124, 'Invalid access token.'))
        if self._clock() >= record['expires_at']:
            raise Reject(zoom_error(401, 124, 'Access token is expired.'))
        return _Context(user, grant)

    def _check_qps(self, account_id: str, operation: str) -> None:
        if self.qps_limit is None:
            return
        now = self._clock()
        window = self._qps.setdefault(account_id, deque())
        while window and window[0] <= now - 1:
            window.popleft()
        if len(window) >= self.qps_limit:
            raise Reject(json_response(
                429, {'code': 429, 'message': 'You have reached the maximum per-second rate limit for this API. '
                                              'Try again later.'},
                {'X-RateLimit-Category': RATE_LABELS.get(operation, 'Light'), 'X-RateLimit-Type': 'QPS',
                 'X-RateLimit-Limit': str(self.qps_limit), 'X-RateLimit-Remaining': '0'}))
        window.append(now)

    def _count_create_update(self, host_id: str) -> None:
        """The 100-per-day create/update limit of a meeting host; the day turns at 00:00 UTC."""
        if self.daily_limit is None:
            return
        today = self.now().date()
        if self._daily[(host_id, today)] >= self.daily_limit:
            reset = datetime(today.year, today.month, today.day, tzinfo=UTC) + timedelta(days=1)
            raise Reject(json_response(
                429, {'code': 429, 'message': f'You have exceeded the daily rate limit ({self.daily_limit}) of Meeting '
                                              'Create/Update API requests permitted for this particular user. '
                                              'You may resume these requests at GMT 00:00:00.'},
                {'X-RateLimit-Category': 'Medium', 'X-RateLimit-Type': 'Daily-limit',
                 'X-RateLimit-Limit': str(self.daily_limit), 'X-RateLimit-Remaining': '0',
                 'Retry-After': _iso(reset)}))
        self._daily[(host_id, today)] += 1

    def _user_by_email(self, email: str) -> dict[str, Any] | None:
        wanted = email.lower()
        return next((u for u in self._users.values() if u['email'].lower() == wanted), None)

    def _acting_for(self, context: _Context, reference: str) -> dict[str, Any]:
        """The user ``reference`` (``me``, an id or an email) names, if the token may act for them."""
        if reference == 'me':
            return context.user
        user = self._users.get(reference) or self._user_by_email(reference)
        if user is None:
            raise Reject(zoom_error(404, 1001, f'User does not exist: {reference}.'))
        if user['account_id'] != context.user['account_id']:
            raise Reject(zoom_error(404, 1010, f'User does not belong to this account: {reference}.'))
        if user['id'] != context.user['id'] and not self._may_act_for_others(context):
            raise Reject(zoom_error(403, 200, 'No permission.'))
        return user

    @staticmethod
    def _may_act_for_others(context: _Context) -> bool:
        return context.user['role'] in ('owner', 'admin') and context.grant['shared_access']

    def _meeting(self, context: _Context, reference: str) -> _Meeting:
        meeting = self._meetings.get(int(reference)) if reference.isdigit() and reference.isascii() else None
        host = self._users.get(meeting.data['host_id']) if meeting else None
        if meeting is None or host is None or host['account_id'] != context.user['account_id']:
            raise Reject(zoom_error(404, 3001, f'Meeting {reference} is not found or has expired.'))
        if host['id'] != context.user['id'] and not self._may_act_for_others(context):
            raise Reject(zoom_error(403, 200, 'No permission.'))
        return meeting

    @staticmethod
    def _json_body(request: Request) -> dict[str, Any]:
        def no_constants(name: str) -> Any:
            raise ValueError(name)

        try:
            body = json.loads(request.body.decode('utf-8'), parse_constant=no_constants)
        except (UnicodeDecodeError, ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            raise Reject(zoom_error(400, 300, NOT_JSON))
        return body

    # --- REST: users ---

    def _user_view(self, user: dict[str, Any]) -> dict[str, Any]:
        return {'id': user['id'], 'first_name': user['first_name'], 'last_name': user['last_name'],
                'display_name': f'{user["first_name"]} {user["last_name"]}'.strip(), 'email': user['email'],
                'type': 2, 'role_id': ROLE_IDS[user['role']], 'pmi': user['pmi'], 'timezone': user['timezone'],
                'verified': 1, 'dept': '', 'created_at': user['created_at'], 'language': 'en-US',
                'status': 'active'}

    def _get_me(self, request: Request, context: _Context) -> Response:
        user = context.user
        return json_response(200, {**self._user_view(user), 'account_id': user['account_id'],
                                   'role_name': ROLE_NAMES[user['role']]})

    def _list_users(self, request: Request, context: _Context) -> Response:
        if not self._may_act_for_others(context) or ADMIN_SCOPE not in context.grant['scope'].split():
            return zoom_error(403, 4711, f'Invalid access token, does not contain scopes:[{ADMIN_SCOPE}].')
        query = request.query
        status = query.get('status') or 'active'
        page_size = query.get('page_size') or str(USERS_PAGE_SIZE)
        errors = []
        if status not in ('active', 'inactive', 'pending'):
            errors.append({'field': 'status', 'message': 'status must be active, inactive or pending.'})
        if not (page_size.isascii() and page_size.isdigit() and int(page_size) >= 1):
            errors.append({'field': 'page_size', 'message': 'page_size must be a positive integer.'})
        if errors:
            return validation_failed(errors)
        size = min(int(page_size), USERS_PAGE_MAX)
        account = context.user['account_id']
        offset = 0
        if query.get('next_page_token'):
            record = self._page_tokens.get(query['next_page_token'])
            if record is None or record.get('account') != account or record['status'] != status or (
                    self._clock() >= record['expires_at']):
                return zoom_error(400, 300, 'Invalid next_page_token.')
            offset = record['offset']
        users = [u for u in self._users.values() if u['account_id'] == account] if status == 'active' else []
        page = users[offset:offset + size]
        next_token = ''
        if offset + size < len(users):
            next_token = secrets.token_urlsafe(24)
            self._page_tokens[next_token] = {'account': account, 'status': status, 'offset': offset + size,
                                             'expires_at': self._clock() + PAGE_TOKEN_TTL}
        return json_response(200, {'page_count': -(-len(users) // size), 'page_number': offset // size + 1,
                                   'page_size': size, 'total_records': len(users), 'next_page_token': next_token,
                                   'users': [self._user_view(u) for u in page]})

    # --- REST: meetings ---

    def _new_meeting_id(self) -> int:
        while True:
            meeting_id = 1_000_000_000 + secrets.randbelow(99_000_000_000)  # 10 or 11 digits, like Zoom's
            if meeting_id not in self._used_meeting_ids:
                self._used_meeting_ids.add(meeting_id)
                return meeting_id

    def _issue_start_url(self, meeting: _Meeting) -> None:
        zak = secrets.token_urlsafe(40)
        self._zaks[zak] = (meeting.data['id'], self._clock() + START_URL_TTL)
        meeting.data['start_url'] = f'{self.url}/s/{meeting.data["id"]}?zak={zak}'

    def _set_password(self, meeting: _Meeting, password: str) -> None:
        meeting.pwd = secrets.token_urlsafe(24)
        meeting.data.update(password=password, encrypted_password=meeting.pwd,
                            h323_password=''.join(secrets.choice(string.digits) for _ in range(6)),
                            join_url=f'{self.url}/j/{meeting.data["id"]}?pwd={meeting.pwd}')
        meeting.data['pstn_password'] = meeting.data['h323_password']

    def _create_meeting(self, request: Request, context: _Context, reference: str) -> Response:
        host = self._acting_for(context, reference)
        body = self._json_body(request)
        if isinstance(body.get('schedule_for'), str) and body['schedule_for']:
            host = self._acting_for(context, body['schedule_for'])
        self._count_create_update(host['id'])
        clean, errors = validate_meeting(body)
        if errors:
            return validation_failed(errors)
        meeting_type = clean.get('type', SCHEDULED)
        settings = {'host_video': False, 'participant_video': False, 'join_before_host': False,
                    'mute_upon_entry': False, 'approval_type': 2, 'waiting_room': False, 'audio': 'both',
                    'auto_recording': 'none', 'use_pmi': False, **clean.get('settings', {})}
        data = {'uuid': base64.b64encode(secrets.token_bytes(16)).decode(), 'id': self._new_meeting_id(),
                'host_id': host['id'], 'host_email': host['email'], 'topic': clean.get('topic', 'Zoom Meeting'),
                'type': meeting_type, 'status': 'waiting', 'start_time': None,
                'duration': clean.get('duration', 60), 'timezone': clean.get('timezone', host['timezone']),
                'agenda': clean.get('agenda', ''), 'created_at': _iso(self.now()), 'start_url': '', 'join_url': '',
                'password': '', 'settings': settings, 'pre_schedule': False}
        if host['id'] != context.user['id']:
            data['assistant_id'] = context.user['id']
        if meeting_type == 1:
            data['start_time'] = _iso(self.now())
        elif 'start_at' in clean:
            data['start_time'] = _iso(clean['start_at'])
        if meeting_type == 3 and data['start_time'] is None:
            del data['start_time']
        if 'recurrence' in clean:
            data['recurrence'] = clean['recurrence']
        meeting = _Meeting(data, '')
        self._set_password(meeting, clean.get('password') or ''.join(
            secrets.choice(string.ascii_letters + string.digits) for _ in range(6)))
        self._issue_start_url(meeting)
        self._meetings[data['id']] = meeting
        return json_response(201, data)

    def _list_meetings(self, request: Request, context: _Context, reference: str) -> Response:
        """A host's meetings, paged by ``next_page_token`` (15 minutes valid), soonest first."""
        if 'meeting:read:list_meetings' not in context.grant['scope'].split():
            return zoom_error(403, 4711, 'Invalid access token, does not contain scopes:[meeting:read:list_meetings].')
        host = self._acting_for(context, reference)
        query = request.query
        kind = query.get('type') or 'scheduled'
        page_size = query.get('page_size') or str(USERS_PAGE_SIZE)
        errors = []
        if kind not in MEETING_LIST_TYPES:
            errors.append({'field': 'type', 'message': f'type must be one of {", ".join(MEETING_LIST_TYPES)}.'})
        if not (page_size.isascii() and page_size.isdigit() and int(page_size) >= 1):
            errors.append({'field': 'page_size', 'message': 'page_size must be a positive integer.'})
        if errors:
            return validation_failed(errors)
        size = min(int(page_size), USERS_PAGE_MAX)
        offset = 0
        if query.get('next_page_token'):
            record = self._page_tokens.get(query['next_page_token'])
            if record is None or record.get('host') != host['id'] or record['status'] != kind or (
                    self._clock() >= record['expires_at']):
                return zoom_error(400, 300, 'Invalid next_page_token.')
            offset = record['offset']
        now = _iso(self.now())
        chosen = []
        for meeting in self._meetings.values():
            data = meeting.data
            if data['host_id'] != host['id'] or data['type'] == 1:
                continue  # instant meetings are never listed
            live = data['status'] == 'started'
            upcoming = live or (data.get('start_time') or now) >= now
            if kind == 'live' and not live or kind in ('upcoming', 'upcoming_meetings') and not upcoming or (
                    kind == 'previous_meetings' and upcoming):
                continue
            chosen.append(data)
        chosen.sort(key=lambda data: (data.get('start_time') or '', data['id']))
        page = chosen[offset:offset + size]
        next_token = ''
        if offset + size < len(chosen):
            next_token = secrets.token_urlsafe(24)
            self._page_tokens[next_token] = {'host': host['id'], 'status': kind, 'offset': offset + size,
                                             'expires_at': self._clock() + PAGE_TOKEN_TTL}
        listed = [{'uuid': d['uuid'], 'id': d['id'], 'host_id': d['host_id'], 'topic': d['topic'], 'type': d['type'],
                   **({'start_time': d['start_time']} if d.get('start_time') else {}), 'duration': d['duration'],
                   'timezone': d['timezone'], 'agenda': d['agenda'][:LISTED_AGENDA_MAX],
                   'created_at': d['created_at'], 'join_url': d['join_url']} for d in page]
        return json_response(200, {'page_size': size, 'total_records': len(chosen), 'next_page_token': next_token,
                                   'meetings': listed})

    def _get_meeting(self, request: Request, context: _Context, reference: str) -> Response:
        meeting = self._meeting(context, reference)
        self._issue_start_url(meeting)
        return json_response(200, meeting.data)

    def _update_meeting(self, request: Request, context: _Context, reference: str) -> Response:
        meeting = self._meeting(context, reference)
        body = self._json_body(request)
        self._count_create_update(meeting.data['host_id'])
        clean, errors = validate_meeting(body, current=meeting.data)
        new_type = clean.get('type', meeting.data['type'])
        if new_type == SCHEDULED and 'start_at' not in clean and not meeting.data.get('start_time') and not errors:
            errors.append({'field': 'start_time',
                           'message': 'start_time is required for a scheduled meeting (type 2).'})
        if errors:
            return validation_failed(errors)
        data = meeting.data
        for name in ('type', 'topic', 'agenda', 'timezone', 'duration', 'recurrence'):
            if name in clean:
                data[name] = clean[name]
        if 'start_at' in clean:
            data['start_time'] = _iso(clean['start_at'])
        if 'settings' in clean:
            data['settings'] = {**data['settings'], **clean['settings']}
        if 'password' in clean and clean['password'] != data['password']:
            self._set_password(meeting, clean['password'])
        return Response(204)

    def _delete_meeting(self, request: Request, context: _Context, reference: str) -> Response:
        meeting = self._meeting(context, reference)
        bad = [name for name in ('schedule_for_reminder', 'cancel_meeting_reminder')
               if name in request.query and request.query[name] not in ('true', 'false')]
        if bad:
            return validation_failed([{'field': name, 'message': f'{name} must be true or false.'} for name in bad])
        del self._meetings[meeting.data['id']]
        for zak in [z for z, (mid, _) in self._zaks.items() if mid == meeting.data['id']]:
            del self._zaks[zak]
        return Response(204)

    # --- REST: registrants ---

    def _registrant_view(self, meeting: _Meeting, registrant: dict[str, Any], *, always_url: bool = False
                         ) -> dict[str, Any]:
        view = {k: registrant[k] for k in ('id', 'email', 'first_name', 'last_name', 'status', 'create_time')}
        if always_url or registrant['status'] == 'approved':
            view['join_url'] = f'{self.url}/j/{meeting.data["id"]}?tk={registrant["tk"]}'
        return view

    def _add_registrant(self, request: Request, context: _Context, reference: str) -> Response:
        meeting = self._meeting(context, reference)
        if meeting.data['settings'].get('approval_type') not in (0, 1):
            return zoom_error(400, 3000, f'Registration has not been enabled for this meeting: {reference}.')
        body = self._json_body(request)
        errors = []
        email = body.get('email')
        if not (isinstance(email, str) and EMAIL_RE.fullmatch(email)):
            errors.append({'field': 'email', 'message': 'A valid email is required.'})
        if not (isinstance(body.get('first_name'), str) and body['first_name'].strip()):
            errors.append({'field': 'first_name', 'message': 'first_name is required.'})
        if 'last_name' in body and not isinstance(body['last_name'], str):
            errors.append({'field': 'last_name', 'message': 'last_name must be a string.'})
        if errors:
            return validation_failed(errors)
        registrant = next((r for r in meeting.registrants if r['email'].lower() == email.lower()), None)
        if registrant is None:
            registrant = {'id': secrets.token_urlsafe(16)[:22], 'email': email, 'first_name': body['first_name'],
                          'last_name': body.get('last_name', ''),
                          'status': 'approved' if meeting.data['settings']['approval_type'] == 0 else 'pending',
                          'create_time': _iso(self.now()), 'tk': secrets.token_urlsafe(32)}
            meeting.registrants.append(registrant)
        view = self._registrant_view(meeting, registrant)
        answer = {'id': meeting.data['id'], 'registrant_id': registrant['id'], 'topic': meeting.data['topic'],
                  'start_time': meeting.data.get('start_time')}
        if 'join_url' in view:
            answer['join_url'] = view['join_url']
        return json_response(201, answer)

    def _update_registrant_status(self, request: Request, context: _Context, reference: str) -> Response:
        meeting = self._meeting(context, reference)
        body = self._json_body(request)
        action, items = body.get('action'), body.get('registrants')
        errors, chosen = [], []
        if action not in ('approve', 'deny', 'cancel'):
            errors.append({'field': 'action', 'message': 'action must be approve, deny or cancel.'})
        if not isinstance(items, list) or not items:
            errors.append({'field': 'registrants', 'message': 'registrants must be a non-empty list.'})
            items = []
        for index, item in enumerate(items):
            wanted_id = item.get('id') if isinstance(item, dict) else None
            wanted_email = item.get('email') if isinstance(item, dict) else None
            found = next((r for r in meeting.registrants if (isinstance(wanted_id, str) and r['id'] == wanted_id) or (
                isinstance(wanted_email, str) and r['email'].lower() == wanted_email.lower())), None)
            if found is None:
                errors.append({'field': f'registrants[{index}]', 'message': 'No such registrant for this meeting.'})
            else:
                chosen.append(found)
        if errors:
            return validation_failed(errors)
        for registrant in chosen:
            registrant['status'] = {'approve': 'approved', 'deny': 'denied', 'cancel': 'cancelled'}[action]
        return Response(204)

    def _list_registrants(self, request: Request, context: _Context, reference: str) -> Response:
        meeting = self._meeting(context, reference)
        status = request.query.get('status') or 'approved'
        if status not in ('pending', 'approved', 'denied'):
            return validation_failed([{'field': 'status', 'message': 'status must be pending, approved or denied.'}])
        chosen = [self._registrant_view(meeting, r) for r in meeting.registrants if r['status'] == status]
        return json_response(200, {'page_size': USERS_PAGE_SIZE, 'total_records': len(chosen),
                                   'next_page_token': '', 'registrants': chosen})

    # --- the browser landings of join_url and start_url ---

    def _join_page(self, request: Request, reference: str) -> Response:
        meeting = self._meetings.get(int(reference)) if reference.isdigit() and reference.isascii() else None
        if meeting is None:
            return html_response(404, pages.meeting_notice('Meeting not found',
                                                           f'Meeting {reference} is not found or has expired.'))
        tk, pwd = request.query.get('tk'), request.query.get('pwd')
        if tk:
            registrant = next((r for r in meeting.registrants if hmac.compare_digest(r['tk'], tk)), None)
            if registrant is None or registrant['status'] != 'approved':
                return html_response(403, pages.meeting_notice(
                    'Invalid registration link', 'This registration was cancelled, denied or not approved.'))
            who = f'{registrant["first_name"]} {registrant["last_name"]}'.strip() + f' <{registrant["email"]}>'
        elif pwd and hmac.compare_digest(pwd.encode(), meeting.pwd.encode()):
            if meeting.data['settings'].get('approval_type') in APPROVAL_TYPES[:2]:
                return html_response(403, pages.meeting_notice(
                    'Registration required', 'This meeting requires registration: use your own join link.'))
            who = 'guest'
        else:
            return html_response(403, pages.meeting_notice('Wrong passcode', 'The passcode in this link is wrong.'))
        return html_response(200, pages.meeting_notice(f'Zoom sandbox — joined meeting {reference} as {who}',
                                                       f'Topic: {meeting.data["topic"]}'))

    def _start_page(self, request: Request, reference: str) -> Response:
        meeting = self._meetings.get(int(reference)) if reference.isdigit() and reference.isascii() else None
        if meeting is None:
            return html_response(404, pages.meeting_notice('Meeting not found',
                                                           f'Meeting {reference} is not found or has expired.'))
        issued = self._zaks.get(request.query.get('zak', ''))
        if issued is None or issued[0] != meeting.data['id'] or self._clock() >= issued[1]:
            return html_response(403, pages.meeting_notice(
                'Zoom sandbox — start link expired',
                'This start link expired (2 hours after it was issued) or is not valid. '
                'Get a fresh one from GET /v2/meetings/{id}.'))
        return html_response(200, pages.meeting_notice(f'Zoom sandbox — started meeting {reference} as host',
                                                       f'Topic: {meeting.data["topic"]}'))

    def _index(self) -> Response:
        with self._lock:
            users = sorted(self._users.values(), key=lambda u: (u['account_id'], ROLES.index(u['role'])))
            text = pages.index(url=self.url, client_id=self.client_id, redirect_uris=list(self._redirect_uris),
                               users=users, meetings=[m.data for m in self._meetings.values()],
                               now=_iso(self.now()))
        return html_response(200, text)


LOCALIZED = {  # Zoom localizes messages (a 3001 was seen in Russian); only `code` is stable
    'Invalid access token.': 'Недействительный токен доступа.',
    'Access token is expired.': 'Срок действия токена доступа истёк.',
    'Validation Failed.': 'Ошибка проверки.',
    'No permission.': 'Нет разрешения.',
    'Invalid next_page_token.': 'Недопустимый next_page_token.',
}


def _localized(response: Response) -> Response:
    """``response`` with its Zoom error message in Russian, as a localized Zoom account may answer."""
    if response.status < 400 or not response.headers.get('Content-Type', '').startswith('application/json'):
        return response
    body = json.loads(response.body)
    if not isinstance(body, dict) or not is_int(body.get('code')) or not isinstance(body.get('message'), str):
        return response
    body['message'] = LOCALIZED.get(body['message']) or f'Запрос отклонён (код {body["code"]}).'
    return json_response(response.status, body, {k: v for k, v in response.headers.items() if k != 'Content-Type'})
