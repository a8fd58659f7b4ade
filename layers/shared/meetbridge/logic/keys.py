"""API keys with a role, and what each role may call.

The tenant's own key (logic/tenants.py, rotated with an overlap) is an `admin` key. More keys are made with a
role: `admin` calls every route; `senior` may only read a booking, start its meeting and switch it online or in
person (`PUT …/bookings/{id}/online`, and `PUT …/sessions/{id}/online`); `junior` the same for the bookings of its
own providers only (not a session's, which is not a booking of one provider). A key is shown once, when it is made; the table keeps its
SHA-256 under its key id (the digest's first 16 hex digits), so the request's key is found in one GetItem.
"""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from meetbridge.errors import Forbidden, InvalidInput, NotFound
from meetbridge.security import secrets
from meetbridge.store import repository
from meetbridge.store.models import ApiKeyItem, ProviderItem, TenantItem, tenant_pk

API_KEY_PREFIX = 'mbk'
ADMIN, JUNIOR = 'admin', 'junior'
Role = Literal['admin', 'senior', 'junior']
MAX_PROVIDERS = 50

# The only routes a senior or junior key may call: GET a booking, POST its start, PUT its online switch (ids as the
# API's `Id`); a senior key also a session's online switch.
_BOOKING_ROUTE = re.compile(r'/v1/tenants/[^/]+/bookings/(?P<booking_id>[A-Za-z0-9][A-Za-z0-9._:@-]{0,127})'
                            r'(?P<action>/start|/online)?')
_SESSION_ONLINE_ROUTE = re.compile(r'/v1/tenants/[^/]+/sessions/[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}/online')
_BOOKING_CALLS = (('GET', None), ('POST', '/start'), ('PUT', '/online'))


@dataclass(frozen=True)
class Caller:
    """Who is calling: the tenant, the role of the key, and a junior key's providers."""

    tenant: TenantItem
    role: str
    providers: frozenset[str] = field(default_factory=frozenset)


def key_id_of(key: str) -> str:
    return secrets.digest(key)[:16]


def find_key(tenant_id: str, key: str) -> ApiKeyItem | None:
    """The tenant's role key `key` is, if any. A consistent read: a revoked key stops at once."""
    item = repository.find_consistent(ApiKeyItem, ApiKeyItem.key(tenant_id, key_id_of(key)))
    return item if item is not None and secrets.matches(key, item.key_digest) else None


def caller_of(tenant: TenantItem, item: ApiKeyItem) -> Caller:
    return Caller(tenant, item.role, frozenset(item.providers or ()))


def authorize(caller: Caller, method: str, path: str) -> None:
    """Raises Forbidden, naming the rule, when the caller's role may not call `method path`. A junior key asking
    for another provider's booking learns only that; an unknown booking is 404 for every key."""
    if caller.role == ADMIN:
        return
    rule = (f"this key's role ({caller.role}) may only read, start and switch online or in person "
            + ("its providers' bookings" if caller.role == JUNIOR else 'bookings and class sessions'))
    if caller.role != JUNIOR and method.upper() == 'PUT' and _SESSION_ONLINE_ROUTE.fullmatch(path):
        return
    route = _BOOKING_ROUTE.fullmatch(path)
    if route is None or (method.upper(), route['action']) not in _BOOKING_CALLS:
        raise Forbidden(rule)
    if caller.role == JUNIOR:
        booking = repository.get_booking(caller.tenant.tenant_id, route['booking_id'])
        if booking.provider_id not in caller.providers:
            raise Forbidden(f'{rule}: this booking is another provider\'s')


# --- making, listing and revoking keys ---------------------------------------------------------


ProviderId = Annotated[str, Field(min_length=1, max_length=128, pattern=r'^[A-Za-z0-9][A-Za-z0-9._:@-]*$')]


class KeyIn(BaseModel):
    model_config = ConfigDict(extra='forbid')

    role: Role
    # A junior key's providers (at least one); the other roles take none.
    providers: Annotated[list[ProviderId], Field(max_length=MAX_PROVIDERS)] = []


class KeyOut(BaseModel):
    key_id: str
    role: str
    providers: list[str]
    created_at: datetime


class NewKeyOut(KeyOut):
    key: str  # shown this once


def _key_out(item: ApiKeyItem) -> KeyOut:
    return KeyOut(key_id=item.key_id, role=item.role, providers=sorted(item.providers or ()),
                  created_at=item.created_at)


def create_key(tenant_id: str, body: KeyIn, now: datetime | None = None) -> NewKeyOut:
    """Makes a key of `body.role`; a junior key is bound to providers the tenant has."""
    repository.get_tenant(tenant_id)
    providers = set(body.providers)
    if body.role == JUNIOR and not providers:
        raise InvalidInput('a junior key needs at least one provider', field='providers')
    if body.role != JUNIOR and providers:
        raise InvalidInput('only a junior key is bound to providers', field='providers')
    for provider_id in sorted(providers):
        if repository.find(ProviderItem, ProviderItem.key(tenant_id, provider_id)) is None:
            raise InvalidInput(f'no provider {provider_id!r} in this tenant', field='providers')
    key = secrets.new_secret(API_KEY_PREFIX)
    item = ApiKeyItem(*ApiKeyItem.key(tenant_id, key_id_of(key)), key_id=key_id_of(key),
                      key_digest=secrets.digest(key), role=body.role, providers=providers or None,
                      created_at=now or datetime.now(UTC))
    # Two keys sharing 64 bits of digest in one tenant do not happen; if they did, this refuses the second.
    item.save(condition=ApiKeyItem.pk.does_not_exist())
    return NewKeyOut(**_key_out(item).model_dump(), key=key)


def list_keys(tenant_id: str) -> list[KeyOut]:
    """The tenant's role keys, oldest first, without the keys (the tenant's own key is not among them)."""
    repository.get_tenant(tenant_id)
    items = ApiKeyItem.query(tenant_pk(tenant_id), ApiKeyItem.sk.startswith('KEY#'))
    return sorted((_key_out(item) for item in items), key=lambda key: key.created_at)


def revoke_key(tenant_id: str, key_id: str) -> KeyOut:
    """Deletes the key: it is refused from the next request on."""
    item = repository.find_consistent(ApiKeyItem, ApiKeyItem.key(tenant_id, key_id))
    if item is None:
        raise NotFound('API key not found')
    item.delete()
    return _key_out(item)
