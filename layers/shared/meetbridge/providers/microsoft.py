"""Microsoft Teams: organisation accounts signed in with MSAL, meetings through Microsoft Graph.

Each account's MSAL token cache is its sealed state: a fresh `SerializableTokenCache` is loaded for
every use and written back only when MSAL changed it, so no cache is ever shared between accounts
in a warm Lambda. MSAL speaks to the identity platform through httpx2 like every other call here.
"""

import functools
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2
import msal

from meetbridge import budget
from meetbridge.config import MicrosoftSettings, settings
from meetbridge.errors import RetryLater
from meetbridge.store import tokens
from meetbridge.observability import logger
from meetbridge.providers.base import (
    CHECK_FAILED,
    CHECK_HORIZON_SECONDS,
    Attendee,
    Authorized,
    MeetingSpec,
    ProviderMeeting,
    ProviderRejected,
    SignInRefused,
)
from meetbridge.store.repository import Account

# MSAL adds openid, profile and offline_access itself and refuses them here.
SCOPES = ['OnlineMeetings.ReadWrite', 'User.Read']
# The tenant of personal Microsoft accounts: Graph cannot make online meetings for them.
PERSONAL_ACCOUNTS_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad'
TIMEOUT = httpx2.Timeout(10.0, connect=3.0)
RATE_RETRIES = 3
MAX_INLINE_WAIT_SECONDS = 5.0


def credentials() -> dict[str, str]:
    """{client_id, client_secret} from Secrets Manager; Powertools keeps them for five minutes."""
    from aws_lambda_powertools.utilities import parameters

    return parameters.get_secret(settings(MicrosoftSettings).microsoft_client_secret_arn, transform='json', max_age=300)


class MsalHttpClient:
    """MSAL's `http_client` on httpx2. MSAL needs an https authority; the local stack and the tests
    serve it from a sandbox, so requests to the authority's host may go to another origin."""

    def __init__(self, authority: str, origin: str | None):
        self._authority_host = urlsplit(authority).netloc
        self._origin = urlsplit(origin) if origin else None
        self._client = httpx2.Client(timeout=TIMEOUT)

    def _route(self, url: str) -> str:
        parts = urlsplit(url)
        if self._origin is None or parts.netloc != self._authority_host:
            return url
        return urlunsplit(parts._replace(scheme=self._origin.scheme, netloc=self._origin.netloc))

    def get(self, url, params=None, headers=None, **kwargs):
        return self._client.get(self._route(url), params=params, headers=headers)

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        return self._client.post(self._route(url), params=params, data=data, headers=headers)

    def close(self) -> None:
        self._client.close()


@functools.cache
def _msal_http(authority: str, origin: str) -> tuple[MsalHttpClient, dict]:
    """One pooled client per container (and authority), and MSAL's HTTP cache shared by the apps built on
    it: the authority's discovery document is then fetched once, not on every sign-in or refresh."""
    return MsalHttpClient(authority, origin or None), {}


def _app(cache: msal.SerializableTokenCache | None = None) -> msal.ConfidentialClientApplication:
    """A new app for every use, so a token cache is never shared between accounts."""
    app_credentials = credentials()
    config = settings(MicrosoftSettings)
    http_client, http_cache = _msal_http(config.microsoft_authority, config.microsoft_authority_origin)
    return msal.ConfidentialClientApplication(
        app_credentials['client_id'], client_credential=app_credentials['client_secret'],
        authority=config.microsoft_authority, token_cache=cache, instance_discovery=False,
        http_client=http_client, http_cache=http_cache)


def _cache(serialized: str | None = None) -> msal.SerializableTokenCache:
    cache = msal.SerializableTokenCache()
    if serialized:
        cache.deserialize(serialized)
    return cache


# --- connecting ---------------------------------------------------------------------------------


def begin(redirect_uri: str) -> tuple[str, str, dict[str, Any]]:
    """MSAL's auth code flow (state, nonce, PKCE): the whole dict is kept server side until the callback.
    The answer comes back as a form POST, so the code never sits in a URL, a history or an access log."""
    flow = _app().initiate_auth_code_flow(SCOPES, redirect_uri=redirect_uri, response_mode='form_post')
    return flow['state'], flow['auth_uri'], flow


def finish(flow: dict[str, Any], params: dict[str, str], redirect_uri: str) -> Authorized:
    cache = _cache()
    app = _app(cache)
    try:
        result = app.acquire_token_by_auth_code_flow(flow, dict(params), scopes=SCOPES)
    except (ValueError, RuntimeError):  # state or nonce mismatch: raised, not returned
        raise SignInRefused('This sign-in does not match', 'Start again from the connection link.') from None
    except httpx2.HTTPError:
        raise SignInRefused('Microsoft did not answer', 'Please try again in a minute.', status=502) from None
    if 'error' in result:
        raise SignInRefused('Microsoft did not accept this sign-in',
                            f'{result.get("error")}: the sign-in may have been used already or taken too long. '
                            'Start again.')
    claims = result.get('id_token_claims') or {}
    if claims.get('tid') == PERSONAL_ACCOUNTS_TENANT:
        raise SignInRefused('Personal Microsoft accounts cannot host Teams meetings',
                            'Sign in with a work or school account (Microsoft 365) that has Teams.')
    accounts = app.get_accounts()
    account = next((a for a in accounts if a.get('local_account_id') == claims.get('oid')), None) or \
        (accounts[0] if accounts else None)
    if account is None or not claims.get('oid'):
        raise SignInRefused('Microsoft did not say who signed in', 'Start again from the connection link.')
    _preflight(result['access_token'])
    return Authorized(user_id=claims['oid'], email=claims.get('preferred_username', ''),
                      account_id=claims.get('tid'), role=None,
                      state={'cache': cache.serialize(), 'account': account['home_account_id']})


def _preflight(access_token: str) -> None:
    """Creates and deletes a test meeting, so a missing licence or permission shows now, not at a booking."""
    now = datetime.now(UTC).replace(microsecond=0)
    headers = {'Authorization': f'Bearer {access_token}'}
    body = {'subject': 'meetbridge connection check', 'startDateTime': now.isoformat(),
            'endDateTime': (now + timedelta(minutes=15)).isoformat()}
    try:
        made = _http().post('/me/onlineMeetings', json=body, headers=headers)
    except httpx2.HTTPError:
        raise SignInRefused('Microsoft did not answer', 'Please try again in a minute.', status=502) from None
    if made.status_code == 201:
        _remove_check_meeting(made.json()['id'], headers)
        return
    code, message = _graph_error(made)
    raise SignInRefused('This account cannot create Teams meetings',
                        f'Microsoft Graph refused a test meeting ({made.status_code} {code}): {message} '
                        'The account needs a Teams licence and permission to create online meetings.')


def _remove_check_meeting(meeting_id: str, headers: dict[str, str]) -> None:
    """The account works; a check meeting that will not go away is only logged (it is never joined)."""
    try:
        removed = _http().delete(f'/me/onlineMeetings/{meeting_id}', headers=headers)
        if removed.status_code in (204, 404):
            return
        problem = f'Graph answered {removed.status_code}'
    except httpx2.HTTPError as exc:
        problem = type(exc).__name__
    logger.warning('the connection check meeting could not be removed', extra={'problem': problem})


def revoke(account: Account) -> None:
    """Nothing to call: the identity platform revokes one app's delegated tokens only together with all of the
    user's sign-in sessions (revokeSignInSessions), which would sign them out everywhere. Deleting the account's
    sealed token cache, as the caller does, ends our access."""


# --- tokens -------------------------------------------------------------------------------------


class MsalKeeper:
    """Microsoft's tokens: an MSAL cache. Each refresh gives a new refresh token; the old one stays valid."""

    def held(self, state: dict[str, Any], now: float) -> str | None:
        cache = _cache(state['cache'])
        for entry in cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN,
                                  query={'home_account_id': state['account']}, now=now):
            if int(entry.get('expires_on', 0)) - tokens.EXPIRY_MARGIN_SECONDS > now:
                return entry['secret']
        return None

    def renew(self, state: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        cache = _cache(state['cache'])
        app = _app(cache)
        account = next((a for a in app.get_accounts() if a['home_account_id'] == state['account']), None)
        if account is None:
            raise tokens.InvalidGrant()
        try:
            result = app.acquire_token_silent_with_error(SCOPES, account, force_refresh=True)
        except httpx2.HTTPError as exc:
            raise RetryLater(f'Microsoft did not answer the refresh ({type(exc).__name__})') from None
        if result is None or result.get('error') in ('invalid_grant', 'interaction_required'):
            raise tokens.InvalidGrant()
        if 'access_token' not in result:
            raise RetryLater(f'Microsoft refused the refresh for now: {result.get("error")}')
        changed = {'cache': cache.serialize(), 'account': state['account']} if cache.has_state_changed else None
        return result['access_token'], changed


KEEPER = MsalKeeper()


# --- Graph --------------------------------------------------------------------------------------


class GraphError(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(f'Graph answered {status} ({code})')
        self.status, self.code, self.message = status, code, message


def _http() -> httpx2.Client:
    return _pooled_client(settings(MicrosoftSettings).graph_base)


@functools.cache
def _pooled_client(base_url: str) -> httpx2.Client:
    """One per container and Graph base: a warm container reuses its connections."""
    return httpx2.Client(base_url=base_url, timeout=TIMEOUT)


def _graph_error(response: httpx2.Response) -> tuple[str, str]:
    try:
        error = response.json().get('error') or {}
    except (ValueError, AttributeError):
        error = {}
    return str(error.get('code', '')), str(error.get('message', ''))


class GraphApi:
    def __init__(self, account: Account, sleep=time.sleep, broken_reason: str | None = None):
        self.account, self.sleep, self.broken_reason = account, sleep, broken_reason

    def _token(self, rejected: str | None = None) -> str:
        return tokens.access_token(self.account.tenant_id, self.account.account_id, KEEPER, rejected=rejected,
                                   broken_reason=self.broken_reason)

    def call(self, method: str, path: str, json: dict | None = None) -> httpx2.Response:
        token, attempt = self._token(), 0
        while True:
            try:
                response = _http().request(method, path, json=json, headers={'Authorization': f'Bearer {token}'},
                                           timeout=budget.http_timeout(TIMEOUT))
            except httpx2.HTTPError as exc:
                raise RetryLater(f'Microsoft Graph did not answer ({type(exc).__name__})') from None
            if response.status_code < 300:
                return response
            code, message = _graph_error(response)
            if response.status_code == 401 and attempt == 0:
                token, attempt = self._token(rejected=token), attempt + 1
                continue
            if response.status_code == 429 and attempt < RATE_RETRIES:
                attempt += 1
                header = response.headers.get('retry-after', '')
                wait = float(header) if header.isdigit() else min(MAX_INLINE_WAIT_SECONDS, 0.5 * 2 ** attempt)
                if wait > MAX_INLINE_WAIT_SECONDS or wait > budget.left(wait):
                    raise RetryLater('Microsoft Graph asked to slow down')
                self.sleep(wait * random.uniform(0.8, 1.2))
                continue
            if response.status_code == 429 or response.status_code >= 500:
                raise RetryLater(f'Microsoft Graph is unavailable or busy ({response.status_code})')
            raise GraphError(response.status_code, code, message)


class MicrosoftProvider:
    type = 'microsoft'

    @staticmethod
    def _times(spec: MeetingSpec) -> dict[str, str]:
        # A time change needs both ends (Graph keeps the other one otherwise).
        return {'startDateTime': spec.start.astimezone(UTC).isoformat().replace('+00:00', 'Z'),
                'endDateTime': spec.end.astimezone(UTC).isoformat().replace('+00:00', 'Z')}

    @staticmethod
    def _lobby(spec: MeetingSpec) -> dict[str, Any]:
        # Clients join from the browser as guests: with the tenant's waiting room on they wait in the lobby.
        waiting_room = bool((spec.settings or {}).get('waiting_room'))
        return {'scope': 'organizer' if waiting_room else 'everyone', 'isDialInBypassEnabled': not waiting_room}

    def create(self, account: Account, spec: MeetingSpec) -> ProviderMeeting:
        """createOrGet with our reference as `externalId`: a repeated attempt gets the meeting the first made.
        createOrGet takes no lobby or presenter settings, so they are set after when they differ."""
        body = {'externalId': spec.reference, 'subject': spec.topic[:250], **self._times(spec)}
        wanted = {'lobbyBypassSettings': self._lobby(spec), 'allowedPresenters': 'organizer'}
        api = GraphApi(account)
        try:
            made = api.call('POST', '/me/onlineMeetings/createOrGet', json=body).json()
            lobby = made.get('lobbyBypassSettings') or {}
            if (made.get('allowedPresenters'), {name: lobby.get(name) for name in wanted['lobbyBypassSettings']}) != (
                    wanted['allowedPresenters'], wanted['lobbyBypassSettings']):
                made = api.call('PATCH', f'/me/onlineMeetings/{made["id"]}', json=wanted).json()
        except GraphError as error:
            raise _rejected(error, 'the Teams meeting could not be created') from None
        passcode = (made.get('joinMeetingIdSettings') or {}).get('passcode')
        return ProviderMeeting(external_id=made['id'], join_url=made['joinWebUrl'], password=passcode)

    def find(self, account: Account, spec: MeetingSpec) -> ProviderMeeting | None:
        """Graph looks a meeting up by `externalId` only through createOrGet, which makes it when there is
        none: the caller keeps or deletes what it gets, as any meeting found."""
        return self.create(account, spec)

    def update(self, account: Account, meeting: ProviderMeeting, spec: MeetingSpec) -> ProviderMeeting:
        try:
            GraphApi(account).call('PATCH', f'/me/onlineMeetings/{meeting.external_id}',
                                   json={'subject': spec.topic[:250], **self._times(spec)})
        except GraphError as error:
            if error.status == 404:
                return self.create(account, spec)  # deleted in Teams meanwhile: make it again
            raise _rejected(error, 'the Teams meeting could not be moved') from None
        return meeting

    def delete(self, account: Account, meeting: ProviderMeeting) -> None:
        try:
            GraphApi(account).call('DELETE', f'/me/onlineMeetings/{meeting.external_id}')
        except GraphError as error:
            if error.status == 404:
                return  # already gone: the goal is reached
            raise _rejected(error, 'the Teams meeting could not be deleted') from None

    def host_url(self, account: Account, meeting: ProviderMeeting) -> str:
        return meeting.join_url  # the organizer signed in to Teams is recognised on the same link

    def attendee_url(self, account: Account, meeting: ProviderMeeting, attendee: Attendee | None) -> str:
        return meeting.join_url

    def add_attendee(self, account: Account, meeting: ProviderMeeting, spec: MeetingSpec,
                     email: str, name: str) -> Attendee | None:
        return None  # every client of a class joins the session's meeting through their own link of ours

    def remove_attendee(self, account: Account, meeting: ProviderMeeting, attendee: Attendee) -> None:
        return None

    def check(self, account: Account) -> None:
        if tokens.renew_ahead(account.tenant_id, account.account_id, KEEPER, CHECK_HORIZON_SECONDS,
                              broken_reason=CHECK_FAILED):
            return  # the renewal is the proof: a revoked refresh token answers invalid_grant.
        try:
            GraphApi(account, broken_reason=CHECK_FAILED).call('GET', '/me')
        except GraphError as error:
            if error.status == 401:  # refused again after a renewal: the account's authorisation is gone
                raise ProviderRejected('the Microsoft account could not be read: Microsoft refused its authorisation',
                                       about_account=True) from None
            raise _rejected(error, 'the Microsoft account could not be read') from None

    def exists(self, account: Account, meeting: ProviderMeeting) -> bool:
        try:
            GraphApi(account).call('GET', f'/me/onlineMeetings/{meeting.external_id}')
        except GraphError as error:
            if error.status == 404:
                return False
            raise _rejected(error, 'the Teams meeting could not be read') from None
        return True


def _rejected(error: GraphError, what: str) -> ProviderRejected:
    if error.status == 403:
        return ProviderRejected(f'{what}: Microsoft refused ({error.code}); the account needs a Teams licence and '
                                'permission to create online meetings', about_account=True)
    return ProviderRejected(f'{what}: Microsoft Graph answered {error.status} ({error.code})')


PROVIDER = MicrosoftProvider()
