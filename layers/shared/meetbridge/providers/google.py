"""Google Meet: Google's OAuth 2.0 for web server apps (PKCE, offline access) and each meeting as an event with a
Meet conference on the host's primary Google Calendar.

A Meet space of the Meet REST API has no time, no idempotency key and cannot be deleted; a Calendar event has all
three. Its id is ours (derived from the claim's reference), so a create whose answer was lost finds the event it
made instead of making a second one. Google's refresh tokens do not rotate: the one from the sign-in is kept.
Tokens, codes and the client secret are never logged nor put in an error.
"""

import base64
import functools
import hashlib
import json
import random
import secrets
import time
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import httpx2
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from meetbridge import budget
from meetbridge.config import GoogleSettings, settings
from meetbridge.errors import RetryLater
from meetbridge.providers.base import (
    CHECK_FAILED,
    CHECK_HORIZON_SECONDS,
    Attendee,
    Authorized,
    ConsentAgain,
    MeetingSpec,
    ProviderMeeting,
    ProviderRejected,
    SignInRefused,
)
from meetbridge.store import tokens
from meetbridge.store.repository import Account

CALENDAR_SCOPE = 'https://www.googleapis.com/auth/calendar.events.owned'
SCOPES = f'openid email {CALENDAR_SCOPE}'
# With granular consent the user may untick the calendar; any of these lets us manage events on their calendar.
CALENDAR_SCOPES = frozenset({CALENDAR_SCOPE, 'https://www.googleapis.com/auth/calendar.events',
                             'https://www.googleapis.com/auth/calendar'})
TIMEOUT = httpx2.Timeout(10.0, connect=3.0)
# In-Lambda retries of a rate limit before handing the message back to its queue.
RATE_RETRIES = 3
MAX_INLINE_WAIT_SECONDS = 5.0
RATE_LIMIT_REASONS = ('rateLimitExceeded', 'userRateLimitExceeded')
# Any other 403 of this domain (quotaExceeded, dailyLimitExceeded) is a limit of our Google Cloud project, not a
# refusal of the account: the change waits, and the account stays connected.
USAGE_LIMITS = 'usageLimits'
# Google's codes are short printable ASCII ("4/0A..."); anything else is not one, and is not sent on.
MAX_CODE_CHARS = 2048
REVOKE_RETRY_WAITS_SECONDS = (0.5, 2.0)
# A new conference may answer "pending": the event is read again after each of these waits, then the message
# goes back to its queue and the next attempt finds the event by its id.
PENDING_WAITS_SECONDS = (0.25, 0.5, 1.0, 2.0)
EVENTS = '/calendars/primary/events'
# On every write: the conference in the body is honoured only with conferenceDataVersion=1, and the host's
# calendar changes without Google emailing anyone (our own messages tell the people).
WRITE = {'conferenceDataVersion': '1', 'sendUpdates': 'none'}


def credentials() -> dict[str, str]:
    """{client_id, client_secret} from Secrets Manager; Powertools keeps them for five minutes."""
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(settings(GoogleSettings).google_client_secret_arn, transform='json', max_age=300)


def oauth_client(redirect_uri: str | None = None) -> OAuth2Client:
    app = credentials()
    return OAuth2Client(app['client_id'], app['client_secret'], token_endpoint_auth_method='client_secret_post',
                        scope=SCOPES, redirect_uri=redirect_uri, timeout=TIMEOUT)


# --- connecting ---------------------------------------------------------------------------------


def begin(redirect_uri: str, consent: bool = False) -> tuple[str, str, dict[str, Any]]:
    """(state, the authorize URL, what to keep server side until the callback). `consent`: Google shows its consent
    screen again (prompt=consent), the only way to get a refresh token from a user who granted before."""
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    url, _ = oauth_client(redirect_uri).create_authorization_url(
        settings(GoogleSettings).google_authorize_url, state=state, access_type='offline',
        code_challenge=create_s256_code_challenge(verifier), code_challenge_method='S256',
        **({'prompt': 'consent'} if consent else {}))
    return state, url, {'verifier': verifier, 'consent': consent}


def finish(flow: dict[str, Any], params: dict[str, str], redirect_uri: str) -> Authorized:
    """Exchanges the code (client_secret_post, the PKCE verifier); the id_token says who signed in. Raises
    ConsentAgain when Google kept back the refresh token of an earlier grant on a first ask."""
    if not params.get('code'):
        raise SignInRefused('Google sent no authorisation', 'Start again from the connection link.')
    if len(params['code']) > MAX_CODE_CHARS or not params['code'].isascii() or not params['code'].isprintable():
        raise SignInRefused('This is not an authorisation from Google', 'Start again from the connection link.')
    try:
        with oauth_client(redirect_uri) as client:
            token = client.fetch_token(settings(GoogleSettings).google_token_url, grant_type='authorization_code',
                                       code=params['code'], redirect_uri=redirect_uri, code_verifier=flow['verifier'])
    except OAuthError as exc:
        raise SignInRefused('Google did not accept this sign-in', 'The sign-in may have been used already or '
                            f'taken too long ({exc.error}). Start again.') from None
    except (httpx2.HTTPError, ValueError):
        raise SignInRefused('Google did not answer', 'Please try again in a minute.', status=502) from None
    if not CALENDAR_SCOPES & set(str(token.get('scope', '')).split()):
        raise SignInRefused('Google Calendar access was not given',
                            'Google Meet meetings are made as events on your Google Calendar. Start again and '
                            'leave the permission to see, create, change and delete your calendar events ticked.')
    claims = id_token_claims(token.get('id_token'))
    if not claims.get('sub'):
        raise SignInRefused('Google did not say who signed in', 'Start again from the connection link.')
    if not token.get('refresh_token'):
        if not flow.get('consent'):
            raise ConsentAgain()
        raise SignInRefused('Google gave no lasting access',
                            'Google did not let meetbridge keep access to your calendar. Remove meetbridge from '
                            'the third-party connections of your Google Account, then start again.')
    return Authorized(user_id=str(claims['sub']), email=str(claims.get('email') or ''), account_id=claims.get('hd'),
                      role=None, state=_token_state(token, token['refresh_token']))


def id_token_claims(id_token: str | None) -> dict[str, Any]:
    """The id_token's payload, its signature not checked: it came straight from Google's token endpoint over TLS,
    in the answer to our client secret, which Google's OpenID Connect guide says is proof enough."""
    try:
        payload = str(id_token).split('.')[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + '=' * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _token_state(token: dict[str, Any], refresh_token: str) -> dict[str, Any]:
    return {'access_token': token['access_token'], 'refresh_token': refresh_token,
            'expires_at': time.time() + int(token.get('expires_in', 3599)), 'scope': token.get('scope', '')}


def revoke(account: Account) -> None:
    """Revokes the account's grant at Google (its refresh token and every access token made from it); the grant is
    one per Google user and client, which the caller minds (logic/accounts.py). A token Google no longer knows has
    been revoked already."""
    refresh_token = tokens.state_of(account.tenant_id, account.account_id)['refresh_token']
    # Our copy of the tokens is forgotten after this whatever happens, so a passing failure is tried again here.
    for wait in (*REVOKE_RETRY_WAITS_SECONDS, None):
        try:
            response = httpx2.post(settings(GoogleSettings).google_revoke_url, data={'token': refresh_token},
                                   timeout=budget.http_timeout(TIMEOUT))
        except httpx2.HTTPError as exc:
            problem = type(exc).__name__
        else:
            if response.status_code == 200 or \
                    (response.status_code == 400 and _oauth_error(response) == 'invalid_token'):
                return
            if response.status_code != 429 and response.status_code < 500:
                wait = None  # refused: asking again gets the same answer
            problem = f'{response.status_code} {_oauth_error(response)}'
        if wait is None or wait > budget.left(wait):
            raise RetryLater(f'Google did not revoke the account\'s grant ({problem})')
        time.sleep(wait)


def _oauth_error(response: httpx2.Response) -> str:
    try:
        error = response.json().get('error')
    except (ValueError, AttributeError):
        return ''
    return error if isinstance(error, str) else ''


# --- tokens -------------------------------------------------------------------------------------


class GoogleKeeper:
    """Google's tokens: a refresh token that stays the same for the grant's life, and hour-long access tokens."""

    def held(self, state: dict[str, Any], now: float) -> str | None:
        return state['access_token'] if state['expires_at'] - tokens.EXPIRY_MARGIN_SECONDS > now else None

    def renew(self, state: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        try:
            with oauth_client() as client:
                token = client.refresh_token(settings(GoogleSettings).google_token_url,
                                             refresh_token=state['refresh_token'])
        except OAuthError as exc:
            if exc.error == 'invalid_grant':  # revoked, expired, or among more than 100 grants of the user
                raise tokens.InvalidGrant() from None
            raise RetryLater(f'Google refused the refresh: {exc.error}') from None
        except (httpx2.HTTPError, ValueError) as exc:
            raise RetryLater(f'Google did not answer the refresh ({type(exc).__name__})') from None
        # Google sends no new refresh token today, and the grant's one stays; one it sends replaces it (RFC 6749 §6).
        return token['access_token'], _token_state(token, token.get('refresh_token') or state['refresh_token'])


KEEPER = GoogleKeeper()


# --- Calendar -----------------------------------------------------------------------------------


class CalendarError(Exception):
    def __init__(self, status: int, reason: str, message: str, domain: str = ''):
        super().__init__(f'Google Calendar answered {status} ({reason})')
        self.status, self.reason, self.message, self.domain = status, reason, message, domain


def _http() -> httpx2.Client:
    return _pooled_client(settings(GoogleSettings).google_calendar_base)


@functools.cache
def _pooled_client(base_url: str) -> httpx2.Client:
    """One per container and Calendar base: a warm container reuses its connections."""
    return httpx2.Client(base_url=base_url, timeout=TIMEOUT)


def _error_of(response: httpx2.Response) -> CalendarError:
    """Google's error body: {"error": {"errors": [{"reason": ...}], "code": ..., "message": ...}}."""
    try:
        error = response.json().get('error')
    except (ValueError, AttributeError):
        error = None
    error = error if isinstance(error, dict) else {}
    details = error.get('errors')
    first = details[0] if isinstance(details, list) and details and isinstance(details[0], dict) else {}
    return CalendarError(response.status_code, str(first.get('reason', '')), str(error.get('message', '')),
                         str(first.get('domain', '')))


def _retry_after(response: httpx2.Response, attempt: int) -> float:
    header = response.headers.get('retry-after', '').strip()
    return float(header) if header.isdigit() else min(MAX_INLINE_WAIT_SECONDS, 0.5 * 2 ** attempt)


class CalendarApi:
    """Calls for one account, with its token renewed on demand."""

    def __init__(self, account: Account, sleep=time.sleep, broken_reason: str | None = None):
        self.account, self.sleep, self.broken_reason = account, sleep, broken_reason

    def _token(self, rejected: str | None = None) -> str:
        return tokens.access_token(self.account.tenant_id, self.account.account_id, KEEPER, rejected=rejected,
                                   broken_reason=self.broken_reason)

    def call(self, method: str, path: str, json: dict | None = None, params: dict | None = None) -> httpx2.Response:
        token, renewed, slowed = self._token(), False, 0
        while True:
            try:
                response = _http().request(method, path, json=json, params=params,
                                           headers={'Authorization': f'Bearer {token}'},
                                           timeout=budget.http_timeout(TIMEOUT))
            except httpx2.HTTPError as exc:
                raise RetryLater(f'Google Calendar did not answer ({type(exc).__name__})') from None
            if response.status_code < 300:
                return response
            error = _error_of(response)
            if error.status == 401 and not renewed:  # expired or revoked early: renewed once
                token, renewed = self._token(rejected=token), True
                continue
            if error.status == 429 or (error.status == 403 and error.reason in RATE_LIMIT_REASONS):
                slowed += 1
                wait = _retry_after(response, slowed)
                if slowed > RATE_RETRIES or wait > MAX_INLINE_WAIT_SECONDS or wait > budget.left(wait):
                    raise RetryLater('Google Calendar asked to slow down')
                self.sleep(wait * random.uniform(0.8, 1.2))  # jitter: concurrent callers spread out
                continue
            if error.status == 403 and (error.domain == USAGE_LIMITS or error.reason in ('quotaExceeded',
                                                                                        'dailyLimitExceeded')):
                raise RetryLater(f'Google Calendar usage limits are exceeded for this Google Cloud project '
                                 f'({error.reason}); the change is tried again later')
            if error.status >= 500:
                raise RetryLater(f'Google Calendar is unavailable ({error.status})')
            if error.status == 403 and error.reason == 'insufficientPermissions':
                raise ProviderRejected('Google refused access to the calendar: the Google account was connected '
                                       'without the permission to manage its calendar events; connect it again and '
                                       'leave that permission ticked', about_account=True)
            raise error


def event_id(reference: str) -> str:
    """Our id for the event of a claim: base32hex (Google's alphabet for event ids) of the reference's SHA-256."""
    return base64.b32hexencode(hashlib.sha256(reference.encode()).digest()).decode().rstrip('=').lower()


def _when(spec: MeetingSpec) -> dict[str, Any]:
    # The instants in UTC; the zone says how Google shows them (and is the booking's own).
    return {name: {'dateTime': moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ'), 'timeZone': spec.timezone}
            for name, moment in (('start', spec.start), ('end', spec.end))}


def _rejected(error: CalendarError, what: str) -> ProviderRejected:
    # 401 after a renewal, or 403: the account no longer lets us in or may not do this; another account can host.
    return ProviderRejected(f'{what}: Google Calendar answered {error.status} ({error.reason or error.message})',
                            about_account=error.status in (401, 403))


class GoogleProvider:
    type = 'google'

    def __init__(self, sleep=time.sleep):
        self.sleep = sleep

    def _api(self, account: Account, broken_reason: str | None = None) -> CalendarApi:
        return CalendarApi(account, sleep=self.sleep, broken_reason=broken_reason)

    def create(self, account: Account, spec: MeetingSpec) -> ProviderMeeting:
        """Inserts the event under our id, its conference under our reference. A second insert of the same id is
        refused as a duplicate: that is the event an attempt whose answer was lost made, and it is used."""
        if not spec.reference:
            raise ValueError('a Google Meet is made under the claim\'s reference')
        api = self._api(account)
        body = {'id': event_id(spec.reference), 'summary': spec.topic[:250], **_when(spec),
                'conferenceData': _meet_asked(spec.reference)}
        try:
            event = api.call('POST', EVENTS, json=body, params=WRITE).json()
        except CalendarError as error:
            if error.status != 409:
                raise _rejected(error, 'the Google Meet could not be created') from None
            try:
                event = self._adopted(api, api.call('GET', f'{EVENTS}/{body["id"]}').json(), spec)
            except CalendarError as error:
                raise _rejected(error, 'the Google Meet could not be created') from None
        return self._meeting(api, event)

    def _adopted(self, api: CalendarApi, event: dict[str, Any], spec: MeetingSpec) -> dict[str, Any]:
        """An event an earlier attempt of this claim made (its answer lost), brought to what `spec` asks in one PATCH
        when it differs: restored if it was deleted, at the spec's times (the booking may have moved meanwhile), and
        with a Meet asked for again under a new requestId if its conference failed (Google ignores a repeated one)."""
        changes: dict[str, Any] = {}
        if event.get('status') == 'cancelled':
            changes['status'] = 'confirmed'
        if not _at_times(event, spec):
            changes.update(_when(spec))
        if _conference_status(event) not in ('success', 'pending'):
            changes['conferenceData'] = _meet_asked(f'{spec.reference}~{secrets.token_hex(6)}')
        if not changes:
            return event
        return api.call('PATCH', f'{EVENTS}/{event["id"]}', params=WRITE,
                        json={'summary': spec.topic[:250], **changes}).json()

    def _meeting(self, api: CalendarApi, event: dict[str, Any]) -> ProviderMeeting:
        """The event's Meet, read again while Google is still making it (within the time left)."""
        for wait in (*PENDING_WAITS_SECONDS, None):
            status = _conference_status(event)
            if status != 'pending':
                break
            if wait is None or wait > budget.left(wait):
                raise RetryLater('Google is still adding the Google Meet to the calendar event')
            self.sleep(wait)
            try:
                event = api.call('GET', f'{EVENTS}/{event["id"]}').json()
            except CalendarError as error:
                raise _rejected(error, 'the Google Meet could not be read') from None
        if status != 'success' or not event.get('hangoutLink'):
            self._remove(api, event['id'])
            raise ProviderRejected('Google could not add a Google Meet to the calendar event: Google Meet may be '
                                   'switched off for this Google account (by its Google Workspace admin)',
                                   about_account=True)
        return ProviderMeeting(external_id=event['id'], join_url=event['hangoutLink'])

    def _remove(self, api: CalendarApi, event: str) -> None:
        """An event without a Meet is of no use on the host's calendar."""
        try:
            api.call('DELETE', f'{EVENTS}/{event}', params={'sendUpdates': 'none'})
        except CalendarError as error:
            if error.status not in (404, 410):
                raise _rejected(error, 'the calendar event without a Google Meet could not be deleted') from None

    def find(self, account: Account, spec: MeetingSpec) -> ProviderMeeting | None:
        """The event of the reference's id, unless it was never made or has been deleted."""
        if not spec.reference:
            return None
        api = self._api(account)
        try:
            event = api.call('GET', f'{EVENTS}/{event_id(spec.reference)}').json()
        except CalendarError as error:
            if error.status == 404:
                return None
            raise _rejected(error, 'the Google Meet could not be read') from None
        if event.get('status') == 'cancelled':
            return None
        try:
            event = self._adopted(api, event, spec)
        except CalendarError as error:
            raise _rejected(error, 'the Google Meet could not be read') from None
        return self._meeting(api, event)

    def update(self, account: Account, meeting: ProviderMeeting, spec: MeetingSpec) -> ProviderMeeting:
        """One PATCH: the event keeps its Meet; status confirmed restores an event its host deleted."""
        api = self._api(account)
        try:
            api.call('PATCH', f'{EVENTS}/{meeting.external_id}', params=WRITE,
                     json={'summary': spec.topic[:250], **_when(spec), 'status': 'confirmed'})
        except CalendarError as error:
            if error.status == 404:
                return self.create(account, spec)  # never made under this id: made now
            if error.status in (403, 410) and self._deleted(api, meeting):
                # Google would not restore the event its host deleted: a new one, under an id of its own that a
                # retry of this move finds again.
                return self.create(account, replace(spec, reference=f'{spec.reference}~{meeting.external_id}'))
            raise _rejected(error, 'the Google Meet could not be moved') from None
        return meeting

    @staticmethod
    def _deleted(api: CalendarApi, meeting: ProviderMeeting) -> bool:
        try:
            return api.call('GET', f'{EVENTS}/{meeting.external_id}').json().get('status') == 'cancelled'
        except CalendarError as error:
            if error.status in (404, 410):
                return True
            raise _rejected(error, 'the Google Meet could not be read') from None

    def delete(self, account: Account, meeting: ProviderMeeting) -> None:
        try:
            self._api(account).call('DELETE', f'{EVENTS}/{meeting.external_id}', params={'sendUpdates': 'none'})
        except CalendarError as error:
            if error.status in (404, 410):
                return  # already gone: the goal is reached
            raise _rejected(error, 'the Google Meet could not be deleted') from None

    def host_url(self, account: Account, meeting: ProviderMeeting) -> str:
        return meeting.join_url  # the organizer signed in to Google is recognised on the same link

    def attendee_url(self, account: Account, meeting: ProviderMeeting, attendee: Attendee | None) -> str:
        return meeting.join_url

    def add_attendee(self, account: Account, meeting: ProviderMeeting, spec: MeetingSpec,
                     email: str, name: str) -> Attendee | None:
        return None  # every client of a class joins the session's event through their own link of ours

    def remove_attendee(self, account: Account, meeting: ProviderMeeting, attendee: Attendee) -> None:
        return None

    def check(self, account: Account) -> None:
        if tokens.renew_ahead(account.tenant_id, account.account_id, KEEPER, CHECK_HORIZON_SECONDS,
                              broken_reason=CHECK_FAILED):
            return  # the renewal is the proof: a revoked grant answers invalid_grant.
        try:
            self._api(account, broken_reason=CHECK_FAILED).call('GET', EVENTS, params={'maxResults': '1'})
        except CalendarError as error:
            raise _rejected(error, 'the Google calendar could not be read') from None

    def exists(self, account: Account, meeting: ProviderMeeting) -> bool:
        try:
            event = self._api(account).call('GET', f'{EVENTS}/{meeting.external_id}').json()
        except CalendarError as error:
            if error.status == 404:
                return False
            raise _rejected(error, 'the Google Meet could not be read') from None
        return event.get('status') != 'cancelled'


def _meet_asked(request_id: str) -> dict[str, Any]:
    return {'createRequest': {'requestId': request_id, 'conferenceSolutionKey': {'type': 'hangoutsMeet'}}}


def _at_times(event: dict[str, Any], spec: MeetingSpec) -> bool:
    """Whether the event starts and ends at the spec's instants, to the second as they are sent (Google answers them
    in the event's own zone)."""
    try:
        return all(datetime.fromisoformat(event[name]['dateTime']) == moment.replace(microsecond=0)
                   for name, moment in (('start', spec.start), ('end', spec.end)))
    except (KeyError, TypeError, ValueError):
        return False


def _conference_status(event: dict[str, Any]) -> str:
    request = (event.get('conferenceData') or {}).get('createRequest') or {}
    return str((request.get('status') or {}).get('statusCode', ''))


PROVIDER = GoogleProvider()
