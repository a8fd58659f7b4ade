"""A local Google: OAuth 2.0 for web server apps (authorize with granular consent, token, refresh,
revoke, an OpenID Connect id_token) and the Calendar v3 event calls meetbridge makes to get a Google Meet,
answering and refusing as Google does (docs: provider-apis.md section 3, pitfall 30; interfaces15.md).

The lifecycle, clock, faults and calls log are the shared ``infra.sandboxes.sandbox.Sandbox``'s. The
sandbox clock is real time plus whatever ``advance()`` added; code and access-token expiry follow it.
What each rule stands on, and what is not modelled, is in this package's README.md.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from ..sandbox import Reject, Sandbox
from ..web import Request, Response, first_values, html_response, json_response, redirect, with_query
from . import events as cal
from . import pages
from .control import ROUTES as CONTROL_ROUTES
from ..oauth import PKCE_RE, s256_challenge
from .tokens import (ID_TOKEN_TTL, ISSUER, NO_STORE, TOKEN_JSON, id_token, new_access_token, new_code, new_refresh_token,
                     oauth_error)

OPERATIONS = ('authorize', 'token', 'revoke', 'insert_event', 'get_event', 'patch_event', 'delete_event',
              'list_events')
PAGE_OPERATIONS = ('meet_page',)  # the browser landing of hangoutLink; logged, but not a fault target
AUTHORIZE_PATH = '/o/oauth2/v2/auth'
EMAIL_SCOPE = 'https://www.googleapis.com/auth/userinfo.email'
PROFILE_SCOPE = 'https://www.googleapis.com/auth/userinfo.profile'
CALENDAR_OWNED_SCOPE = 'https://www.googleapis.com/auth/calendar.events.owned'
# Each covers writing events on the user's primary calendar; the read-only ones only reading them.
CALENDAR_WRITE_SCOPES = (CALENDAR_OWNED_SCOPE, 'https://www.googleapis.com/auth/calendar.events',
                         'https://www.googleapis.com/auth/calendar')
CALENDAR_READ_SCOPES = CALENDAR_WRITE_SCOPES + ('https://www.googleapis.com/auth/calendar.events.owned.readonly',
                                                'https://www.googleapis.com/auth/calendar.events.readonly',
                                                'https://www.googleapis.com/auth/calendar.readonly')
SCOPE_ALIASES = {'email': EMAIL_SCOPE, 'profile': PROFILE_SCOPE}  # the short names Google also takes
KNOWN_SCOPES = ('openid', EMAIL_SCOPE, PROFILE_SCOPE) + CALENDAR_READ_SCOPES
REFRESH_TOKENS_PER_GRANT = 100  # Google's limit per user per client; the oldest dies silently
PROMPTS = ('none', 'consent', 'select_account')
SECRET_QUERY_NAMES = ('token', 'code', 'access_token', 'refresh_token', 'client_secret', 'code_verifier')
REDACTED = '[redacted]'
SEED_USERS = (
    ('105000000000000000001', 'owner@example.com', 'Olive Owner', True),
    ('105000000000000000002', 'dana@example.com', 'Dana Reyes', True),
    ('105000000000000000003', 'nomeet@example.com', 'Noel NoMeet', False),
)
WWW_AUTHENTICATE = 'Bearer realm="https://accounts.google.com/", error="invalid_token"'
WWW_AUTHENTICATE_SCOPE = ('Bearer realm="https://accounts.google.com/", error="insufficient_scope", '
                          f'scope="{CALENDAR_OWNED_SCOPE}"')


class _PageError(Exception):
    """An authorize problem Google shows on its own page (``Error 400: invalid_request``), never redirected."""

    def __init__(self, status: int, error: str, message: str, details: str = ''):
        super().__init__(f'Error {status}: {error}: {message}' + (f' ({details})' if details else ''))
        self.status, self.error, self.message, self.details = status, error, message, details


@dataclass
class _Authorization:
    """A checked authorize request."""
    redirect_uri: str
    scopes: list[str]  # canonical (email -> userinfo.email), in the order asked
    short_names: list[str]  # `email`/`profile` as asked: the redirect's `scope` echoes them too
    state: str | None
    offline: bool
    prompt: list[str]
    challenge: str | None
    method: str | None
    login_hint: str | None


def _refusal(error: str, checked: _Authorization) -> dict[str, str]:
    """The query of a redirect back to the app with ``error`` (and the state, when one was sent)."""
    answer = {'error': error}
    if checked.state is not None:
        answer['state'] = checked.state
    return answer


class GoogleSandbox(Sandbox):
    """Google OAuth 2.0 + Calendar events on a loopback port. ``start()``, use ``authorize_url``,
    ``token_url``, ``revoke_url`` and ``calendar_base``, ``stop()``."""

    NAME = 'Google'
    OPERATIONS = OPERATIONS
    CONTROL_ROUTES = CONTROL_ROUTES
    HEAD_AS_GET = True

    def __init__(self, client_id: str = 'sandbox-google-client-id',
                 client_secret: str = 'sandbox-google-client-secret', redirect_uris: tuple[str, ...] = (),
                 host: str = '127.0.0.1', port: int = 0, access_token_ttl: int = 3599, code_ttl: int = 600, *,
                 seed: bool = True):
        super().__init__(client_id, client_secret, redirect_uris, host, port)
        self.access_token_ttl = access_token_ttl
        self.code_ttl = code_ttl
        self.app_name = 'meetbridge'
        self._users: dict[str, dict[str, Any]] = {}
        self._consents: dict[str, set[str]] = {}  # user id -> the scopes the user has granted this client
        self._codes: dict[str, dict[str, Any]] = {}
        self._refresh_tokens: dict[str, dict[str, Any]] = {}  # in issue order (the cap drops the oldest)
        self._refreshes: Counter = Counter()
        self._events: dict[tuple[str, str], dict[str, Any]] = {}  # (owner user id, event id) -> event
        self._request_ids: dict[str, set[str]] = {}  # user id -> conference requestIds its calendar has seen
        self._pending_reads = 0
        if seed:
            for user_id, email, name, meet_enabled in SEED_USERS:
                self.add_user(user_id, email, name, meet_enabled=meet_enabled)

    # --- addresses ---

    @property
    def authorize_url(self) -> str:
        return self.url + AUTHORIZE_PATH

    @property
    def token_url(self) -> str:
        return self.url + '/token'

    @property
    def revoke_url(self) -> str:
        return self.url + '/revoke'

    @property
    def calendar_base(self) -> str:
        return self.url + '/calendar/v3'

    # --- set-up and inspection ---

    def allow_redirect_uri(self, uri: str) -> None:
        if not isinstance(uri, str) or not uri:
            raise ValueError('uri must be a non-empty string')
        super().allow_redirect_uri(uri)

    def add_user(self, user_id: str, email: str, name: str = '', meet_enabled: bool = True) -> dict[str, Any]:
        """A Google account: ``user_id`` is its ``sub`` (digits); ``meet_enabled=False`` is an account whose
        Meet is switched off (its new conferences answer ``failure``)."""
        if not isinstance(user_id, str) or not user_id.isascii() or not user_id.isdigit() or len(user_id) > 255:
            raise ValueError(f'user_id must be a string of digits (Google\'s sub), not {user_id!r}')
        if not isinstance(email, str) or email.count('@') != 1 or not all(email.split('@')):
            raise ValueError(f'{email!r} is not an email address')
        if not isinstance(name, str) or not isinstance(meet_enabled, bool):
            raise ValueError('name must be a string and meet_enabled a bool')
        with self._lock:
            if user_id in self._users or any(u['email'].lower() == email.lower() for u in self._users.values()):
                raise ValueError(f'user {user_id!r} or email {email!r} exists already')
            user = {'id': user_id, 'email': email, 'name': name, 'meet_enabled': meet_enabled}
            self._users[user_id] = user
            return dict(user)

    def set_meet_enabled(self, user_id: str, enabled: bool) -> None:
        """The user's Workspace admin switches Meet on or off: conferences asked for from now on succeed or fail."""
        with self._lock:
            self._users[user_id]['meet_enabled'] = bool(enabled)

    @property
    def users(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {user_id: dict(user) for user_id, user in self._users.items()}

    @property
    def events(self) -> dict[str, dict[str, Any]]:
        """Event id -> the event as Google would answer it now, plus ``owner`` (its calendar's user id)."""
        with self._lock:
            return {event['id']: {**self._present(event), 'owner': event['owner']} for event in self._events.values()}

    def refresh_count(self, user_id: str | None = None) -> int:
        """How many refresh grants succeeded (for ``user_id``, or for everyone)."""
        with self._lock:
            return sum(self._refreshes.values()) if user_id is None else self._refreshes[user_id]

    def grants(self, user_id: str | None = None) -> list[dict[str, Any]]:
        """The live refresh tokens (without their values): ``{user_id, scope, issued_at}`` each, oldest first."""
        with self._lock:
            return [{'user_id': record['user_id'], 'scope': ' '.join(record['scopes']),
                     'issued_at': record['issued_at']}
                    for record in self._refresh_tokens.values() if user_id is None or record['user_id'] == user_id]

    def revoke_grants(self, user_id: str) -> None:
        """The user removes the app in their Google account: refresh tokens answer ``invalid_grant``, access
        tokens 401, and the next authorization is a first grant again."""
        with self._lock:
            if user_id not in self._users:
                raise ValueError(f'unknown user {user_id!r}')
            self._drop_grant(user_id)

    def remove_event(self, event_id: str) -> None:
        """The host deletes the event in Google Calendar: it answers ``status: cancelled`` from now on."""
        with self._lock:
            found = [event for (_, stored_id), event in self._events.items() if stored_id == event_id]
            if not found:
                raise ValueError(f'no event {event_id!r}')
            for event in found:
                if event['status'] != 'cancelled':
                    event['status'] = 'cancelled'
                    event['updated'] = self._clock()

    def set_conference_pending(self, reads: int) -> None:
        """Each conference created from now on answers ``pending`` until ``reads`` GETs of its event have
        answered so (0: ``success`` at once, Google's usual case)."""
        if not isinstance(reads, int) or isinstance(reads, bool) or reads < 0:
            raise ValueError('reads must be a non-negative integer')
        with self._lock:
            self._pending_reads = reads

    @property
    def conference_pending_reads(self) -> int:
        with self._lock:
            return self._pending_reads

    def rate_limit(self, operation: str, times: int = 1, retry_after: int | None = None, status: int = 429) -> None:
        """The next ``times`` requests of ``operation`` answer Google's ``rateLimitExceeded`` (403 or 429),
        with ``Retry-After`` when given."""
        if status not in (403, 429):
            raise ValueError('a rate limit answers 403 or 429')
        if retry_after is not None and (not isinstance(retry_after, int) or isinstance(retry_after, bool)
                                        or retry_after < 0):
            raise ValueError('retry_after must be a non-negative integer of seconds')
        headers = {} if retry_after is None else {'Retry-After': str(retry_after)}
        self.fail(operation, status, cal.rate_limit_body(status), headers, times)

    # --- the consent step without a browser ---

    def authorize(self, user_id: str, auth_uri: str, accept: bool = True, grant_calendar: bool = True
                  ) -> dict[str, str]:
        """The query of the redirect back to the app after ``user_id`` answered the consent page of
        ``auth_uri``: ``{state, code, scope, authuser, prompt}`` on Allow (``grant_calendar=False``: the
        calendar checkbox unticked), ``{error: access_denied, state}`` on Cancel (``accept=False``).
        Raises ``ValueError`` where Google shows its own error page instead."""
        parts = urlsplit(auth_uri)
        if parts.path != AUTHORIZE_PATH:
            raise ValueError(f'not an authorize URI of this sandbox: {auth_uri!r}')
        with self._lock:
            try:
                checked = self._check_authorize(first_values(parts.query))
            except _PageError as exc:
                raise ValueError(str(exc)) from None
            if 'none' in checked.prompt:  # the sandbox keeps no signed-in browser session
                return _refusal('interaction_required', checked)
            if not accept:
                return _refusal('access_denied', checked)
            user = self._users.get(user_id)
            if user is None:
                raise ValueError(f'unknown user {user_id!r}')
            return self._consented(checked, user, grant_calendar)

    # --- dispatch ---

    ROUTES = (
        ('GET', ('o', 'oauth2', 'v2', 'auth'), 'authorize', '_authorize_page'),
        ('POST', ('o', 'oauth2', 'v2', 'auth', 'decision'), 'authorize', '_authorize_decision'),
        ('POST', ('token',), 'token', '_token'),
        ('POST', ('revoke',), 'revoke', '_revoke'),
        ('POST', ('calendar', 'v3', 'calendars', '*', 'events'), 'insert_event', '_insert_event'),
        ('GET', ('calendar', 'v3', 'calendars', '*', 'events'), 'list_events', '_list_events'),
        ('GET', ('calendar', 'v3', 'calendars', '*', 'events', '*'), 'get_event', '_get_event'),
        ('PATCH', ('calendar', 'v3', 'calendars', '*', 'events', '*'), 'patch_event', '_patch_event'),
        ('DELETE', ('calendar', 'v3', 'calendars', '*', 'events', '*'), 'delete_event', '_delete_event'),
        ('GET', ('meet', '*'), 'meet_page', '_meet_page'),
    )

    def _run(self, route: tuple, request: Request, params: list[str]) -> Response:
        handler = getattr(self, route[3])
        if route[1][0] != 'calendar':
            return handler(request, *params)
        user, scopes = self._authenticate(request)
        allowed = CALENDAR_READ_SCOPES if request.method == 'GET' else CALENDAR_WRITE_SCOPES
        if not scopes & set(allowed):
            raise Reject(cal.calendar_error(403, 'insufficientPermissions',
                                            top_message='Request had insufficient authentication scopes.',
                                            headers={'WWW-Authenticate': WWW_AUTHENTICATE_SCOPE}))
        calendar_id, *rest = params
        if calendar_id != 'primary':
            raise Reject(cal.calendar_error(404, 'notFound'))
        try:
            return handler(request, user, *rest)
        except cal.Invalid as exc:
            return cal.calendar_error(exc.status, exc.reason, exc.message, **exc.extra)

    def _log(self, request: Request, operation: str | None, status: int) -> None:
        query = {name: REDACTED if name in SECRET_QUERY_NAMES else value for name, value in request.query.items()}
        self._calls.append({'method': request.method, 'path': request.path, 'operation': operation,
                            'status': status, 'query': query})

    def _unrouted(self, request: Request, path_known: bool) -> Response:
        if request.segments[:2] == ['calendar', 'v3']:
            if path_known:
                return cal.calendar_error(405, 'httpMethodNotAllowed', 'Method Not Allowed')
            return cal.calendar_error(404, 'notFound')
        status = 405 if path_known else 404
        return html_response(status, pages.notice(f'Error {status}', f'The Google sandbox has no {request.method} '
                                                                      f'{request.path}.'))

    def _plain_error(self, status: int, message: str) -> Response:
        return cal.calendar_error(status, cal.STATUS_REASONS.get(status, 'badRequest'), message)

    def _injected_error(self, status: int, operation: str, request: Request) -> Response:
        if operation == 'authorize':
            return html_response(status, pages.notice('Something went wrong',
                                                      'Sorry, something went wrong there. Try again. '
                                                      '(Injected fault, sandbox.)'))
        if operation in ('token', 'revoke'):
            error = 'temporarily_unavailable' if status in (429, 503) else (
                'internal_failure' if status >= 500 else 'invalid_request')
            return oauth_error(status, error, 'Injected fault (sandbox).')
        reason = 'rateLimitExceeded' if status in (403, 429) else cal.STATUS_REASONS.get(status, 'badRequest')
        if reason == 'rateLimitExceeded':
            return json_response(status, cal.rate_limit_body(status), content_type=cal.CALENDAR_JSON)
        return cal.calendar_error(status, reason, 'Injected fault (sandbox).')

    def _json_type(self, operation: str) -> str:
        return TOKEN_JSON if operation in ('token', 'revoke') else cal.CALENDAR_JSON

    # --- OAuth: authorize ---

    def _check_authorize(self, params: dict[str, str]) -> _Authorization:
        """The checks of the authorize step, in Google's order; every failure is Google's own page."""
        def invalid(message: str) -> _PageError:
            return _PageError(400, 'invalid_request', 'You can\u2019t sign in to this app because it doesn\u2019t '
                              'comply with Google\u2019s OAuth 2.0 policy.', message)

        client_id = params.get('client_id', '')
        if not client_id:
            raise invalid('Missing required parameter: client_id')
        if client_id != self.client_id:
            raise _PageError(401, 'invalid_client', 'The OAuth client was not found.', f'client_id={client_id}')
        redirect_uri = params.get('redirect_uri', '')
        if not redirect_uri:
            raise invalid('Missing required parameter: redirect_uri')
        if redirect_uri not in self._redirect_uris:
            raise _PageError(400, 'redirect_uri_mismatch', 'You can\u2019t sign in to this app because it doesn\u2019t '
                             'comply with Google\u2019s OAuth 2.0 policy. If you\u2019re the app developer, register '
                             'the redirect URI in the Google Cloud Console.', f'redirect_uri={redirect_uri}')
        response_type = params.get('response_type', '')
        if not response_type:
            raise invalid('Missing required parameter: response_type')
        if response_type != 'code':
            raise invalid(f'Invalid response_type: {response_type} (the sandbox models the code flow only)')
        asked = params.get('scope', '').split()
        if not asked:
            raise invalid('Missing required parameter: scope')
        unknown = [s for s in asked if SCOPE_ALIASES.get(s, s) not in KNOWN_SCOPES]
        if unknown:
            raise _PageError(400, 'invalid_scope', 'Some requested scopes were invalid.',
                             f'invalid={unknown}')
        scopes = list(dict.fromkeys(SCOPE_ALIASES.get(s, s) for s in asked))
        access_type = params.get('access_type', 'online')
        if access_type not in ('online', 'offline'):
            raise invalid(f'Invalid access_type: {access_type}')
        prompt = params.get('prompt', '').split()
        if any(p not in PROMPTS for p in prompt) or ('none' in prompt and len(prompt) > 1) or (
                'prompt' in params and not prompt):
            raise invalid(f'Invalid prompt: {params["prompt"]}')
        if params.get('include_granted_scopes', 'false') not in ('true', 'false'):
            raise invalid(f'Invalid include_granted_scopes: {params["include_granted_scopes"]}')
        challenge, method = params.get('code_challenge'), params.get('code_challenge_method')
        if challenge is None and method is not None:
            raise invalid('Missing code_challenge (code_challenge_method given without it)')
        if challenge is not None:
            method = method or 'plain'
            if method not in ('S256', 'plain'):
                raise invalid(f'Invalid code_challenge_method: {method}')
            if not PKCE_RE.fullmatch(challenge):
                raise invalid('Invalid code_challenge: 43 to 128 characters of [A-Za-z0-9._~-]')
        return _Authorization(redirect_uri=redirect_uri, scopes=scopes,
                              short_names=[s for s in dict.fromkeys(asked) if s in SCOPE_ALIASES],
                              state=params.get('state'), offline=access_type == 'offline', prompt=prompt,
                              challenge=challenge, method=method if challenge is not None else None,
                              login_hint=params.get('login_hint'))

    def _consented(self, checked: _Authorization, user: dict[str, Any], grant_calendar: bool) -> dict[str, str]:
        """The user allowed: a code for what was granted (the calendar scopes only with ``grant_calendar``)."""
        granted = [s for s in checked.scopes if grant_calendar or s not in CALENDAR_READ_SCOPES]
        previous = self._consents.get(user['id'])
        # A refresh token comes with the first grant of this user to this client, or when consent is asked again.
        issue_refresh = checked.offline and (previous is None or 'consent' in checked.prompt)
        consent_shown = previous is None or 'consent' in checked.prompt or not set(granted) <= previous
        self._consents[user['id']] = (previous or set()) | set(granted)
        code = new_code()
        self._codes[code] = {'user_id': user['id'], 'redirect_uri': checked.redirect_uri, 'scopes': granted,
                             'challenge': checked.challenge, 'method': checked.method,
                             'issue_refresh': issue_refresh, 'expires_at': self._clock() + self.code_ttl,
                             'used': False, 'issued_refresh': None, 'issued_access': []}
        answer: dict[str, str] = {}
        if checked.state is not None:
            answer['state'] = checked.state
        short = [s for s in checked.short_names if SCOPE_ALIASES[s] in granted]
        answer.update(code=code, scope=' '.join(short + granted), authuser='0',
                      prompt='consent' if consent_shown else 'none')
        return answer

    def _error_page(self, exc: _PageError) -> Response:
        return html_response(exc.status, pages.error_page(exc.status, exc.error, exc.message, exc.details))

    def _authorize_page(self, request: Request) -> Response:
        try:
            checked = self._check_authorize(request.query)
        except _PageError as exc:
            return self._error_page(exc)
        if 'none' in checked.prompt:  # the sandbox keeps no signed-in browser session
            return redirect(with_query(checked.redirect_uri, _refusal('interaction_required', checked)))
        hinted = next((u['id'] for u in self._users.values()
                       if checked.login_hint in (u['id'], u['email'])), None)
        calendar_scopes = [s for s in checked.scopes if s in CALENDAR_READ_SCOPES]
        listed = [s for s in checked.scopes if s not in CALENDAR_READ_SCOPES]
        text = pages.consent(app_name=self.app_name, action=AUTHORIZE_PATH + '/decision',
                             users=list(self._users.values()), selected=hinted, request=urlsplit(request.target).query,
                             scopes=listed, calendar_scopes=calendar_scopes, redirect_uri=checked.redirect_uri)
        return html_response(200, text, {'Cache-Control': 'no-store'})

    def _authorize_decision(self, request: Request) -> Response:
        form = self._form(request)
        try:
            checked = self._check_authorize(first_values(form.get('request', '')))
        except _PageError as exc:
            return self._error_page(exc)
        if form.get('decision') != 'allow':
            return redirect(with_query(checked.redirect_uri, _refusal('access_denied', checked)))
        user = self._users.get(form.get('user_id', ''))
        if user is None:
            return html_response(400, pages.notice('Choose an account', 'No such account in the Google sandbox.'))
        answer = self._consented(checked, user, form.get('grant_calendar') == 'on')
        return redirect(with_query(checked.redirect_uri, answer))

    # --- OAuth: token and revoke ---

    def _form(self, request: Request) -> dict[str, str]:
        kind = request.header('Content-Type').split(';')[0].strip().lower()
        if request.body and kind != 'application/x-www-form-urlencoded':
            raise Reject(oauth_error(400, 'invalid_request', 'Invalid content type: the body must be '
                                     'application/x-www-form-urlencoded.'))
        try:
            return first_values(request.body.decode('utf-8'))
        except UnicodeDecodeError:
            raise Reject(oauth_error(400, 'invalid_request', 'Bad Request')) from None

    def _client_problem(self, request: Request, params: dict[str, str]) -> Response | None:
        """None when the client authenticated (client_secret_post or client_secret_basic), else Google's answer."""
        basic_id = basic_secret = None
        scheme, _, encoded = request.header('Authorization').strip().partition(' ')
        if scheme.lower() == 'basic':
            try:
                user_part, sep, secret_part = base64.b64decode(encoded.strip(), validate=True).decode().partition(':')
            except (binascii.Error, ValueError):
                sep = ''
            if not sep:
                return oauth_error(401, 'invalid_client', 'Unauthorized')
            basic_id, basic_secret = unquote(user_part), unquote(secret_part)
        client_id = params.get('client_id') or basic_id
        if not client_id:
            return oauth_error(400, 'invalid_request', 'Could not determine client ID from request.')
        if basic_id is not None and params.get('client_id') not in (None, basic_id):
            return oauth_error(401, 'invalid_client', 'Unauthorized')
        if client_id != self.client_id:
            return oauth_error(401, 'invalid_client', 'The OAuth client was not found.')
        given = [s for s in (params.get('client_secret'), basic_secret) if s is not None]
        if not given or not all(hmac.compare_digest(s.encode(), self.client_secret.encode()) for s in given):
            return oauth_error(401, 'invalid_client', 'Unauthorized')
        return None

    def _token(self, request: Request) -> Response:
        params = self._form(request)
        problem = self._client_problem(request, params)
        if problem is not None:
            return problem
        grant_type = params.get('grant_type', '')
        if not grant_type:
            return oauth_error(400, 'invalid_request', 'Missing required parameter: grant_type')
        if grant_type == 'authorization_code':
            return self._grant_code(params)
        if grant_type == 'refresh_token':
            return self._grant_refresh(params)
        return oauth_error(400, 'unsupported_grant_type', f'Invalid grant_type: {grant_type}')

    def _grant_code(self, params: dict[str, str]) -> Response:
        code = params.get('code', '')
        if not code:
            return oauth_error(400, 'invalid_request', 'Missing required parameter: code')
        record = self._codes.get(code)
        if record is None or self._clock() >= record['expires_at']:
            return oauth_error(400, 'invalid_grant', 'Bad Request')
        if record['used']:
            self._revoke_issued(record)  # a replayed code may be a stolen one (RFC 6749 section 4.1.2)
            return oauth_error(400, 'invalid_grant', 'Bad Request')
        record['used'] = True  # one redemption attempt per code: a failed one burns it too
        redirect_uri = params.get('redirect_uri', '')
        if not redirect_uri:
            return oauth_error(400, 'invalid_request', 'Missing parameter: redirect_uri')
        if redirect_uri != record['redirect_uri']:
            return oauth_error(400, 'redirect_uri_mismatch', 'Bad Request')
        verifier = params.get('code_verifier')
        if record['challenge'] is not None:
            if not verifier:
                return oauth_error(400, 'invalid_grant', 'Missing code verifier.')
            if not PKCE_RE.fullmatch(verifier):  # RFC 7636 §4.1: 43-128 unreserved characters
                return oauth_error(400, 'invalid_grant', 'Invalid code verifier.')
            computed = s256_challenge(verifier) if record['method'] == 'S256' else verifier
            if not hmac.compare_digest(computed.encode(), record['challenge'].encode()):
                return oauth_error(400, 'invalid_grant', 'Invalid code verifier.')
        elif verifier is not None:
            return oauth_error(400, 'invalid_grant', 'code_verifier or verifier is not needed.')
        user = self._users[record['user_id']]
        refresh_token = self._new_refresh_token(user, record['scopes']) if record['issue_refresh'] else None
        body, access_token = self._token_body(user, record['scopes'], refresh_token)
        record['issued_refresh'] = refresh_token
        record['issued_access'].append(access_token)
        if refresh_token is not None:
            body['refresh_token'] = refresh_token
        return json_response(200, body, NO_STORE, content_type=TOKEN_JSON)

    def _grant_refresh(self, params: dict[str, str]) -> Response:
        refresh_token = params.get('refresh_token', '')
        if not refresh_token:
            return oauth_error(400, 'invalid_request', 'Missing required parameter: refresh_token')
        record = self._refresh_tokens.get(refresh_token)
        if record is None:
            return oauth_error(400, 'invalid_grant', 'Token has been expired or revoked.')
        user = self._users[record['user_id']]
        self._refreshes[user['id']] += 1
        body, _ = self._token_body(user, record['scopes'], refresh_token)
        return json_response(200, body, NO_STORE, content_type=TOKEN_JSON)  # Google's refresh tokens do not rotate

    def _new_refresh_token(self, user: dict[str, Any], scopes: list[str]) -> str:
        mine = [token for token, record in self._refresh_tokens.items() if record['user_id'] == user['id']]
        for token in mine[:max(0, len(mine) - REFRESH_TOKENS_PER_GRANT + 1)]:
            del self._refresh_tokens[token]
        token = new_refresh_token()
        self._refresh_tokens[token] = {'user_id': user['id'], 'scopes': list(scopes),
                                       'issued_at': cal.rfc3339(self.now())}
        return token

    def _token_body(self, user: dict[str, Any], scopes: list[str], refresh_token: str | None
                    ) -> tuple[dict[str, Any], str]:
        now = self._clock()
        access_token = new_access_token()
        self._access_tokens[access_token] = {'user_id': user['id'], 'scopes': frozenset(scopes),
                                             'expires_at': now + self.access_token_ttl,
                                             'refresh_token': refresh_token}
        body: dict[str, Any] = {'access_token': access_token, 'expires_in': self.access_token_ttl,
                                'scope': ' '.join(scopes), 'token_type': 'Bearer'}
        if 'openid' in scopes:
            claims: dict[str, Any] = {'iss': ISSUER, 'azp': self.client_id, 'aud': self.client_id, 'sub': user['id']}
            if EMAIL_SCOPE in scopes:
                claims.update(email=user['email'], email_verified=True)
            if PROFILE_SCOPE in scopes and user['name']:
                claims['name'] = user['name']
            claims.update(iat=int(now), exp=int(now) + ID_TOKEN_TTL)
            body['id_token'] = id_token(claims)
        return body, access_token

    def _revoke_issued(self, record: dict[str, Any]) -> None:
        if record['issued_refresh'] is not None:
            self._refresh_tokens.pop(record['issued_refresh'], None)
            for token, access in list(self._access_tokens.items()):
                if access['refresh_token'] == record['issued_refresh']:
                    del self._access_tokens[token]
        for token in record['issued_access']:
            self._access_tokens.pop(token, None)
        record['issued_refresh'], record['issued_access'] = None, []

    def _drop_grant(self, user_id: str) -> None:
        """The whole grant of ``user_id`` to this client: consent, refresh tokens, access tokens, and the codes not
        yet exchanged (they belong to it)."""
        self._consents.pop(user_id, None)
        for code in [c for c, record in self._codes.items() if record['user_id'] == user_id]:
            del self._codes[code]
        for store in (self._refresh_tokens, self._access_tokens):
            for token in [t for t, record in store.items() if record['user_id'] == user_id]:
                del store[token]

    def _revoke(self, request: Request) -> Response:
        token = self._form(request).get('token') or request.query.get('token')
        if not token:
            return oauth_error(400, 'invalid_request', 'Bad Request')
        record = self._refresh_tokens.get(token)
        if record is None:
            access = self._access_tokens.get(token)
            record = access if access is not None and self._clock() < access['expires_at'] else None
        if record is None:
            return oauth_error(400, 'invalid_token', 'Token expired or revoked')
        self._drop_grant(record['user_id'])
        return json_response(200, {}, NO_STORE, content_type=TOKEN_JSON)

    # --- Calendar: authentication and bodies ---

    def _authenticate(self, request: Request) -> tuple[dict[str, Any], frozenset[str]]:
        scheme, _, token = request.header('Authorization').strip().partition(' ')
        record = self._access_tokens.get(token.strip()) if scheme.lower() == 'bearer' else None
        if record is None or self._clock() >= record['expires_at']:
            raise Reject(cal.calendar_error(401, 'authError', headers={'WWW-Authenticate': WWW_AUTHENTICATE},
                                            locationType='header', location='Authorization'))
        return self._users[record['user_id']], record['scopes']

    @staticmethod
    def _json_body(request: Request) -> dict[str, Any]:
        if not request.body.strip():
            return {}

        def no_constants(name: str) -> Any:
            raise ValueError(name)

        try:
            body = json.loads(request.body.decode('utf-8'), parse_constant=no_constants)
            json.dumps(body, ensure_ascii=False).encode('utf-8')  # a lone surrogate (\ud800) is no text
        except (UnicodeError, ValueError, RecursionError):
            body = None
        if not isinstance(body, dict):
            raise cal.Invalid('parseError', 'Parse Error')
        return body

    # --- Calendar: events ---

    def _present(self, event: dict[str, Any]) -> dict[str, Any]:
        owner = self._users[event['owner']]
        email = owner['email']
        eid = base64.b64encode(f'{event["id"]} {email}'.encode()).decode().rstrip('=')
        answer: dict[str, Any] = {
            'kind': 'calendar#event', 'etag': f'"{int(event["updated"] * 1_000_000)}"', 'id': event['id'],
            'status': event['status'], 'htmlLink': f'https://www.google.com/calendar/event?eid={eid}',
            'created': cal.rfc3339(self._moment(event['created'])),
            'updated': cal.rfc3339(self._moment(event['updated'])),
        }
        for name in ('summary', 'description', 'location'):
            if event.get(name) is not None:
                answer[name] = event[name]
        answer.update(creator={'email': email, 'self': True}, organizer={'email': email, 'self': True},
                      start=cal.present_time(event['start']), end=cal.present_time(event['end']),
                      iCalUID=f'{event["id"]}@google.com', sequence=event['sequence'],
                      reminders={'useDefault': True}, eventType='default')
        conference = event['conference']
        if conference is not None:
            create = {'requestId': conference['requestId'], 'conferenceSolutionKey': {'type': conference['type']},
                      'status': {'statusCode': conference['status']}}
            data: dict[str, Any] = {'createRequest': create}
            if conference['status'] != 'failure':
                data['conferenceSolution'] = {'key': {'type': conference['type']}, 'name': 'Google Meet',
                                              'iconUri': cal.MEET_ICON}
            if conference['status'] == 'success':
                link = self._meet_link(conference['conferenceId'])
                data['entryPoints'] = [{'entryPointType': 'video', 'uri': link,
                                        'label': f'meet.google.com/{conference["conferenceId"]}'}]
                data['conferenceId'] = conference['conferenceId']
                answer['hangoutLink'] = link
            answer['conferenceData'] = data
        return answer

    @staticmethod
    def _moment(seconds: float) -> datetime:
        return datetime.fromtimestamp(seconds, UTC)

    def _meet_link(self, conference_id: str) -> str:
        return f'{self.url}/meet/{conference_id}'

    def _ok(self, event: dict[str, Any]) -> Response:
        return json_response(200, self._present(event), content_type=cal.CALENDAR_JSON)

    def _new_conference(self, user: dict[str, Any], request: dict[str, Any]) -> dict[str, Any] | None:
        """A conference for ``request`` (``{requestId, type}``); None when this calendar saw the requestId
        before (Google ignores the repeated create request: the event gets no conference)."""
        seen = self._request_ids.setdefault(user['id'], set())
        if request['requestId'] in seen:
            return None
        seen.add(request['requestId'])
        taken = {e['conference']['conferenceId'] for e in self._events.values() if e['conference'] is not None}
        conference = {'requestId': request['requestId'], 'type': request['type'],
                      'conferenceId': cal.new_conference_id(taken), 'reads_left': 0}
        if not user['meet_enabled']:
            conference['status'] = 'failure'
        elif self._pending_reads:
            conference.update(status='pending', reads_left=self._pending_reads)
        else:
            conference['status'] = 'success'
        return conference

    def _conference_version(self, request: Request) -> int:
        return cal.query_int(request.query, 'conferenceDataVersion', 0, range(0, 2))

    def _insert_event(self, request: Request, user: dict[str, Any]) -> Response:
        version = self._conference_version(request)
        cal.send_updates(request.query)
        body = self._json_body(request)
        event_id = cal.check_event_id(body['id']) if 'id' in body else None
        start, end = cal.read_time(body.get('start'), 'start'), cal.read_time(body.get('end'), 'end')
        cal.check_range(start, end)
        fields = self._fields(body)
        create = cal.create_request(body.get('conferenceData')) if version == 1 else None
        if event_id is None:
            event_id = cal.new_event_id()
        elif (user['id'], event_id) in self._events:  # a deleted event keeps its id
            return cal.calendar_error(409, 'duplicate')
        now = self._clock()
        event = {'id': event_id, 'owner': user['id'], 'status': fields.pop('status', 'confirmed'), 'start': start,
                 'end': end, 'created': now, 'updated': now, 'sequence': 0,
                 'conference': self._new_conference(user, create) if create is not None else None, **fields}
        self._events[(user['id'], event_id)] = event
        return self._ok(event)

    @staticmethod
    def _fields(body: dict[str, Any]) -> dict[str, Any]:
        """The plain fields of an event body the sandbox keeps, checked."""
        fields = {}
        for name in ('summary', 'description', 'location'):
            if name in body:
                if body[name] is not None and not isinstance(body[name], str):
                    raise cal.Invalid('invalid', f'Invalid value for: {name}')
                fields[name] = body[name]
        if 'status' in body:
            if body['status'] not in cal.EVENT_STATUSES:
                raise cal.Invalid('invalid', 'Invalid value for: status')
            fields['status'] = body['status']
        return fields

    def _event(self, user: dict[str, Any], event_id: str) -> dict[str, Any]:
        event = self._events.get((user['id'], event_id))
        if event is None:
            raise cal.Invalid('notFound', 'Not Found', status=404)
        return event

    def _get_event(self, request: Request, user: dict[str, Any], event_id: str) -> Response:
        event = self._event(user, event_id)
        conference = event['conference']
        if conference is not None and conference['status'] == 'pending':
            if conference['reads_left'] > 0:
                conference['reads_left'] -= 1
            else:
                conference['status'] = 'success'
        return self._ok(event)

    def _patch_event(self, request: Request, user: dict[str, Any], event_id: str) -> Response:
        version = self._conference_version(request)
        cal.send_updates(request.query)
        event = self._event(user, event_id)
        body = self._json_body(request)
        start = cal.read_time(self._merged_time(event['start'], body['start']), 'start') if 'start' in body \
            else event['start']
        end = cal.read_time(self._merged_time(event['end'], body['end']), 'end') if 'end' in body else event['end']
        cal.check_range(start, end)
        fields = self._fields(body)
        create = cal.create_request(body.get('conferenceData')) if version == 1 else None
        if (start, end) != (event['start'], event['end']):
            event['sequence'] += 1
        event.update(start=start, end=end, **fields)
        if create is not None and (event['conference'] is None or event['conference']['status'] == 'failure'):
            # A conference is asked for again (under a requestId the calendar has not seen) where none works.
            event['conference'] = self._new_conference(user, create) or event['conference']
        event['updated'] = self._clock()
        return self._ok(event)

    @staticmethod
    def _merged_time(stored: dict[str, Any], given: Any) -> Any:
        """PATCH merges nested objects: a new ``dateTime`` without ``timeZone`` keeps the event's zone."""
        if isinstance(given, dict) and 'dateTime' in given and 'timeZone' not in given and stored['timeZone']:
            return {**given, 'timeZone': stored['timeZone']}
        return given

    def _delete_event(self, request: Request, user: dict[str, Any], event_id: str) -> Response:
        cal.send_updates(request.query)
        event = self._event(user, event_id)
        if event['status'] == 'cancelled':
            return cal.calendar_error(410, 'deleted')
        event['status'] = 'cancelled'
        event['updated'] = self._clock()
        return Response(204)

    def _list_events(self, request: Request, user: dict[str, Any]) -> Response:
        limit = cal.query_int(request.query, 'maxResults', 250, range(1, 2501))
        show_deleted = request.query.get('showDeleted', 'false')
        if show_deleted not in ('true', 'false'):
            raise cal.Invalid('invalid', 'Invalid value for: showDeleted', location='showDeleted',
                              locationType='parameter')
        offset = self._page_offset(request.query.get('pageToken'))
        mine = [e for (owner, _), e in self._events.items()
                if owner == user['id'] and (show_deleted == 'true' or e['status'] != 'cancelled')]
        page = mine[offset:offset + limit]
        answer: dict[str, Any] = {
            'kind': 'calendar#events', 'etag': f'"{int(self._clock() * 1_000_000)}"', 'summary': user['email'],
            'description': '', 'updated': cal.rfc3339(self.now()), 'timeZone': 'UTC', 'accessRole': 'owner',
            'defaultReminders': [{'method': 'popup', 'minutes': 10}], 'items': [self._present(e) for e in page]}
        if offset + limit < len(mine):
            answer['nextPageToken'] = base64.urlsafe_b64encode(f'offset:{offset + limit}'.encode()).decode()
        return json_response(200, answer, content_type=cal.CALENDAR_JSON)

    @staticmethod
    def _page_offset(token: str | None) -> int:
        if token is None:
            return 0
        try:
            kind, _, number = base64.urlsafe_b64decode(token.encode()).decode().partition(':')
            if kind == 'offset' and number.isdigit():
                return int(number)
        except (binascii.Error, ValueError, UnicodeDecodeError):
            pass
        raise cal.Invalid('invalid', 'Invalid pageToken value.', location='pageToken', locationType='parameter')

    # --- the browser landing of hangoutLink, and the index ---

    def _meet_page(self, request: Request, conference_id: str) -> Response:
        event = next((e for e in self._events.values() if e['conference'] is not None
                      and e['conference']['conferenceId'] == conference_id
                      and e['conference']['status'] == 'success'), None)
        if event is None or event['status'] == 'cancelled':
            return html_response(404, pages.notice('Check your meeting code',
                                                   'Make sure you entered the correct meeting code in the URL.'))
        return html_response(200, pages.notice('Google Meet sandbox \u2014 joined', (
            f'{event.get("summary") or "(no title)"}: {conference_id}. Starts '
            f'{cal.present_time(event["start"]).get("dateTime") or event["start"]["at"]}.')))

    def _index(self) -> Response:
        with self._lock:
            text = pages.index(url=self.url, client_id=self.client_id, redirect_uris=list(self._redirect_uris),
                               users=list(self._users.values()),
                               events=[{**self._present(e), 'owner': e['owner']} for e in self._events.values()],
                               now=cal.rfc3339(self.now()))
        return html_response(200, text)
