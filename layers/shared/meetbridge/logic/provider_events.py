"""Events a meeting provider sends us about accounts (Zoom: URL validation, app_deauthorized).

The signature is checked over the raw body before anything else, the URL-validation challenge
included: answering it unverified would sign any text an attacker chooses.
"""

from datetime import UTC, datetime
from typing import Any

from meetbridge import events, outbox, safe_json
from meetbridge.errors import InvalidInput
from meetbridge.observability import logger
from meetbridge.security.signatures import hmac_sha256_hex, verify_zoom
from meetbridge.store import repository
from meetbridge.store.models import AccountItem

MAX_PLAIN_TOKEN = 256


def zoom_event(headers: dict[str, str], body: bytes, now: float) -> dict[str, Any]:
    """The JSON answer for Zoom. Raises SignatureError (401) or InvalidInput (400)."""
    from meetbridge.providers.zoom import credentials

    secret = credentials()['webhook_secret_token'].encode()
    verify_zoom(secret, headers.get('x-zm-request-timestamp'), headers.get('x-zm-signature'), body, now)
    event = safe_json.loads_object(body)
    name, payload = event.get('event'), event.get('payload') or {}
    if not isinstance(name, str):
        raise InvalidInput('not a Zoom event: "event" is missing', field='event')
    if name == 'endpoint.url_validation':
        plain = payload.get('plainToken') if isinstance(payload, dict) else None
        if not isinstance(plain, str) or not plain or len(plain) > MAX_PLAIN_TOKEN:
            raise InvalidInput('plainToken is missing')
        return {'plainToken': plain, 'encryptedToken': hmac_sha256_hex(secret, plain.encode())}
    if name == 'app_deauthorized':
        user_id = payload.get('user_id') if isinstance(payload, dict) else None
        if not isinstance(user_id, str) or not user_id:
            raise InvalidInput('user_id is missing')
        return {'disconnected': deauthorized('zoom', user_id)}
    return {}


def deauthorized(provider_type: str, user_id: str) -> int:
    """The user removed our app: their tokens are deleted and every account that holds them is disconnected.
    An account replaced earlier is no longer indexed under the user, so it is never reached here."""
    indexed_as = repository.provider_user_key(provider_type, user_id)
    count = 0
    for found in repository.accounts_of_provider_user(provider_type, user_id):
        tenant_id = found.gsi1sk.split('#', 1)[0]
        item = AccountItem.get(found.pk, found.sk, consistent_read=True)
        if item.gsi1pk != indexed_as:
            continue  # the index lags: already handled, or replaced by another account meanwhile
        problem = 'The app was removed from the meeting account by its user.'
        outbox.update(tenant_id, item, [
            AccountItem.status.set(repository.DISCONNECTED),
            AccountItem.problem.set(problem),
            AccountItem.secret_sealed.remove(),
            AccountItem.refresh_lease_until.remove(),
            AccountItem.gsi1pk.remove(),
            AccountItem.gsi1sk.remove(),
            AccountItem.updated_at.set(datetime.now(UTC)),
        ], events.connection_broken(tenant_id, item, problem, 'deauthorized'))
        logger.info('account removed at the provider', extra={'tenant_id': tenant_id,
                                                              'account_id': item.account_id})
        count += 1
    return count
