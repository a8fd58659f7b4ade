"""Meeting accounts and who uses them.

An account is a record under an id that never changes, and every meeting stores the id of the account
that made it. The company ("company") and each provider ("provider:<id>") use an account through a
pointer. Pointing a holder at another account replaces the one it used: a custom link is retired (its
meetings keep their room), an OAuth account is marked revoked and unindexed, and its future meetings are
re-homed (logic/rehoming.py); its tokens are revoked at its provider and deleted once its old meetings are
deleted there (see docs/data-model.md).
"""

import secrets
from datetime import datetime

from meetbridge import events, outbox
from meetbridge.errors import NotFound
from meetbridge.observability import logger
from meetbridge.providers import module_for
from meetbridge.store import repository, tokens
from meetbridge.store.models import AccountItem, AccountPointerItem

# Account types connected through the provider's sign-in: they hold tokens to revoke.
OAUTH_TYPES = ('zoom', 'microsoft', 'google')


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
    holder = item.holder
    item.holder = None
    item.updated_at = now
    if item.type in OAUTH_TYPES and item.status not in repository.GONE:
        # Its tokens stay until its reconciliation has deleted its future meetings (re-homed meanwhile).
        item.status = repository.REVOKED
        _unindex(item)
        outbox.save(tenant_id, item, events.connection_disconnected(tenant_id, item, holder, 'replaced'))
    else:
        if item.type not in OAUTH_TYPES and item.status != repository.DISCONNECTED:
            item.status = repository.RETIRED
        repository.save(item)
    logger.info('meeting account replaced', extra={'tenant_id': tenant_id, 'account_id': account_id,
                                                   'status': item.status})


def disconnect(tenant_id: str, holder: str, now: datetime) -> AccountItem:
    """New meetings of the holder no longer use the account; its future meetings are re-homed to the next
    account of the chain (logic/rehoming.py), which then revokes an OAuth account's authorisation at its
    provider: its tokens stay until its old meetings are deleted."""
    item = used_by(tenant_id, holder)
    if item.status == repository.DISCONNECTED:
        return item
    item.status = repository.DISCONNECTED
    item.problem = None  # the admin's own choice: the hosting chain passes over it without a word (logic/bookings.py)
    item.settings = {**repository.settings_of(item), 'has_password': False}
    item.updated_at = now
    _unindex(item)
    if item.type not in OAUTH_TYPES:
        item.secret_sealed = None  # a custom link's password: its meetings keep their own copy
    outbox.save(tenant_id, item, events.connection_disconnected(tenant_id, item, holder, 'admin'))
    return item


def _unindex(item: AccountItem) -> None:
    """No later event about its provider-side user (Zoom's app_deauthorized) reaches the account."""
    item.refresh_lease_until = None
    item.gsi1pk = item.gsi1sk = None


def _signed_in_elsewhere(tenant_id: str, item: AccountItem) -> bool:
    """Whether another live account, of any tenant, is signed in as this account's provider-side user. Zoom's and
    Google's authorisation is one per user and app: revoking it for this account would end that one's access too."""
    user_id = repository.settings_of(item).get('user_id')
    own = f'{tenant_id}#{item.account_id}'
    return bool(user_id) and any(found.gsi1sk != own
                                 for found in repository.accounts_of_provider_user(item.type, user_id))


def forget_authorisation(tenant_id: str, account_id: str) -> None:
    """Revokes an OAuth account let go on our side at its provider (best effort; not while another live account is
    signed in as the same provider-side user), then forgets its tokens. Called once its reconciliation is over;
    nothing to do for an account that holds none."""
    item = repository.find_consistent(AccountItem, AccountItem.key(tenant_id, account_id))
    if item is None or item.status not in repository.GONE or not item.secret_sealed:
        return
    if item.type in OAUTH_TYPES and _signed_in_elsewhere(tenant_id, item):
        logger.info('authorisation kept at the provider for another account of the same user',
                    extra={'tenant_id': tenant_id, 'account_id': account_id})
    elif item.type in OAUTH_TYPES:
        try:
            with tokens.letting_go(account_id):
                module_for(item.type).revoke(repository.account_of(item, tenant_id))
        except Exception as exc:  # the account is let go here whatever the provider answers
            logger.warning('token revocation failed', extra={'tenant_id': tenant_id, 'account_id': account_id,
                                                             'error': type(exc).__name__})
        item.refresh(consistent_read=True)  # revoking may have renewed the tokens
    item.secret_sealed = None
    item.refresh_lease_until = None
    repository.save(item)
    logger.info('meeting account authorisation ended', extra={'tenant_id': tenant_id, 'account_id': account_id})
