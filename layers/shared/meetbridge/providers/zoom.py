"""Zoom: OAuth (authorization code + PKCE, rotating refresh tokens) and the Meetings API.

Errors are told apart by Zoom's numeric `code`, never by the (localised) message. A `start_url`
carries the host's ZAK: it is fetched fresh when the provider clicks and never stored or logged.
"""

import functools
import random
import secrets
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx2
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from meetbridge import budget
from meetbridge.config import ZoomSettings, settings
from meetbridge.errors import RetryLater
from meetbridge.store import tokens
from meetbridge.providers.base import (
    CHECK_FAILED,
    CHECK_HORIZON_SECONDS,
    Attendee,
    Authorized,
    DailyLimit,
    MeetingSpec,
    ProviderMeeting,
    ProviderRejected,
    SignInRefused,
)
from meetbridge.store import quota
from meetbridge.store.repository import Account

TIMEOUT = httpx2.Timeout(10.0, connect=3.0)
# In-Lambda retries of a per-second 429 before handing the message back to its queue.
RATE_RETRIES = 3
MAX_INLINE_WAIT_SECONDS = 5.0
DAILY_CREATE_UPDATE_LIMIT = 100

NOT_FOUND_MEETING = 3001
# The agenda of a meeting we made starts with this and our reference: Zoom lists agendas (cut to 250
# characters), so a meeting whose create answer was lost can be found again.
AGENDA_MARK = 'meetbridge:'
INVALID_TOKEN = 124


class DailyLimitReached(DailyLimit):
    """Zoom's 100 create/update calls for this host are used up until 00:00 UTC."""

    def __init__(self, host: str, resume_at: datetime):
        super().__init__(f'Zoom allows 100 meeting changes a day per host and this host has used them; the '
                         f'meeting will be made after {resume_at:%Y-%m-%d %H:%M} UTC', resume_at)
        self.host = host


class ZoomApiError(Exception):
    def __init__(self, status: int, code: int | None, message: str, headers: httpx2.Headers | None = None):
        super().__init__(f'Zoom answered {status} (code {code})')
        self.status, self.code, self.message, self.headers = status, code, message, headers


def credentials() -> dict[str, str]:
    """{client_id, client_secret, webhook_secret_token}, from Secrets Manager; Powertools keeps them for
    five minutes, so a rotated secret reaches warm containers too."""
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(settings(ZoomSettings).zoom_client_secret_arn, transform='json', max_age=300)


def oauth_client(redirect_uri: str | None = None) -> OAuth2Client:
    app = credentials()
    return OAuth2Client(app['client_id'], app['client_secret'], token_endpoint_auth_method='client_secret_basic',
                        revocation_endpoint_auth_method='client_secret_basic', redirect_uri=redirect_uri,
                        timeout=TIMEOUT)


def begin(redirect_uri: str) -> tuple[str, str, dict[str, Any]]:
    """(state, the authorize URL, what to keep server side until the callback)."""
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    url, _ = oauth_client(redirect_uri).create_authorization_url(
        f'{settings(ZoomSettings).zoom_oauth_base}/oauth/authorize', state=state,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method='S256')  # without a method Zoom assumes "plain"
    return state, url, {'verifier': verifier}


def finish(flow: dict[str, Any], params: dict[str, str], redirect_uri: str) -> Authorized:
    """Exchanges the code (Basic client authentication, the PKCE verifier) and identifies the user."""
    if not params.get('code'):
        raise SignInRefused('Zoom sent no authorisation', 'Start again from the connection link.')
    try:
        with oauth_client(redirect_uri) as client:
            token = client.fetch_token(f'{settings(ZoomSettings).zoom_oauth_base}/oauth/token', grant_type='authorization_code',
                                       code=params['code'], redirect_uri=redirect_uri,
                                       code_verifier=flow['verifier'])
        user = whoami(token['access_token'])
    except OAuthError as exc:
        raise SignInRefused('Zoom did not accept this sign-in', 'The sign-in may have been used already or '
                            f'taken too long ({exc.error}). Start again.') from None
    except httpx2.HTTPError:
        raise SignInRefused('Zoom did not answer', 'Please try again in a minute.', status=502) from None
    return Authorized(user_id=user['id'], email=user.get('email') or '', account_id=user.get('account_id'),
                      role=user.get('role_name'), state=_token_state(token))


def _token_state(token: dict[str, Any]) -> dict[str, Any]:
    return {'access_token': token['access_token'], 'refresh_token': token['refresh_token'],
            'expires_at': time.time() + int(token.get('expires_in', 3599)), 'scope': token.get('scope', '')}


def refresh(refresh_token: str) -> dict[str, Any]:
    with oauth_client() as client:
        try:
            token = client.refresh_token(f'{settings(ZoomSettings).zoom_oauth_base}/oauth/token', refresh_token=refresh_token)
        except OAuthError as exc:
            if exc.error == 'invalid_grant':
                raise tokens.InvalidGrant() from None
            raise RetryLater(f'Zoom refused the refresh: {exc.error}') from None
        except httpx2.HTTPError as exc:
            raise RetryLater(f'Zoom did not answer the refresh ({type(exc).__name__})') from None
    return _token_state(token)


class ZoomKeeper:
    """Zoom's tokens: a pair whose refresh token rotates and dies on first use."""

    def held(self, state: dict[str, Any], now: float) -> str | None:
        return state['access_token'] if state['expires_at'] - tokens.EXPIRY_MARGIN_SECONDS > now else None

    def renew(self, state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        new = refresh(state['refresh_token'])
        return new['access_token'], new


KEEPER = ZoomKeeper()


def whoami(access_token: str) -> dict[str, Any]:
    """The user a fresh token belongs to (before it is stored). Raises httpx2.HTTPError."""
    response = _http().get('/users/me', headers={'Authorization': f'Bearer {access_token}'})
    response.raise_for_status()
    return response.json()


def revoke(account: Account) -> None:
    """Ends the account's authorisation at Zoom (its access token, renewed first when it has expired)."""
    access_token = tokens.access_token(account.tenant_id, account.account_id, KEEPER)
    with oauth_client() as client:
        client.revoke_token(f'{settings(ZoomSettings).zoom_oauth_base}/oauth/revoke', token=access_token)


# --- the REST API -------------------------------------------------------------------------------


def _http() -> httpx2.Client:
    return _pooled_client(settings(ZoomSettings).zoom_api_base)


@functools.cache
def _pooled_client(base_url: str) -> httpx2.Client:
    """One per container and API base: a warm container reuses its connections."""
    return httpx2.Client(base_url=base_url, timeout=TIMEOUT)


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """Zoom sends seconds, or an ISO date-time (or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.replace('.', '', 1).isdigit():
        return float(value)
    for parse in (lambda v: datetime.fromisoformat(v.replace('Z', '+00:00')), parsedate_to_datetime):
        try:
            moment = parse(value)
        except (ValueError, TypeError):
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return max(0.0, (moment - now).total_seconds())
    return None


def next_utc_midnight(now: datetime) -> datetime:
    return (now + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


class ZoomApi:
    """Calls for one account, with its token refreshed on demand."""

    def __init__(self, account: Account, sleep=time.sleep, broken_reason: str | None = None):
        self.account = account
        self.sleep = sleep
        self.broken_reason = broken_reason

    def _token(self, rejected: str | None = None) -> str:
        return tokens.access_token(self.account.tenant_id, self.account.account_id, KEEPER, rejected=rejected,
                                   broken_reason=self.broken_reason)

    def call(self, method: str, path: str, json: dict | None = None, params: dict | None = None) -> httpx2.Response:
        token = self._token()
        attempt = 0
        while True:
            response = _http().request(method, path, json=json, params=params,
                                       headers={'Authorization': f'Bearer {token}'},
                                       timeout=budget.http_timeout(TIMEOUT))
            if response.status_code < 300:
                return response
            error = _error_of(response)
            if error.status == 401 and error.code == INVALID_TOKEN and attempt == 0:
                token = self._token(rejected=token)  # expired or revoked early: refresh once
                attempt += 1
                continue
            if error.status == 429 and _is_daily_limit(error):
                raise error
            if error.status == 429 and attempt < RATE_RETRIES:
                attempt += 1
                wait = retry_after_seconds(response.headers.get('retry-after'), datetime.now(UTC))
                wait = wait if wait is not None else min(MAX_INLINE_WAIT_SECONDS, 0.5 * 2 ** attempt)
                if wait > MAX_INLINE_WAIT_SECONDS or wait > budget.left(wait):
                    raise RetryLater('Zoom asked to slow down') from None
                self.sleep(wait * random.uniform(0.8, 1.2))  # jitter: concurrent callers spread out
                continue
            if error.status == 429 or error.status >= 500:
                raise RetryLater(f'Zoom is unavailable or busy ({error.status})')
            raise error


def _error_of(response: httpx2.Response) -> ZoomApiError:
    try:
        body = response.json()
    except ValueError:
        body = {}
    code = body.get('code') if isinstance(body, dict) else None
    message = body.get('message', '') if isinstance(body, dict) else ''
    return ZoomApiError(response.status_code, code if isinstance(code, int) else None, str(message), response.headers)


def _resume_at(error: ZoomApiError, now: datetime) -> datetime:
    """Zoom's own Retry-After when it names a moment in the next two days, else the next 00:00 UTC."""
    wait = retry_after_seconds((error.headers or {}).get('retry-after'), now)
    if wait is not None and 0 < wait <= 2 * 24 * 3600:
        return now + timedelta(seconds=wait)
    return next_utc_midnight(now)


def _is_daily_limit(error: ZoomApiError) -> bool:
    headers = error.headers or {}
    if headers.get('x-ratelimit-type', '').lower() == 'daily-limit':
        return True
    # Some daily-limit answers carry only an ISO Retry-After (a date, not seconds).
    retry_after = headers.get('retry-after', '')
    return bool(retry_after) and not retry_after.strip().replace('.', '', 1).isdigit()


# Refusals about the host user or the connected account, not about the meeting: another account can host it.
_ACCOUNT_CODES = (1001, 1010, 200)


def _rejected(error: ZoomApiError, what: str) -> ProviderRejected:
    reasons = {
        1001: 'the Zoom user does not exist',
        1010: 'the Zoom user does not belong to the connected account',
        200: 'the connected Zoom user has no permission to schedule for this user '
             '(shared access permissions must be allowed when connecting)',
        300: 'Zoom refused the meeting details',
        3003: 'the connected Zoom user is not the meeting host',
    }
    return ProviderRejected(f'{what}: {reasons.get(error.code, f"Zoom answered {error.status} (code {error.code})")}',
                            about_account=error.code in _ACCOUNT_CODES)


class ZoomProvider:
    type = 'zoom'

    def __init__(self, clock=lambda: datetime.now(UTC)):
        self.clock = clock

    def _host(self, account: Account, spec: MeetingSpec | None = None) -> str:
        return (spec.host_user if spec and spec.host_user else None) or 'me'

    def _quota_key(self, account: Account, host: str) -> str:
        return host if host != 'me' else account.settings.get('user_id', account.account_id)

    def _counted(self, account: Account, host: str, send):
        """A create or update, counted against the host's daily 100 before Zoom is asked."""
        now = self.clock()
        key = self._quota_key(account, host)
        if not quota.reserve('zoom', key, now, DAILY_CREATE_UPDATE_LIMIT):
            raise DailyLimitReached(key, next_utc_midnight(now))
        try:
            return send()
        except ZoomApiError as error:
            if error.status == 429:
                quota.exhaust('zoom', key, now, DAILY_CREATE_UPDATE_LIMIT)
                raise DailyLimitReached(key, _resume_at(error, now)) from None
            raise
        except RetryLater:
            # Unavailable, busy or not reached at all: the call is retried and counted then, so an outage
            # does not spend the host's day on attempts Zoom never took.
            quota.give_back('zoom', key, now)
            raise

    @staticmethod
    def _body(account: Account, spec: MeetingSpec) -> dict[str, Any]:
        minutes = max(1, round((spec.end - spec.start).total_seconds() / 60))
        meeting_settings = {'join_before_host': False, 'waiting_room': False, **(spec.settings or {})}
        if spec.kind == 'class':
            # Registration gives each client a join URL of their own; 0 approves them automatically.
            meeting_settings.update(approval_type=0, registration_type=1)
        return {
            'topic': spec.topic[:200],
            **({'agenda': AGENDA_MARK + spec.reference} if spec.reference else {}),
            'type': 2,
            # With Z the time is UTC and the zone only says how Zoom displays it.
            'start_time': spec.start.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ'),
            'duration': minutes,
            'timezone': spec.timezone,
            'settings': meeting_settings,
        }

    def create(self, account: Account, spec: MeetingSpec) -> ProviderMeeting:
        host = self._host(account, spec)
        api = ZoomApi(account)
        try:
            made = self._counted(account, host, lambda: api.call('POST', f'/users/{host}/meetings',
                                                                  json=self._body(account, spec))).json()
        except ZoomApiError as error:
            raise _rejected(error, 'the Zoom meeting could not be created') from None
        return ProviderMeeting(external_id=str(made['id']), join_url=made['join_url'], password=made.get('password'),
                               host=host)

    def find(self, account: Account, spec: MeetingSpec) -> ProviderMeeting | None:
        """Our meeting by the agenda mark among the host's scheduled meetings; any second one is deleted."""
        if not spec.reference:
            return None
        host, api = self._host(account, spec), ZoomApi(account)
        found, page_token = [], ''
        while True:
            params = {'type': 'scheduled', 'page_size': 300, **({'next_page_token': page_token} if page_token else {})}
            try:
                page = api.call('GET', f'/users/{host}/meetings', params=params).json()
            except ZoomApiError as error:
                raise _rejected(error, 'the Zoom meetings could not be listed') from None
            found.extend(m for m in page.get('meetings', []) if m.get('agenda') == AGENDA_MARK + spec.reference)
            page_token = page.get('next_page_token') or ''
            if not page_token:
                break
        if not found:
            return None
        kept, *extra = sorted(found, key=lambda listed: (listed.get('created_at') or '', listed['id']))
        for duplicate in extra:
            self.delete(account, ProviderMeeting(external_id=str(duplicate['id']), join_url='', host=host))
        try:
            details = api.call('GET', f'/meetings/{kept["id"]}').json()
        except ZoomApiError as error:
            raise _rejected(error, 'the Zoom meeting could not be read') from None
        return ProviderMeeting(external_id=str(details['id']), join_url=details['join_url'],
                               password=details.get('password'), host=host)

    def update(self, account: Account, meeting: ProviderMeeting, spec: MeetingSpec) -> ProviderMeeting:
        api = ZoomApi(account)
        body = self._body(account, spec)
        body.pop('settings')  # the meeting keeps its settings; only the time and topic move
        try:
            self._counted(account, meeting.host or 'me',
                          lambda: api.call('PATCH', f'/meetings/{meeting.external_id}', json=body))
        except ZoomApiError as error:
            if error.status == 404 and error.code == NOT_FOUND_MEETING:
                # Deleted at Zoom meanwhile: made again for the same host (the caller registers a class's
                # clients again), or found, if an earlier attempt made it and its answer was lost.
                spec = replace(spec, host_user=meeting.host)
                return self.find(account, spec) or self.create(account, spec)
            raise _rejected(error, 'the Zoom meeting could not be moved') from None
        return meeting

    def delete(self, account: Account, meeting: ProviderMeeting) -> None:
        try:
            ZoomApi(account).call('DELETE', f'/meetings/{meeting.external_id}',
                                  params={'schedule_for_reminder': 'false'})
        except ZoomApiError as error:
            if error.status == 404:
                return  # already gone: the goal is reached
            raise _rejected(error, 'the Zoom meeting could not be deleted') from None

    def host_url(self, account: Account, meeting: ProviderMeeting) -> str:
        try:
            return ZoomApi(account).call('GET', f'/meetings/{meeting.external_id}').json()['start_url']
        except ZoomApiError as error:
            raise _rejected(error, 'the Zoom meeting could not be opened') from None

    def attendee_url(self, account: Account, meeting: ProviderMeeting, attendee: Attendee | None) -> str:
        return attendee.join_url if attendee and attendee.join_url else meeting.join_url

    def add_attendee(self, account: Account, meeting: ProviderMeeting, spec: MeetingSpec,
                     email: str, name: str) -> Attendee | None:
        if spec.kind != 'class':
            return None
        first, _, last = name.partition(' ')
        try:
            made = ZoomApi(account).call('POST', f'/meetings/{meeting.external_id}/registrants',
                                         json={'email': email, 'first_name': first or name, 'last_name': last}).json()
        except ZoomApiError as error:
            raise _rejected(error, 'the client could not be registered for the Zoom meeting') from None
        return Attendee(id=str(made['registrant_id']), join_url=made.get('join_url'))

    def remove_attendee(self, account: Account, meeting: ProviderMeeting, attendee: Attendee) -> None:
        try:
            ZoomApi(account).call('PUT', f'/meetings/{meeting.external_id}/registrants/status',
                                  json={'action': 'cancel', 'registrants': [{'id': attendee.id}]})
        except ZoomApiError as error:
            if error.status == 404:
                return
            raise _rejected(error, 'the client could not be removed from the Zoom meeting') from None

    # --- health -------------------------------------------------------------------------------

    def check(self, account: Account) -> None:
        if tokens.renew_ahead(account.tenant_id, account.account_id, KEEPER, CHECK_HORIZON_SECONDS,
                              broken_reason=CHECK_FAILED):
            return  # the renewal is the proof: Zoom renews only a grant it still honours.
        try:
            ZoomApi(account, broken_reason=CHECK_FAILED).call('GET', '/users/me')
        except ZoomApiError as error:
            if error.status == 401:  # refused again after a renewal: Zoom no longer honours the account's grant
                raise ProviderRejected('the Zoom account could not be read: Zoom refused its authorisation',
                                       about_account=True) from None
            raise _rejected(error, 'the Zoom account could not be read') from None
        except httpx2.HTTPError as exc:
            raise RetryLater(f'Zoom did not answer ({type(exc).__name__})') from None

    def exists(self, account: Account, meeting: ProviderMeeting) -> bool:
        # GET meeting is a "Light" call; its answer (with a fresh start_url) is dropped unread.
        try:
            ZoomApi(account).call('GET', f'/meetings/{meeting.external_id}')
        except ZoomApiError as error:
            if error.status == 404 and error.code == NOT_FOUND_MEETING:
                return False
            raise _rejected(error, 'the Zoom meeting could not be read') from None
        except httpx2.HTTPError as exc:
            raise RetryLater(f'Zoom did not answer ({type(exc).__name__})') from None
        return True

    # --- account-level ------------------------------------------------------------------------

    def users(self, account: Account) -> list[dict[str, Any]]:
        """Every active user of the connected account, all pages."""
        api, found, page_token = ZoomApi(account), [], ''
        while True:
            params = {'status': 'active', 'page_size': 300}
            if page_token:
                params['next_page_token'] = page_token
            try:
                page = api.call('GET', '/users', params=params).json()
            except ZoomApiError as error:
                raise _rejected(error, 'the Zoom users could not be listed') from None
            found.extend(page.get('users', []))
            page_token = page.get('next_page_token') or ''
            if not page_token:
                return found


PROVIDER = ZoomProvider()
