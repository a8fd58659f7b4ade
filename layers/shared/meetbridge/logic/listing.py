"""The admin API's lists: one DynamoDB Query per page, never a Scan, with an opaque cursor.

A page is asked for with `limit` + 1 items: the extra one only tells whether there is a next page, so a
`next` never leads to an empty page unless filters dropped what the Query read: a filtered page of the
bookings is one Query of `limit` + 1 bookings by start, filtered, so it may come back short (even empty)
with a `next`, which keeps the work of every page bounded whatever the filters match. The cursor is the position after the page's last item (its keys),
with the tenant and the list (and its filters) it was handed out for, in base64url JSON. It is checked
rather than signed: it is refused unless it names this tenant, this list and these filters, and its keys
are exactly a key of this tenant's partition under this list's prefix, so a changed cursor can only point
somewhere the caller could list anyway, and a malformed one is a 400 naming `next`.
"""

import base64
import binascii
import json
from collections.abc import Callable
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, TypeAdapter, ValidationError, ValidationInfo, field_validator
from pynamodb.exceptions import QueryError

from meetbridge.domain.model import Identifier
from meetbridge.errors import InvalidInput
from meetbridge.logic import analytics, notification_settings, online
from meetbridge.logic.admin import (ListedTemplate, ProviderOut, ServiceOut, listed_template, provider_out,
                                    service_out)
from meetbridge.store.models import (BookingItem, MeetingItem, ProviderItem, ServiceItem, TemplateItem, bookings_key,
                                     bookings_sort_key, index_time, tenant_pk)

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR_LENGTH = 2000


class ServicesPage(BaseModel):
    items: list[ServiceOut]
    next: str | None


class TemplatesPage(BaseModel):
    items: list[ListedTemplate]
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


@contextmanager
def _starting_key_refused_as_next():
    """A starting key DynamoDB refuses (outside the Query's key condition, or not a key of it) as the 400 naming
    `next` a cursor check gives: the checks mean this should not happen, and if one ever misses, the caller is told
    to start again rather than answered a 500. Any other error goes on as it is."""
    try:
        yield
    except QueryError as error:
        if error.cause_response_code == 'ValidationException' and 'starting key' in (error.cause_response_message or ''):
            raise InvalidInput('next: not a cursor this list handed out; start again without it', field='next') from None
        raise


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
    with _starting_key_refused_as_next():
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



def list_templates(tenant_id: str, limit: int, cursor: str | None) -> TemplatesPage:
    """What is set at which level: one Query of the tenant's template items, in key order."""
    default_locale = notification_settings.get(tenant_id).default_locale
    items, next_cursor = _table_page(TemplateItem, tenant_id, 'TEMPLATE#', 'templates', limit, cursor)
    return TemplatesPage(items=[listed_template(item, default_locale) for item in items], next=next_cursor)


# --- bookings ---------------------------------------------------------------------------------------


class ListedMeeting(BaseModel):
    key: str
    status: str
    account_type: str  # the provider it is at: zoom, microsoft, google, custom_link, platform...


class ListedBooking(BaseModel):
    """A booking's summary: what the list shows without opening its sealed links."""

    id: str
    source: str
    service_id: str
    provider_id: str
    start: datetime
    end: datetime
    timezone: str
    status: str
    session_id: str | None
    meeting: ListedMeeting | None
    problem: str | None
    # As the admin switched it (the booking, else its class session); otherwise it has a meeting, or its service is
    # online; never when it was made at a kiosk.
    online: bool
    # The start passed and the client never opened their link (None before the start or without a link; False
    # when cancelled), as on the booking itself.
    no_show_evidence: bool | None


class BookingsPage(BaseModel):
    items: list[ListedBooking]
    next: str | None


# The years a `from`/`to` may fall in, in UTC: far enough from datetime's own ends (years 1 and 9999) that moving
# it to UTC and rounding it up to the second (_bound) cannot overflow.
FIRST_YEAR, LAST_YEAR = 1970, 9998

IDENTIFIER = TypeAdapter(Identifier)  # a session's id, as the sources take it


class BookingFilters(BaseModel):
    start_from: datetime | None = None
    start_to: datetime | None = None
    service_id: str | None = None
    provider_id: str | None = None
    status: str | None = None
    source: str | None = None

    @field_validator('start_from', 'start_to')
    @classmethod
    def _within_the_years_listed(cls, moment: datetime | None, info: ValidationInfo) -> datetime | None:
        # Raised as is (not a pydantic error): the handler builds the filters, and the message names the
        # query parameter.
        if moment is None:
            return None
        try:
            year = moment.astimezone(UTC).year
        except OverflowError:
            year = None
        if year is None or not FIRST_YEAR <= year <= LAST_YEAR:
            field = 'from' if info.field_name == 'start_from' else 'to'
            raise InvalidInput(f'{field}: must be in the years {FIRST_YEAR} to {LAST_YEAR} (UTC)', field=field)
        return moment

    def as_cursor_filters(self) -> dict:
        return {name: value.isoformat() if isinstance(value, datetime) else value
                for name, value in self.model_dump().items() if value is not None}


def _bound(moment: datetime) -> str:
    """The index sort key bound of an instant: the index keeps whole seconds, so a fraction rounds up (a booking
    at 09:00:00 is before 09:00:00.5, both as a `from` and as a `to`)."""
    if moment.microsecond:
        moment = moment.replace(microsecond=0) + timedelta(seconds=1)
    return index_time(moment)


def _start_condition(filters: BookingFilters):
    # A sort key is `<start>#<booking>`: `>= from` takes every booking at `from`, and `<= to` none at `to`.
    sort_key = BookingItem.gsi2sk
    if filters.start_from and filters.start_to:
        return sort_key.between(_bound(filters.start_from), _bound(filters.start_to))
    if filters.start_from:
        return sort_key >= _bound(filters.start_from)
    if filters.start_to:
        return sort_key < _bound(filters.start_to)
    return None


def _filter_condition(filters: BookingFilters):
    condition = None
    for name in ('service_id', 'provider_id', 'status', 'source'):
        value = getattr(filters, name)
        if value is not None:
            term = getattr(BookingItem, name) == value
            condition = term if condition is None else condition & term
    return condition


def position_of(item: BookingItem) -> dict[str, str]:
    """A booking's place in gsi2, as a cursor keeps it."""
    return {'pk': item.pk, 'sk': item.sk, 'gsi2pk': item.gsi2pk, 'gsi2sk': item.gsi2sk}


def page_start(tenant_id: str, listing: str, filters: BookingFilters, cursor: str | None) -> dict[str, str] | None:
    """Where a page of the bookings index starts: after the position `cursor` names, once it is shown to be one
    `listing` handed out to this tenant for these filters (None: at the beginning)."""
    if filters.start_from and filters.start_to and filters.start_to <= filters.start_from:
        raise InvalidInput('to: must be after from', field='to')
    if cursor is None:
        return None
    pk, index_pk = tenant_pk(tenant_id), bookings_key(tenant_id)
    return decode_cursor(cursor, tenant_id, listing, filters.as_cursor_filters(), lambda position: (
        set(position) == {'pk', 'sk', 'gsi2pk', 'gsi2sk'} and position['pk'] == pk
        and position['sk'].startswith('BOOKING#') and position['gsi2pk'] == index_pk
        and _is_sort_key_in_window(position['gsi2sk'], position['sk'].removeprefix('BOOKING#'), filters)))


def _is_sort_key_in_window(sort_key: str, booking_id: str, filters: BookingFilters) -> bool:
    """Whether `sort_key` is one the booking item derives for `booking_id` at some start and meeting (its own or a
    session's), within the Query's `from`/`to` window: DynamoDB refuses a starting key outside the key condition
    (a 400 of its own)."""
    second, _, meeting_key = sort_key.removesuffix(f'#{booking_id}').partition('#')
    kind, _, meeting_id = meeting_key.partition(':')
    if not (meeting_key == f'booking:{booking_id}' or kind == 'session' and _is_identifier(meeting_id)):
        return False
    try:
        derived = bookings_sort_key(datetime.fromisoformat(second), meeting_key, booking_id)
    except (ValueError, OverflowError):
        return False
    return (derived == sort_key
            and (filters.start_from is None or sort_key >= _bound(filters.start_from))
            and (filters.start_to is None or sort_key < _bound(filters.start_to)))


def _is_identifier(text: str) -> bool:
    try:
        IDENTIFIER.validate_python(text)
    except ValidationError:
        return False
    return True


def query_bookings(tenant_id: str, filters: BookingFilters, limit: int,
                   start: dict[str, str] | None) -> tuple[list[BookingItem], dict[str, str] | None]:
    """One Query of gsi2 (`BOOKINGS#<tenant>`) by start, after `start`: `from`/`to` bound its sort key, the other
    filters are a filter expression on the `limit` bookings it reads. Answers the bookings kept and the position of
    the last one read when there may be more (None: the window holds no more)."""
    with _starting_key_refused_as_next():
        answer = BookingItem._get_connection().query(
            bookings_key(tenant_id), range_key_condition=_start_condition(filters),
            filter_condition=_filter_condition(filters), index_name=BookingItem.gsi2.Meta.index_name,
            exclusive_start_key=start and _wire(start), limit=limit)
    evaluated = answer.get('LastEvaluatedKey')
    return ([BookingItem.from_raw_data(raw) for raw in answer.get('Items', [])],
            evaluated and {name: value['S'] for name, value in evaluated.items()})


def shown_problem(item: BookingItem) -> str | None:
    """A booking's problem as the admin sees it, as on the booking itself: a change that waits is shown while it
    waits."""
    return item.problem or (item.pending if item.status != 'cancelled' else None)


def _summaries(tenant_id: str, items: list[BookingItem], now: datetime) -> list[ListedBooking]:
    """The page's bookings with their meetings, services, class sessions and client opens, read in one batch each
    (the opens only of the bookings whose start passed: before it there is no evidence either way)."""
    meeting_keys = {MeetingItem.key(tenant_id, key) for key in {item.meeting_key for item in items}}
    service_keys = {ServiceItem.key(tenant_id, key) for key in {item.service_id for item in items}}
    meetings = {meeting.meeting_key: meeting for meeting in MeetingItem.batch_get(meeting_keys)
                if meeting.status != 'creating'}
    online_services = {service.service_id for service in ServiceItem.batch_get(service_keys) if service.online}
    session_overrides = online.session_overrides(tenant_id, items)
    client_opens, _ = analytics.opens_of_many(tenant_id, [item.booking_id for item in items if item.start <= now])
    summaries = []
    for item in items:
        meeting = meetings.get(item.meeting_key)
        summaries.append(ListedBooking(
            id=item.booking_id, source=item.source, service_id=item.service_id, provider_id=item.provider_id,
            start=item.start, end=item.end, timezone=item.timezone, status=item.status, session_id=item.session_id,
            meeting=meeting and ListedMeeting(key=meeting.meeting_key, status=meeting.status,
                                              account_type=meeting.provider_type),
            problem=shown_problem(item),
            online=online.effective(
                item, item.online if item.online is not None else session_overrides.get(item.session_id),
                item.service_id in online_services,
                meeting is not None and meeting.status != 'cancelled' and item.booking_id in meeting.booking_ids),
            no_show_evidence=analytics.no_show_evidence(item, client_opens.get(item.booking_id, analytics.NEVER),
                                                        now),
        ))
    return summaries


def list_bookings(tenant_id: str, filters: BookingFilters, limit: int, cursor: str | None) -> BookingsPage:
    """A page of the tenant's bookings by start: one Query of `limit` + 1 bookings (the extra one only tells
    whether there is a next page)."""
    found, evaluated = query_bookings(tenant_id, filters, limit + 1, page_start(tenant_id, 'bookings', filters, cursor))
    items = found[:limit]
    position = position_of(items[-1]) if len(found) > limit else evaluated
    return BookingsPage(items=_summaries(tenant_id, items, datetime.now(UTC)) if items else [],
                        next=position and encode_cursor(tenant_id, 'bookings', filters.as_cursor_filters(), position))
