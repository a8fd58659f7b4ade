"""Tenants and their credentials: an admin API key (stored as a digest) and a webhook secret (sealed).
More API keys, with a role, are in logic/keys.py.

A rotation keeps the previous key and secret working for an overlap window, so the booking platform can
switch to the new ones without a moment in which its requests are refused."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from meetbridge.errors import Forbidden, Unauthorized
from meetbridge.logic.keys import ADMIN, API_KEY_PREFIX, Caller, caller_of, find_key
from meetbridge.security import secrets
from meetbridge.store import repository
from meetbridge.store.models import TenantItem

WEBHOOK_SECRET_PREFIX = 'whsec'
ROTATION_OVERLAP = timedelta(hours=24)


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


def rotate_keys(tenant_id: str, api_key: bool = True, webhook_secret: bool = True,
                overlap: timedelta = ROTATION_OVERLAP, now: datetime | None = None) -> NewTenant:
    """Issues new credentials; the ones they replace keep working for `overlap`, then stop."""
    if overlap < timedelta(0):
        raise ValueError('the overlap cannot be negative')
    now = now or datetime.now(UTC)
    tenant = repository.get_tenant(tenant_id)
    new_api_key = secrets.new_secret(API_KEY_PREFIX) if api_key else ''
    new_secret = secrets.new_secret(WEBHOOK_SECRET_PREFIX) if webhook_secret else ''
    actions = [TenantItem.keys_rotated_at.set(now)]
    if api_key:
        actions += [TenantItem.api_key_digest.set(secrets.digest(new_api_key)),
                    TenantItem.previous_api_key_digest.set(tenant.api_key_digest),
                    TenantItem.previous_api_key_until.set(now + overlap)]
    if webhook_secret:
        sealed = repository.seal_json({'secret': new_secret}, *_webhook_context(tenant_id))
        actions += [TenantItem.webhook_secret_sealed.set(sealed),
                    TenantItem.previous_webhook_secret_sealed.set(tenant.webhook_secret_sealed),
                    TenantItem.previous_webhook_secret_until.set(now + overlap)]
    # Two rotations at once: the second must not keep a key the first already replaced as the "previous" one.
    unchanged = ((TenantItem.api_key_digest == tenant.api_key_digest)
                 & (TenantItem.webhook_secret_sealed == tenant.webhook_secret_sealed))
    repository.update(tenant, actions=actions, condition=unchanged)
    return NewTenant(tenant_id, tenant.name, new_api_key, new_secret)


def _in_overlap(until: datetime | None, now: datetime) -> bool:
    return until is not None and now < until


def webhook_secrets(tenant: TenantItem, now: datetime) -> list[bytes]:
    """The secrets a webhook may be signed with: the current one, and the previous one during its overlap."""
    sealed = [tenant.webhook_secret_sealed]
    if tenant.previous_webhook_secret_sealed and _in_overlap(tenant.previous_webhook_secret_until, now):
        sealed.append(tenant.previous_webhook_secret_sealed)
    return [repository.unseal_json(blob, *_webhook_context(tenant.tenant_id))['secret'].encode() for blob in sealed]


def web_origin(url: str) -> str:
    """`scheme://host[:port]` of an https URL (http only on this machine), lower-cased; ValueError otherwise."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError('must be an https URL') from None
    local = parts.hostname in ('127.0.0.1', 'localhost')
    if not parts.hostname or parts.username or parts.password or not (
            parts.scheme == 'https' or (local and parts.scheme == 'http')):
        raise ValueError('must be an https URL without a user name or password')
    host = f'[{parts.hostname}]' if ':' in parts.hostname else parts.hostname  # an IPv6 address
    default_port = {'https': 443, 'http': 80}[parts.scheme]
    return f'{parts.scheme}://{host}' + (f':{port}' if port not in (None, default_port) else '')


def authenticate(tenant_id: str, authorization: str | None) -> Caller:
    """Who calls with this Bearer API key: 401 without a key, 404 for an unknown tenant, 403 for a key that is
    not this tenant's. The tenant's own key (and the previous one during its overlap) is an admin key."""
    scheme, _, key = (authorization or '').partition(' ')
    key = key.strip()
    if scheme.lower() != 'bearer' or not key:
        raise Unauthorized('send the tenant API key as "Authorization: Bearer <key>"')
    tenant = repository.get_tenant(tenant_id)
    if secrets.matches(key, tenant.api_key_digest):
        return Caller(tenant, ADMIN)
    if (tenant.previous_api_key_digest and _in_overlap(tenant.previous_api_key_until, datetime.now(UTC))
            and secrets.matches(key, tenant.previous_api_key_digest)):
        return Caller(tenant, ADMIN)
    role_key = find_key(tenant_id, key)
    if role_key is not None:
        return caller_of(tenant, role_key)
    raise Forbidden('this API key is not valid for this tenant')
