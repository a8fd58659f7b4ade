"""Reads and writes shared by several operations; storage errors become domain errors here."""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from meetbridge.errors import Conflict, NotFound
from meetbridge.security import sealing
from meetbridge.store.models import (
    AccountItem,
    AccountPointerItem,
    BookingItem,
    MeetingItem,
    ProviderItem,
    ServiceItem,
    TemplateItem,
    TenantItem,
    hosted_by_key,
    index_time,
)


# The statuses of a meeting account (see docs/data-model.md).
# A pointer holds it: new meetings are made with it.
ACTIVE = 'active'
# A pointer holds it, but the provider refused its tokens: connecting the same user again mends it.
NEEDS_RECONNECT = 'needs_reconnect'
# Replaced by another account (a custom link): its meetings keep their room.
RETIRED = 'retired'
# Replaced by another account (OAuth): revoked at the provider, tokens deleted; its meetings' links answer
# from the join URLs stored with them, and a reschedule moves a meeting to the account now hosting it.
REVOKED = 'revoked'
# Removed by the admin or by its user at the provider: its meetings' links say the account is unavailable,
# a reschedule moves a meeting to the account now hosting it and a cancel needs nothing from it.
DISCONNECTED = 'disconnected'
# Its meetings can no longer be changed through it.
GONE = (REVOKED, DISCONNECTED)


def _get(model, key: tuple[str, str], what: str):
    try:
        return model.get(*key)
    except DoesNotExist:
        raise NotFound(f'{what} not found') from None


_TENANT_ID = re.compile(r'^t_[0-9a-f]{20}$')


def get_tenant(tenant_id: str) -> TenantItem:
    if not _TENANT_ID.match(tenant_id or ''):
        raise NotFound('tenant not found')  # nothing that is not a tenant id reaches the table
    return _get(TenantItem, TenantItem.key(tenant_id), 'tenant')


def get_service(tenant_id: str, service_id: str) -> ServiceItem:
    return _get(ServiceItem, ServiceItem.key(tenant_id, service_id), 'service')


def get_provider(tenant_id: str, provider_id: str) -> ProviderItem:
    return _get(ProviderItem, ProviderItem.key(tenant_id, provider_id), 'provider')


def get_booking(tenant_id: str, booking_id: str) -> BookingItem:
    return _get(BookingItem, BookingItem.key(tenant_id, booking_id), 'booking')


def get_meeting(tenant_id: str, meeting_key: str) -> MeetingItem:
    return _get(MeetingItem, MeetingItem.key(tenant_id, meeting_key), 'meeting')


def get_account(tenant_id: str, account_id: str) -> AccountItem:
    return _get(AccountItem, AccountItem.key(tenant_id, account_id), 'meeting account')


def account_used_by(tenant_id: str, holder: str) -> AccountItem | None:
    """The account the company ("company") or a provider ("provider:<id>") uses, whatever its status."""
    pointer = find(AccountPointerItem, AccountPointerItem.key(tenant_id, holder))
    return pointer and find(AccountItem, AccountItem.key(tenant_id, pointer.account_id))


def find(model, key: tuple[str, str]):
    try:
        return model.get(*key)
    except DoesNotExist:
        return None


def find_consistent(model, key: tuple[str, str]):
    """A strongly consistent read, for items several Lambdas race on (tokens)."""
    try:
        return model.get(*key, consistent_read=True)
    except DoesNotExist:
        return None


def meetings_hosted_by(tenant_id: str, account_id: str, starting_from: datetime) -> Iterator[MeetingItem]:
    """The live meetings (creating, scheduled, started) the account hosts whose start is at or after
    `starting_from`, soonest first. Read from the index: eventually consistent, so a caller that changes a
    meeting reads it again first."""
    return MeetingItem.gsi1.query(hosted_by_key(tenant_id, account_id),
                                  MeetingItem.gsi1sk >= index_time(starting_from))


def count_meetings_hosted_by(tenant_id: str, account_id: str, starting_from: datetime) -> int:
    """How many meetings meetings_hosted_by lists, counted by the index (Select COUNT: no item is read out)."""
    return MeetingItem.gsi1.count(hosted_by_key(tenant_id, account_id), MeetingItem.gsi1sk >= index_time(starting_from))


def templates_by_key(keys: list[tuple[str, str]], consistent_read: bool = False) -> dict[tuple[str, str], TemplateItem]:
    """The template items that exist among `keys`, by key: one BatchGetItem for up to 100 distinct keys."""
    distinct = list(dict.fromkeys(keys))  # DynamoDB refuses a batch that names a key twice
    return {(item.pk, item.sk): item for item in TemplateItem.batch_get(distinct, consistent_read=consistent_read)}


def save(item, **kwargs) -> None:
    """A versioned save: losing a race to another writer means the message is processed again."""
    try:
        item.save(**kwargs)
    except PutError as exc:
        if exc.cause_response_code == 'ConditionalCheckFailedException':
            raise Conflict(f'{type(item).__name__} changed concurrently') from exc
        raise


def update(item, actions, **kwargs) -> None:
    try:
        item.update(actions=actions, **kwargs)
    except UpdateError as exc:
        if exc.cause_response_code == 'ConditionalCheckFailedException':
            raise Conflict(f'{type(item).__name__} changed concurrently') from exc
        raise


# --- sealed fields ------------------------------------------------------------


def seal_context(tenant_id: str, purpose: str, subject: str) -> dict[str, str]:
    return {'tenant_id': tenant_id, 'purpose': purpose, 'subject': subject}


def seal_json(value: dict[str, Any], tenant_id: str, purpose: str, subject: str) -> bytes:
    return sealing.seal(json.dumps(value).encode(), seal_context(tenant_id, purpose, subject))


def unseal_json(blob: bytes, tenant_id: str, purpose: str, subject: str) -> dict[str, Any]:
    return json.loads(sealing.unseal(blob, seal_context(tenant_id, purpose, subject)))


def account_secret_context(account_id: str) -> tuple[str, str]:
    return 'account', account_id


def provider_user_key(provider_type: str, user_id: str) -> str:
    """The index key of the live accounts, of any tenant, signed in as one provider-side user."""
    return f'{provider_type.upper()}USER#{user_id}'


def accounts_of_provider_user(provider_type: str, user_id: str) -> Iterator[AccountItem]:
    """The accounts indexed under the provider-side user (eventually consistent: read each again before acting)."""
    return AccountItem.gsi1.query(provider_user_key(provider_type, user_id))


def settings_of(item: AccountItem) -> dict[str, Any]:
    return item.settings.as_dict() if hasattr(item.settings, 'as_dict') else dict(item.settings or {})


@dataclass(frozen=True)
class Account:
    """A meeting account as a provider adapter sees it, with its secrets opened on demand."""

    tenant_id: str
    account_id: str
    type: str
    status: str
    settings: dict[str, Any]
    secret_sealed: bytes | None

    def secrets(self) -> dict[str, Any]:
        if not self.secret_sealed:
            return {}
        return unseal_json(self.secret_sealed, self.tenant_id, *account_secret_context(self.account_id))


def account_of(item: AccountItem, tenant_id: str) -> Account:
    return Account(tenant_id=tenant_id, account_id=item.account_id, type=item.type, status=item.status,
                   settings=settings_of(item), secret_sealed=item.secret_sealed)
