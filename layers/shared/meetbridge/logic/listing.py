"""The admin API's lists: one DynamoDB Query per page, never a Scan, with an opaque cursor.

A page is asked for with `limit` + 1 items: the extra one only tells whether there is a next page, so a
`next` never leads to an empty page. The cursor is the position after the page's last item (its keys),
with the tenant and the list (and its filters) it was handed out for, in base64url JSON. It is checked
rather than signed: it is refused unless it names this tenant, this list and these filters, and its keys
are exactly a key of this tenant's partition under this list's prefix, so a changed cursor can only point
somewhere the caller could list anyway, and a malformed one is a 400 naming `next`.
"""

import base64
import binascii
import json
from collections.abc import Callable

from pydantic import BaseModel

from meetbridge.errors import InvalidInput
from meetbridge.logic.admin import ProviderOut, ServiceOut, provider_out, service_out
from meetbridge.store.models import ProviderItem, ServiceItem, tenant_pk

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR_LENGTH = 2000


class ServicesPage(BaseModel):
    items: list[ServiceOut]
    next: str | None


class ProvidersPage(BaseModel):
    items: list[ProviderOut]
    next: str | None


def encode_cursor(tenant_id: str, listing: str, filters: dict, position: dict[str, str]) -> str:
    document = json.dumps({'t': tenant_id, 'l': listing, 'f': filters, 'k': position}, separators=(',', ':'),
                          sort_keys=True)
    return base64.urlsafe_b64encode(document.encode()).decode().rstrip('=')


def decode_cursor(token: str, tenant_id: str, listing: str, filters: dict,
                  valid_position: Callable[[dict[str, str]], bool]) -> dict[str, str]:
    """The position a cursor names, once it is shown to be this tenant's, this list's and these filters'."""
    def refuse(why: str) -> InvalidInput:
        return InvalidInput(f'next: {why}; start again without it', field='next')

    if len(token) > MAX_CURSOR_LENGTH:
        raise refuse('not a cursor this list handed out')
    try:
        document = json.loads(base64.b64decode(token + '=' * (-len(token) % 4), altchars=b'-_', validate=True))
    except (binascii.Error, ValueError):
        raise refuse('not a cursor this list handed out') from None
    if not isinstance(document, dict) or set(document) != {'t', 'l', 'f', 'k'}:
        raise refuse('not a cursor this list handed out')
    if document['t'] != tenant_id or document['l'] != listing:
        raise refuse('the cursor is another list\'s')
    if document['f'] != filters:
        raise refuse('the cursor was handed out for other filters')
    position = document['k']
    if (not isinstance(position, dict) or not all(isinstance(value, str) for value in position.values())
            or not valid_position(position)):
        raise refuse('not a cursor this list handed out')
    return position


def _wire(position: dict[str, str]) -> dict[str, dict[str, str]]:
    return {name: {'S': value} for name, value in position.items()}


def _table_page(model: type, tenant_id: str, prefix: str, listing: str, limit: int,
                cursor: str | None) -> tuple[list, str | None]:
    """A page of the items of the tenant's partition whose sort key begins with `prefix`, in sort key order."""
    pk = tenant_pk(tenant_id)
    start = None
    if cursor is not None:
        start = _wire(decode_cursor(cursor, tenant_id, listing, {}, lambda position: (
            set(position) == {'pk', 'sk'} and position['pk'] == pk and position['sk'].startswith(prefix))))
    found = list(model.query(pk, model.sk.startswith(prefix), limit=limit + 1, last_evaluated_key=start))
    items = found[:limit]
    if len(found) <= limit:
        return items, None
    return items, encode_cursor(tenant_id, listing, {}, {'pk': pk, 'sk': items[-1].sk})


def list_services(tenant_id: str, limit: int, cursor: str | None) -> ServicesPage:
    items, next_cursor = _table_page(ServiceItem, tenant_id, 'SERVICE#', 'services', limit, cursor)
    return ServicesPage(items=[service_out(item) for item in items], next=next_cursor)


def list_providers(tenant_id: str, limit: int, cursor: str | None) -> ProvidersPage:
    items, next_cursor = _table_page(ProviderItem, tenant_id, 'PROVIDER#', 'providers', limit, cursor)
    return ProvidersPage(items=[provider_out(item) for item in items], next=next_cursor)

