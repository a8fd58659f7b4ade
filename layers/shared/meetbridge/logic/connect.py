"""Connecting a meeting account through the provider's OAuth consent.

1. The admin API hands out a connect link naming an intent kept server side (unguessable, minutes).
2. `start` turns it into a single-use, expiring `state` and sends the browser to the provider; what
   the provider module needs back at the callback (a PKCE verifier, MSAL's whole flow) is kept
   sealed server side.
3. `callback` consumes the state exactly once, exchanges the code, identifies the provider-side user
   and stores the account with its tokens sealed. When the provider kept back the refresh token of an
   earlier grant (Google), nothing is stored: the browser is sent back once more under a new state,
   with the provider's consent screen asked for.
Every failure ends on a page a person can read; nothing here answers with a 5xx for bad input.
"""

import secrets as _random
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pynamodb.exceptions import DeleteError

from meetbridge.domain.hosting import COMPANY, provider_holder
from meetbridge.errors import InvalidInput, NotFound
from meetbridge.logic import accounts, tenants
from meetbridge.observability import logger
from meetbridge.providers.base import ConsentAgain, SignInRefused
from meetbridge.security import secrets
from meetbridge.providers import module_for
from meetbridge.store import repository, tokens
from meetbridge.store.models import AccountItem, ConnectIntentItem, OAuthStateItem

INTENT_LIFETIME = timedelta(minutes=15)
STATE_LIFETIME = timedelta(minutes=10)
# The providers whose accounts connect through a sign-in, with the names people know them by.
OAUTH_PROVIDERS = {'zoom': 'Zoom', 'microsoft': 'Microsoft Teams', 'google': 'Google Meet'}


class ConnectFailed(Exception):
    """Ends the flow with a page: `title` and `detail` are shown to the person."""

    def __init__(self, title: str, detail: str, status: int = 400):
        super().__init__(title)
        self.title, self.detail, self.status = title, detail, status


class AskAgain(Exception):
    """Ends the callback with a redirect to the provider's authorize `url`, the consent screen asked for."""

    def __init__(self, url: str):
        super().__init__('the provider is asked for consent again')
        self.url = url


@dataclass(frozen=True)
class Connected:
    tenant_id: str
    holder: str  # "company" or "provider:<id>"
    account_id: str
    provider_type: str
    email: str
    return_url: str | None


def _safe_return_url(tenant_id: str, url: str | None) -> str | None:
    """Only to an origin the tenant registered: a connect link must not end on someone else's page."""
    if url is None:
        return None
    try:
        origin = tenants.web_origin(url) if len(url) <= 2048 else None
    except ValueError:
        origin = None
    if origin is None or origin not in (repository.get_tenant(tenant_id).return_origins or ()):
        raise InvalidInput('return_url must be an https URL on one of the tenant\'s return origins '
                           '(PUT /v1/tenants/{tenant_id}/settings/return-origins)', field='return_url')
    return url


def create_link(tenant_id: str, provider_type: str, provider_id: str | None, return_url: str | None,
                base_url: str, now: datetime) -> tuple[str, datetime]:
    if provider_type not in OAUTH_PROVIDERS:
        raise NotFound(f'{provider_type!r} accounts are not connected with a sign-in')
    if provider_id is not None:
        repository.get_provider(tenant_id, provider_id)
    token = _random.token_urlsafe(24)
    expires = now + INTENT_LIFETIME
    ConnectIntentItem(*ConnectIntentItem.key(secrets.digest(token)), tenant_id=tenant_id,
                      provider_type=provider_type, provider_id=provider_id,
                      return_url=_safe_return_url(tenant_id, return_url), expires_at=expires, ttl=expires).save()
    return f'{base_url}/oauth/{provider_type}/start?{urlencode({"intent": token})}', expires


def start(provider_type: str, intent_token: str | None, redirect_uri: str, now: datetime) -> str:
    """The provider's authorize URL for this intent. A link is used once: whoever else holds it
    cannot connect another account with it afterwards."""
    intent = repository.find(ConnectIntentItem, ConnectIntentItem.key(secrets.digest(intent_token or '')))
    if intent is not None:
        try:
            intent.delete(condition=ConnectIntentItem.pk.exists())
        except DeleteError:
            intent = None  # opened at the same moment by someone else
    if intent is None or intent.provider_type != provider_type or intent.expires_at < now:
        raise ConnectFailed('This connection link has expired or was already used',
                            'A connection link works once, for 15 minutes. Ask the booking system for a new one.')
    return _keep_flow(intent.tenant_id, provider_type, intent.provider_id, intent.return_url, redirect_uri,
                      module_for(provider_type).begin(redirect_uri), now)


def _keep_flow(tenant_id: str, provider_type: str, provider_id: str | None, return_url: str | None,
               redirect_uri: str, begun: tuple[str, str, dict], now: datetime) -> str:
    """Keeps what the provider module's `begin` needs back at the callback under its single-use state; returns the
    authorize URL."""
    state, auth_url, flow = begun
    expires = now + STATE_LIFETIME
    OAuthStateItem(*OAuthStateItem.key(state), tenant_id=tenant_id, provider_type=provider_type,
                   provider_id=provider_id, return_url=return_url, redirect_uri=redirect_uri,
                   flow_sealed=repository.seal_json(flow, tenant_id, 'oauth_flow', state),
                   expires_at=expires, ttl=expires).save()
    return auth_url


def _consume_state(state: str | None, now: datetime) -> OAuthStateItem:
    """Exactly once: a second callback with the same state finds nothing."""
    item = repository.find(OAuthStateItem, OAuthStateItem.key(state or '')) if state and len(state) < 200 else None
    if item is not None:
        try:
            item.delete(condition=OAuthStateItem.pk.exists())
        except DeleteError:
            item = None
    if item is None or item.expires_at < now:
        raise ConnectFailed('This sign-in has expired or was already used',
                            'Start again from the connection link in the booking system.')
    return item


def callback(provider_type: str, params: dict[str, str], redirect_uri: str, now: datetime) -> Connected:
    if params.get('error'):
        if params.get('state'):
            try:
                _consume_state(params['state'], now)
            except ConnectFailed:
                pass
        denied = params['error'] == 'access_denied'
        raise ConnectFailed('Connection cancelled' if denied else 'The provider refused the connection',
                            'No account was connected. You can start again from the booking system.')
    state = _consume_state(params.get('state'), now)
    if state.provider_type != provider_type:
        raise ConnectFailed('This sign-in does not belong here', 'Start again from the connection link.')
    if state.redirect_uri != redirect_uri:
        raise ConnectFailed('This sign-in came back to another address', 'Start again from the connection link.')
    flow = repository.unseal_json(state.flow_sealed, state.tenant_id, 'oauth_flow', state.state)
    try:
        signed_in = module_for(provider_type).finish(flow, params, redirect_uri)
    except ConsentAgain:
        # The same intent once more under a new state; that flow asks for consent, so it never ends here again.
        logger.info('sign-in asked again with consent', extra={'provider': provider_type})
        raise AskAgain(_keep_flow(state.tenant_id, provider_type, state.provider_id, state.return_url, redirect_uri,
                                  module_for(provider_type).begin(redirect_uri, consent=True), now)) from None
    except SignInRefused as refusal:
        logger.warning('sign-in refused', extra={'provider': provider_type, 'reason': refusal.title})
        raise ConnectFailed(refusal.title, refusal.detail, refusal.status) from None
    holder = provider_holder(state.provider_id) if state.provider_id else COMPANY
    item = _account_to_connect(state.tenant_id, holder, provider_type, signed_in.user_id, now)
    item.status = repository.ACTIVE
    item.problem = None
    item.refresh_lease_until = None
    item.checked_tick = None  # new tokens: the next check request, even for a tick already checked, proves them
    item.settings = {'user_id': signed_in.user_id, 'account_id': signed_in.account_id, 'email': signed_in.email,
                     'role': signed_in.role}
    item.secret_sealed = tokens.seal_state(signed_in.state, state.tenant_id, item.account_id)
    item.gsi1pk = repository.provider_user_key(provider_type, signed_in.user_id)
    item.gsi1sk = f'{state.tenant_id}#{item.account_id}'
    accounts.use(state.tenant_id, holder, item, now)
    logger.info('account connected', extra={'tenant_id': state.tenant_id, 'holder': holder,
                                            'account_id': item.account_id, 'provider': provider_type})
    return Connected(state.tenant_id, holder, item.account_id, provider_type, signed_in.email, state.return_url)


def _account_to_connect(tenant_id: str, holder: str, provider_type: str, user_id: str,
                        now: datetime) -> AccountItem:
    """The holder's account when it is the same provider-side user signing in again (its tokens are renewed
    and its meetings stay with it), else a new account, which replaces the one the holder used."""
    current = repository.account_used_by(tenant_id, holder)
    if current is not None and current.type == provider_type and \
            repository.settings_of(current).get('user_id') == user_id:
        return current
    return accounts.new_account(tenant_id, provider_type, now)


def return_to(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))

