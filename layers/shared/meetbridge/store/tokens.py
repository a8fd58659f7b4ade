"""OAuth tokens of a meeting account, renewed exactly once however many Lambdas need them.

Zoom rotates refresh tokens and kills the old one on first use, so two concurrent refreshes would
break the account. A refresh is therefore claimed first: a versioned conditional write sets
`refresh_lease_until`; the winner refreshes and stores the new tokens (before anyone uses the new
access token), losers re-read until the new tokens are there. An `invalid_grant` after somebody
else already rotated the token is retried from the store; a real one marks the account
"needs reconnect" and raises `connection.broken` for the admin.
"""

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Protocol

from pynamodb.exceptions import UpdateError

from meetbridge import events, outbox
from meetbridge.errors import MeetbridgeError, RetryLater
from meetbridge.observability import logger
from meetbridge.security import sealing
from meetbridge.store import repository
from meetbridge.store.models import AccountItem

# A token this close to expiry is refreshed before use.
EXPIRY_MARGIN_SECONDS = 60
# How long a refresh may take before another invocation may claim it again.
LEASE_SECONDS = 20
# How long a loser waits in total for the winner's new tokens.
WAIT_SECONDS = 15
POLL_SECONDS = 0.15


# The account let go on our side (disconnected by the admin, replaced) whose tokens this context may still use:
# they are kept only until its reconciliation has deleted its old meetings and revoked them (logic/rehoming.py).
_LETTING_GO: ContextVar[str | None] = ContextVar('letting_go', default=None)


@contextmanager
def letting_go(account_id: str) -> Iterator[None]:
    """Within it, the tokens of `account_id` are usable though the account is no longer active."""
    token = _LETTING_GO.set(account_id)
    try:
        yield
    finally:
        _LETTING_GO.reset(token)


class InvalidGrant(Exception):
    """The provider refused the account's authorisation: only connecting again helps."""


class ConnectionUnusable(MeetbridgeError):
    """The account is disconnected or needs reconnecting; `status` says which."""

    def __init__(self, message: str, status: str):
        super().__init__(message)
        self.status = status


class Keeper(Protocol):
    """How one provider keeps its tokens in an account's sealed state (a JSON object)."""

    def held(self, state: dict[str, Any], now: float) -> str | None:
        """An access token in `state` that is usable now, or None."""

    def renew(self, state: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
        """A new access token and the state to store (None: unchanged). Raises InvalidGrant, or
        anything else for a transient failure."""


def _context(tenant_id: str, account_id: str) -> dict[str, str]:
    return repository.seal_context(tenant_id, *repository.account_secret_context(account_id))


def seal_state(state: dict[str, Any], tenant_id: str, account_id: str) -> bytes:
    return sealing.seal(json.dumps(state).encode(), _context(tenant_id, account_id))


def open_state(item: AccountItem, tenant_id: str) -> dict[str, Any]:
    return json.loads(sealing.unseal(item.secret_sealed, _context(tenant_id, item.account_id)))


def _read(tenant_id: str, account_id: str) -> AccountItem:
    item = repository.find_consistent(AccountItem, AccountItem.key(tenant_id, account_id))
    if item is None or not item.secret_sealed or \
            (item.status in repository.GONE and _LETTING_GO.get() != account_id):
        raise ConnectionUnusable('the meeting account is disconnected', 'disconnected')
    if item.status in repository.GONE:
        return item
    if item.status != 'active':
        raise ConnectionUnusable('the meeting account needs to be connected again', item.status)
    return item


def state_of(tenant_id: str, account_id: str) -> dict[str, Any]:
    """The account's token state as stored (a refresh token to revoke, say); ConnectionUnusable as access_token."""
    return open_state(_read(tenant_id, account_id), tenant_id)


def access_token(tenant_id: str, account_id: str, keeper: Keeper, rejected: str | None = None,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] = time.sleep,
                 broken_reason: str | None = None) -> str:
    """A usable access token; `rejected` is one the provider just refused, which is never returned again.
    `broken_reason` goes into the `connection.broken` of an authorisation the provider refuses."""
    deadline = clock() + WAIT_SECONDS
    while True:
        item = _read(tenant_id, account_id)
        state = open_state(item, tenant_id)
        now = clock()
        token = keeper.held(state, now)
        if token is not None and token != rejected:
            return token
        if _claim(item, now):
            renewed = _renew(item, tenant_id, state, keeper, broken_reason)
            if renewed is not None:
                return renewed
        elif clock() > deadline:
            raise RetryLater('another invocation is still refreshing the account tokens')
        else:
            sleep(POLL_SECONDS)


def _claim(item: AccountItem, now: float) -> bool:
    lease_free = AccountItem.refresh_lease_until.does_not_exist() | (AccountItem.refresh_lease_until < now)
    try:
        item.update(actions=[AccountItem.refresh_lease_until.set(now + LEASE_SECONDS)], condition=lease_free)
    except UpdateError as exc:
        if exc.cause_response_code == 'ConditionalCheckFailedException':
            return False  # another invocation holds the lease, or the item changed under us
        raise
    return True


def renew_ahead(tenant_id: str, account_id: str, keeper: Keeper, seconds: float, broken_reason: str | None = None,
                clock: Callable[[], float] = time.time) -> bool:
    """Renews the tokens when the held access token would expire within `seconds` (True), else leaves them
    (False). Invocations racing here renew once: each refuses only the token it saw, so a loser takes the
    winner's new one."""
    state = open_state(_read(tenant_id, account_id), tenant_id)
    now = clock()
    if keeper.held(state, now + seconds) is not None:
        return False
    access_token(tenant_id, account_id, keeper, rejected=keeper.held(state, now), clock=clock,
                 broken_reason=broken_reason)
    return True


def _renew(item: AccountItem, tenant_id: str, state: dict[str, Any], keeper: Keeper,
           broken_reason: str | None = None) -> str | None:
    """The new access token, or None when another invocation already renewed the state (read again)."""
    try:
        token, new_state = keeper.renew(state)
    except InvalidGrant:
        current = repository.find_consistent(AccountItem, (item.pk, item.sk))
        if current is not None and current.secret_sealed and open_state(current, tenant_id) != state:
            return None  # renewed by someone whose lease we outlived: theirs is the live state
        if item.status in repository.GONE:
            raise ConnectionUnusable('the meeting account is disconnected', 'disconnected') from None
        mark_broken(item, tenant_id, 'the provider no longer accepts this account\'s authorisation', broken_reason or 'refused')
        raise ConnectionUnusable('the meeting account needs to be connected again', 'needs_reconnect') from None
    except Exception:
        _release(item)
        raise
    # Stored before the new access token is used: Zoom has already killed the old refresh token.
    try:
        _store(item, tenant_id, new_state)
    except UpdateError as exc:
        if exc.cause_response_code != 'ConditionalCheckFailedException':
            raise
        # The refresh outlived the lease and another invocation claimed the account meanwhile. These
        # tokens are the provider's newest (Zoom has killed the refresh token that one holds), so they
        # are stored over its claim; an account disconnected meanwhile keeps none.
        _store(_read(tenant_id, item.account_id), tenant_id, new_state)
    logger.info('account tokens renewed', extra={'tenant_id': tenant_id, 'account_id': item.account_id})
    return token


def _store(item: AccountItem, tenant_id: str, new_state: dict[str, Any] | None) -> None:
    """Ends the refresh: the new state (None: unchanged) written, the lease removed; versioned like every write."""
    actions = [AccountItem.refresh_lease_until.remove(), AccountItem.updated_at.set(datetime.now(UTC))]
    if new_state is not None:
        actions.append(AccountItem.secret_sealed.set(seal_state(new_state, tenant_id, item.account_id)))
    item.update(actions=actions)


def _release(item: AccountItem) -> None:
    try:
        item.update(actions=[AccountItem.refresh_lease_until.remove()])
    except UpdateError:
        pass  # the lease runs out by itself


def mark_broken(item: AccountItem, tenant_id: str, problem: str, reason: str = 'refused') -> None:
    """The account needs reconnecting: its future meetings are re-homed (logic/rehoming.py) and the admin is
    told. `reason` as connection.broken carries it (refused: the provider refused a refresh)."""
    outbox.update(tenant_id, item, [
        AccountItem.status.set(repository.NEEDS_RECONNECT),
        AccountItem.problem.set(problem),
        AccountItem.refresh_lease_until.remove(),
        AccountItem.updated_at.set(datetime.now(UTC)),
    ], events.connection_broken(tenant_id, item, problem, reason))
    logger.warning('meeting account needs reconnecting', extra={'tenant_id': tenant_id,
                                                                 'account_id': item.account_id})
