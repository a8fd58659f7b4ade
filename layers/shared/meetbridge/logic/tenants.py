"""Tenants and their credentials: an admin API key (stored as a digest) and a webhook secret (sealed)."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from meetbridge.errors import Forbidden, Unauthorized
from meetbridge.security import secrets
from meetbridge.store import repository
from meetbridge.store.models import TenantItem

API_KEY_PREFIX = 'mbk'
WEBHOOK_SECRET_PREFIX = 'whsec'


@dataclass(frozen=True)
class NewTenant:
    tenant_id: str
    name: str
    api_key: str
    webhook_secret: str


def _webhook_context(tenant_id: str) -> tuple[str, str, str]:
    return tenant_id, 'webhook_secret', 'generic'


def create_tenant(name: str) -> NewTenant:
    name = name.strip()
    if not name or len(name) > 200:
        raise ValueError('a tenant name is 1 to 200 characters')
    tenant_id = 't_' + uuid.uuid4().hex[:20]
    api_key = secrets.new_secret(API_KEY_PREFIX)
    webhook_secret = secrets.new_secret(WEBHOOK_SECRET_PREFIX)
    TenantItem(
        *TenantItem.key(tenant_id),
        gsi1sk=tenant_id,
        tenant_id=tenant_id,
        name=name,
        created_at=datetime.now(UTC),
        api_key_digest=secrets.digest(api_key),
        webhook_secret_sealed=repository.seal_json({'secret': webhook_secret}, *_webhook_context(tenant_id)),
    ).save(condition=TenantItem.pk.does_not_exist())
    return NewTenant(tenant_id, name, api_key, webhook_secret)


def list_tenants() -> list[TenantItem]:
    return list(TenantItem.gsi1.query('TENANTS'))


def rotate_keys(tenant_id: str, api_key: bool = True, webhook_secret: bool = True) -> NewTenant:
    """Issues new credentials; the old ones stop working at once."""
    tenant = repository.get_tenant(tenant_id)
    new_api_key = secrets.new_secret(API_KEY_PREFIX) if api_key else ''
    new_secret = secrets.new_secret(WEBHOOK_SECRET_PREFIX) if webhook_secret else ''
    actions = [TenantItem.keys_rotated_at.set(datetime.now(UTC))]
    if api_key:
        actions.append(TenantItem.api_key_digest.set(secrets.digest(new_api_key)))
    if webhook_secret:
        sealed = repository.seal_json({'secret': new_secret}, *_webhook_context(tenant_id))
        actions.append(TenantItem.webhook_secret_sealed.set(sealed))
    tenant.update(actions=actions)
    return NewTenant(tenant_id, tenant.name, new_api_key, new_secret)


def webhook_secret(tenant: TenantItem) -> bytes:
    opened = repository.unseal_json(tenant.webhook_secret_sealed, *_webhook_context(tenant.tenant_id))
    return opened['secret'].encode()


def authenticate(tenant_id: str, authorization: str | None) -> TenantItem:
    """Bearer API key of this tenant: 401 without a key, 404 for an unknown tenant, 403 for another's key."""
    scheme, _, key = (authorization or '').partition(' ')
    if scheme.lower() != 'bearer' or not key.strip():
        raise Unauthorized('send the tenant API key as "Authorization: Bearer <key>"')
    tenant = repository.get_tenant(tenant_id)
    if not secrets.matches(key.strip(), tenant.api_key_digest):
        raise Forbidden('this API key is not valid for this tenant')
    return tenant
