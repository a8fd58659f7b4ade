"""Meeting accounts and who uses them.

An account is a record under an id that never changes, and every meeting stores the id of the account
that made it. The company ("company") and each provider ("provider:<id>") use an account through a
pointer. Pointing a holder at another account replaces the one it used: a custom link is retired (its
meetings keep their room), an OAuth account is revoked at its provider, its tokens deleted and its
index entry removed (its meetings' links answer from what was stored with them; see docs/data-model.md).
"""

import secrets
from datetime import datetime

from meetbridge import events, outbox
from meetbridge.errors import NotFound
from meetbridge.observability import logger
from meetbridge.providers import module_for
from meetbridge.store import repository
from meetbridge.store.models import AccountItem, AccountPointerItem

# Account types connected through the provider's sign-in: they hold tokens to revoke.
OAUTH_TYPES = ('zoom', 'microsoft')


def new_account(tenant_id: str, account_type: str, now: datetime) -> AccountItem:
    account_id = f'acc_{secrets.token_hex(10)}'
    return AccountItem(*AccountItem.key(tenant_id, account_id), account_id=account_id, type=account_type,
                       created_at=now, updated_at=now)


def used_by(tenant_id: str, holder: str) -> AccountItem:
    account = repository.account_used_by(tenant_id, holder)
    if account is None:
        raise NotFound('meeting account not found')
    return account


def use(tenant_id: str, holder: str, account: AccountItem, now: datetime) -> None:
    """Saves `account` and points the holder at it; the account the holder used before is replaced.
    `connection.connected` is written with the write that makes the account usable (the account's own when the
    holder already points at it, else the pointer's), so the bookings it retries find it in use."""
    pointer = repository.find(AccountPointerItem, AccountPointerItem.key(tenant_id, holder))
    previous_id = pointer.account_id if pointer is not None else None
    account.holder = holder
    account.updated_at = now
    if previous_id == account.account_id:
        outbox.save(tenant_id, account, _connected(tenant_id, account, (account.version or 0) + 1))
        return
    repository.save(account)
    pointer = pointer or AccountPointerItem(*AccountPointerItem.key(tenant_id, holder), holder=holder)
    pointer.account_id = account.account_id
    pointer.updated_at = now
    # Versioned: of two replacements at the same moment, one answers 409.
    outbox.save(tenant_id, pointer, _connected(tenant_id, account, account.version))
    if previous_id is not None:
        _replace(tenant_id, previous_id, now)


def _connected(tenant_id: str, account: AccountItem, version: int) -> events.Event:
    """`version`: the one the write gave the account, so a repeated write repeats the id and a later one does not."""
    return events.Event(
        subject=f'account#{account.account_id}#connected',
        event_id=f'{tenant_id}/{account.account_id}/connected/v{version}',
        detail_type=events.CONNECTION_CONNECTED,
        detail={'tenant_id': tenant_id, 'account_id': account.account_id, 'holder': account.holder,
                'type': account.type},
    )


def _replace(tenant_id: str, account_id: str, now: datetime) -> None:
    item = repository.find(AccountItem, AccountItem.key(tenant_id, account_id))
    if item is None:
        return
    if item.type in OAUTH_TYPES and item.status not in repository.GONE:
        _end_authorisation(tenant_id, item)
        item.status = repository.REVOKED
    elif item.type not in OAUTH_TYPES and item.status != repository.DISCONNECTED:
        item.status = repository.RETIRED
    item.holder = None
    item.updated_at = now
    repository.save(item)
    logger.info('meeting account replaced', extra={'tenant_id': tenant_id, 'account_id': account_id,
                                                   'status': item.status})


def disconnect(tenant_id: str, holder: str, now: datetime) -> AccountItem:
    """New meetings of the holder no longer use the account; the join page of its meetings says it is
    unavailable. An OAuth account's authorisation is ended at the provider first (best effort)."""
    item = used_by(tenant_id, holder)
    if item.status not in repository.GONE:
        _end_authorisation(tenant_id, item)
    item.status = repository.DISCONNECTED
    item.settings = {**repository.settings_of(item), 'has_password': False}
    item.updated_at = now
    repository.save(item)
    return item


def _end_authorisation(tenant_id: str, item: AccountItem) -> None:
    """Revokes an OAuth account at its provider, then forgets its tokens and unindexes it, so that no
    later event about its provider-side user reaches it. `item` is read again: revoking may renew tokens."""
    if item.type in OAUTH_TYPES and item.secret_sealed:
        try:
            module_for(item.type).revoke(repository.account_of(item, tenant_id))
        except Exception as exc:  # the account is let go here whatever the provider answers
            logger.warning('token revocation failed', extra={'tenant_id': tenant_id, 'account_id': item.account_id,
                                                             'error': type(exc).__name__})
        item.refresh(consistent_read=True)
    item.secret_sealed = None
    item.refresh_lease_until = None
    item.gsi1pk = item.gsi1sk = None
