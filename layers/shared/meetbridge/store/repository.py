"""Reads and writes shared by several operations; storage errors become domain errors here."""

import json
import re
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from meetbridge.errors import Conflict, NotFound
from meetbridge.security import sealing
from meetbridge.store.models import (
    BookingItem,
    ConnectionItem,
    MeetingItem,
    ProviderItem,
    ServiceItem,
    TemplateItem,
    TenantItem,
    tenant_pk,
)


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


def get_connection(tenant_id: str, connection_id: str) -> ConnectionItem:
    return _get(ConnectionItem, ConnectionItem.key(tenant_id, connection_id), 'meeting account')


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


def active_connection_ids(tenant_id: str) -> set[str]:
    return {
        item.connection_id
        for item in ConnectionItem.query(
            tenant_pk(tenant_id),
            ConnectionItem.sk.startswith('CONNECTION#'),
            filter_condition=ConnectionItem.status == 'active',
        )
    }


def find_template(tenant_id: str, name: str) -> TemplateItem | None:
    return find(TemplateItem, TemplateItem.key(tenant_id, name))


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


@dataclass(frozen=True)
class Account:
    """A meeting account as a provider adapter sees it, with its secrets opened on demand."""

    tenant_id: str
    connection_id: str
    type: str
    settings: dict[str, Any]
    secret_sealed: bytes | None

    def secrets(self) -> dict[str, Any]:
        if not self.secret_sealed:
            return {}
        return unseal_json(self.secret_sealed, self.tenant_id, 'connection', self.connection_id)


def account_of(item: ConnectionItem, tenant_id: str) -> Account:
    return Account(
        tenant_id=tenant_id,
        connection_id=item.connection_id,
        type=item.type,
        settings=item.settings.as_dict() if hasattr(item.settings, 'as_dict') else dict(item.settings or {}),
        secret_sealed=item.secret_sealed,
    )
