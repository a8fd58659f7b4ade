"""SimplyBook.me API callbacks (docs/api.md, "SimplyBook.me").

The callback is four strings, `{booking_id, booking_hash, company, notification_type}`, with no signature:
it is only a pointer. It is answered at once with a lookup, and the lookup (in the meetings pipeline) reads
the booking with `getBookingDetails(booking_id, md5(booking_id + booking_hash + secret_key))`, which
SimplyBook refuses for a forged hash: that call is what authenticates the callback. A callback naming
another company than the source's is refused at the door.

`change` says nothing about what changed and two of them for the same booking are byte-identical, so a
`change` lookup is unique per delivery, and the booking event the re-read makes is named by that lookup and
the state read: a lookup the queue runs again publishes the same event, applied once; every delivery's
re-read is applied in the order it was read, so a booking moved A → B → A → B ends at B (a name from the
state alone would drop the second B as a duplicate of the first). A retried delivery re-reads the state
already applied, which changes nothing.

SimplyBook's times are the company's wall-clock times without an offset, read in the source's `timezone`.
A time in a DST gap (02:30 on the spring-forward night) is read with the offset before the change, which
puts it as far after the gap as it was into it (03:30 summer time); a time in a DST overlap is its first
occurrence (summer time). Should that make the end not after the start, the end keeps the wall-clock length.

The token from `getToken` is kept sealed per tenant and reused until SimplyBook refuses it: one API call per
booking event, two (a new token first) when the token has expired.
"""

import hashlib
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, ValidationError

from meetbridge import safe_json
from meetbridge.config import BookingPlatformSettings, settings
from meetbridge.domain.model import Booking, BookingEvent, BookingEventType, Client, Email, Payment
from meetbridge.errors import InvalidInput
from meetbridge.observability import logger
from meetbridge.security.signatures import SignatureError
from meetbridge.sources import platform_api
from meetbridge.sources.base import (
    KnownBookings,
    Lookup,
    LookupRefused,
    NewProvider,
    NewService,
    OptionalText,
    PlatformUnavailable,
    Translation,
    WebhookRequest,
    each_delivery,
    email_key,
    invalid_input_from,
    platform_phone,
    read_event_id,
)
from meetbridge.sources.settings import SimplyBookSettings
from meetbridge.store import repository
from meetbridge.store.models import SourceTokenItem

PLATFORM = 'SimplyBook'
# The callback types that change a booking; `notify` (a reminder) and any other are acknowledged, nothing more.
NOTIFICATIONS: dict[str, BookingEventType] = {
    'create': 'booking.created',
    'change': 'booking.rescheduled',
    'cancel': 'booking.cancelled',
}
LOCAL_TIME = '%Y-%m-%d %H:%M:%S'
# How the details say a booking was cancelled: `is_confirm` "0" (SimplyBook keeps a cancelled booking,
# unconfirmed), or a `status` of cancelled in either spelling.
UNCONFIRMED = '0'
CANCELLED_STATUSES = frozenset({'canceled', 'cancelled'})

# SimplyBook's JSON-RPC error codes ("Errors handling"; infra/sandboxes/simplybook/README.md).
# -32600 is shared by "Access denied" (a token SimplyBook no longer accepts: get a new one), "Company does not
# exists" and "Invalid Request": only the message tells them apart.
INVALID_REQUEST = -32600
ACCESS_DENIED = 'access denied'
# The lookup itself is refused: nothing is created or changed. -32085 is the forged booking_hash.
REFUSED_LOOKUP = {
    -32085: 'the booking_hash does not match the booking (signature error)',
    -32080: 'SimplyBook has no such booking in the company',
}
# The call is malformed: repeating it cannot help.
REFUSED_CALL = {
    -32700: 'parse error', -32601: 'method not found', -32602: 'invalid params',
    -32010: 'params missing', -32011: 'params are not an array',
}
# The source's company login or API key: the lookup waits, its reason shown, until the admin fixes them.
REFUSED_CREDENTIALS = {
    -33001: 'the company does not exist',
    -33002: 'the API key is wrong',
}
CHECK_SETTINGS = 'check the SimplyBook source\'s company and api_key'


def _platform_id(value: Any) -> Any:
    """SimplyBook's ids are digit strings; a number is taken as its digits."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


PlatformId = Annotated[str, BeforeValidator(_platform_id),
                       StringConstraints(min_length=1, max_length=64, pattern=r'^[A-Za-z0-9][A-Za-z0-9._-]*$')]
Text = Annotated[str, StringConstraints(max_length=200, strip_whitespace=True)]
Named = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
BookingHash = Annotated[str, StringConstraints(pattern=r'^[0-9A-Fa-f]{32}$')]
# SimplyBook answers an empty string for a field left blank.
OptionalEmail = Annotated[Email | None, BeforeValidator(lambda value: value or None)]


class Callback(BaseModel):
    model_config = ConfigDict(extra='ignore', strict=True)
    booking_id: Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=r'^[0-9]+$')]
    booking_hash: BookingHash
    company: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    notification_type: Annotated[str, StringConstraints(min_length=1, max_length=50)]


class Pointer(BaseModel):
    """What a lookup carries from the callback (Lookup.hint)."""

    model_config = ConfigDict(extra='forbid', strict=True)
    notification_type: Literal['create', 'change', 'cancel']
    booking_hash: BookingHash


def _local_time(value: Any) -> datetime:
    """SimplyBook's wall-clock text; anything else (a number would read as a UTC instant) is not one."""
    if not isinstance(value, str):
        raise ValueError('must be YYYY-MM-DD HH:MM:SS')
    try:
        return datetime.strptime(value, LOCAL_TIME)
    except ValueError:
        raise ValueError('must be YYYY-MM-DD HH:MM:SS') from None


LocalTime = Annotated[datetime, BeforeValidator(_local_time)]


class Details(BaseModel):
    """The getBookingDetails fields a booking is made of; the others are ignored."""

    model_config = ConfigDict(extra='ignore')
    event_id: PlatformId
    event_name: Text | None = None
    unit_id: PlatformId
    unit_name: Text | None = None
    unit_email: OptionalEmail = None
    client_id: PlatformId | None = None
    client_name: Named
    client_email: Email
    client_phone: OptionalText = None
    start_date_time: LocalTime
    end_date_time: LocalTime
    is_confirm: Annotated[str | None, BeforeValidator(_platform_id)] = None
    status: str | None = None
    payment_status: str | None = None  # present when the service takes payment: "paid" once paid

    @property
    def cancelled(self) -> bool:
        return self.is_confirm == UNCONFIRMED or (self.status or '').lower() in CANCELLED_STATUSES

    @property
    def payment(self) -> Payment:
        if not self.payment_status:
            return Payment()
        return Payment(required=True, status='paid' if self.payment_status.lower() == 'paid' else 'pending')



def booking_sign(booking_id: str, booking_hash: str, secret_key: str) -> str:
    """getBookingDetails' `sign`: md5 over the plain concatenation, lowercase hex."""
    return hashlib.md5(f'{booking_id}{booking_hash}{secret_key}'.encode()).hexdigest()


def wall_clock_span(start: datetime, end: datetime, zone: str) -> tuple[datetime, datetime]:
    """Naive company-local start and end (end after start) as instants; the module's docstring says how DST
    is read."""
    tz = ZoneInfo(zone)
    try:
        start_at, end_at = start.replace(tzinfo=tz).astimezone(UTC), end.replace(tzinfo=tz).astimezone(UTC)
    except OverflowError:  # 0001-01-01 00:30 in Berlin is before the year 1 in UTC
        raise InvalidInput('details.start_date_time: outside the years 1 to 9999 in UTC',
                           field='details.start_date_time') from None
    if end_at <= start_at:  # a span reaching into a DST gap
        end_at = start_at + (end - start)
    return start_at, end_at


# --- the token, kept per tenant -----------------------------------------------------------------


def _seal_context(tenant_id: str) -> tuple[str, str, str]:
    return tenant_id, 'source-token', 'simplybook'


def _held_token(tenant_id: str, company: str) -> str | None:
    item = repository.find(SourceTokenItem, SourceTokenItem.key(tenant_id, 'simplybook'))
    if item is None:
        return None
    held = repository.unseal_json(item.token_sealed, *_seal_context(tenant_id))
    # A token of the company the source named before its settings changed is not this company's.
    return held['token'] if held.get('company') == company else None


def _new_token(tenant_id: str, source: SimplyBookSettings, base: str) -> str:
    """Concurrent lookups may each get one: SimplyBook's tokens do not revoke each other, the last kept wins."""
    token = _rpc(base, '/login', 'getToken', [source.company, source.api_key.get_secret_value()])
    if not isinstance(token, str) or not token:
        raise PlatformUnavailable(f'{PLATFORM} answered getToken without a token')
    SourceTokenItem(*SourceTokenItem.key(tenant_id, 'simplybook'), source='simplybook', updated_at=datetime.now(UTC),
                    token_sealed=repository.seal_json({'company': source.company, 'token': token},
                                                      *_seal_context(tenant_id))).save()
    logger.info('SimplyBook token renewed', extra={'tenant_id': tenant_id})
    return token


# --- JSON-RPC -----------------------------------------------------------------------------------


class _TokenRefused(Exception):
    """SimplyBook no longer accepts the token (expired, or issued to another company)."""


def _rpc(base: str, path: str, method: str, params: list[Any], headers: dict[str, str] | None = None) -> Any:
    """The call's result. Errors name the method and SimplyBook's code, never a key, token or sign."""
    response = platform_api.call(PLATFORM, base, 'POST', path, headers=headers,
                                 json={'jsonrpc': '2.0', 'method': method, 'params': params, 'id': 1})
    # Bounded like any outside JSON (depth, integer digits, UTF-8). An answer that is not JSON-RPC is taken for
    # something in the way (a proxy's page), retried, and dead-lettered if it never clears.
    try:
        answer = safe_json.loads_object(response.content)
    except InvalidInput:
        raise PlatformUnavailable(f'{PLATFORM} answered {method} with something that is not a JSON-RPC answer') from None
    error = answer.get('error')
    if error is None:
        return answer.get('result')
    code, message = _error_code(error), str(error.get('message', '')) if isinstance(error, dict) else ''
    if code == INVALID_REQUEST and message.strip().lower() == ACCESS_DENIED:
        raise _TokenRefused()
    if code in REFUSED_LOOKUP:
        raise LookupRefused(f'{PLATFORM} refused {method}: {REFUSED_LOOKUP[code]} ({code})')
    if code in REFUSED_CALL:
        raise LookupRefused(f'{PLATFORM} refused {method}: {REFUSED_CALL[code]} ({code})')
    if code in REFUSED_CREDENTIALS:
        raise PlatformUnavailable(f'{PLATFORM} refused {method}: {REFUSED_CREDENTIALS[code]} ({code}): '
                                  f'{CHECK_SETTINGS}')
    if code == INVALID_REQUEST:  # the company login, or a request SimplyBook could not read
        raise PlatformUnavailable(f'{PLATFORM} refused {method} ({code}): {CHECK_SETTINGS}')
    raise PlatformUnavailable(f'{PLATFORM} answered {method} with error {code}')


def _error_code(error: Any) -> int | None:
    """JSON-RPC says an integer; SimplyBook's documentation prints it as a string: either is read."""
    code = error.get('code') if isinstance(error, dict) else None
    if isinstance(code, str) and code.removeprefix('-').isdigit() and len(code) < 10:
        return int(code)
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def booking_details(tenant_id: str, source: SimplyBookSettings, booking_id: str, booking_hash: str) -> dict:
    """getBookingDetails with the token held; with a new one when there is none or SimplyBook refuses it."""
    base = settings(BookingPlatformSettings).simplybook_api_base
    sign = booking_sign(booking_id, booking_hash, source.secret_key.get_secret_value())

    def details_with(token: str) -> Any:
        return _rpc(base, '/', 'getBookingDetails', [booking_id, sign],
                    {'X-Company-Login': source.company, 'X-Token': token})

    token = _held_token(tenant_id, source.company)
    details = None
    if token is not None:
        try:
            details = details_with(token)
        except _TokenRefused:
            token = None  # expired: one new token, one more call
    if token is None:
        try:
            details = details_with(_new_token(tenant_id, source, base))
        except _TokenRefused:
            raise PlatformUnavailable(f'{PLATFORM} refused a token it has just issued: {CHECK_SETTINGS}') from None
    if not isinstance(details, dict):
        raise InvalidInput(f'{PLATFORM} answered getBookingDetails without a booking object', field='result')
    return details


# --- the source ---------------------------------------------------------------------------------


class SimplyBookSource:
    name: Literal['simplybook'] = 'simplybook'

    def translate(self, request: WebhookRequest, source: SimplyBookSettings, known: KnownBookings) -> Translation:
        try:
            callback = Callback.model_validate(safe_json.loads_object(request.body))
        except ValidationError as exc:
            raise invalid_input_from(exc) from None
        # Nothing signs the callback: the company is all the door can check, the lookup's sign does the rest.
        if callback.company != source.company:
            raise SignatureError('the callback names another company than the source\'s')
        notification = callback.notification_type
        if notification not in NOTIFICATIONS:
            return Translation()
        body_digest = hashlib.sha256(request.body).hexdigest()[:32]
        # Two `change` callbacks of two real changes are byte-identical: each delivery is its own lookup.
        delivery = each_delivery(request.received_at) if notification == 'change' else ''
        return Translation(lookups=[Lookup(
            tenant_id=request.tenant_id, source=self.name, external_id=callback.booking_id,
            event_id=f'simplybook:{callback.booking_id}:{notification}:{body_digest}{delivery}',
            booking_id=known(callback.booking_id),
            hint={'notification_type': notification, 'booking_hash': callback.booking_hash},
        )])

    def resolve(self, lookup: Lookup, source: SimplyBookSettings, known: KnownBookings, now: float) -> Translation:
        try:
            pointer = Pointer.model_validate(lookup.hint)
        except ValidationError as exc:
            raise invalid_input_from(exc, 'hint.') from None
        document = booking_details(lookup.tenant_id, source, lookup.external_id, pointer.booking_hash)
        try:
            details = Details.model_validate(document)
        except ValidationError as exc:
            raise invalid_input_from(exc, 'details.') from None
        if details.end_date_time <= details.start_date_time:
            raise InvalidInput('details.end_date_time: must be after start_date_time', field='details.end_date_time')
        event_type = 'booking.cancelled' if details.cancelled else NOTIFICATIONS[pointer.notification_type]
        booking_id = known(lookup.external_id) or f'simplybook:{lookup.external_id}'
        start, end = wall_clock_span(details.start_date_time, details.end_date_time, source.timezone)
        try:
            service = NewService(id=f'simplybook:{details.event_id}', name=details.event_name or details.event_id)
            provider = NewProvider(id=f'simplybook:{details.unit_id}', name=details.unit_name or details.unit_id,
                                   email=details.unit_email)
            client_id = details.client_id or email_key(details.client_email)
            booking = Booking(
                id=booking_id, service_id=service.id, provider_id=provider.id, start=start, end=end,
                timezone=source.timezone, payment=details.payment,
                client=Client(id=f'simplybook:{client_id}', name=details.client_name, email=details.client_email,
                              timezone=source.timezone, phone=platform_phone(details.client_phone, self.name)),
            )
        except ValidationError as exc:
            raise invalid_input_from(exc, 'details.') from None
        event = BookingEvent(
            tenant_id=lookup.tenant_id, source=self.name, type=event_type,
            occurred_at=datetime.fromtimestamp(now, UTC),
            event_id=read_event_id(lookup, event_type, booking),
            booking=booking,
        )
        return Translation(events=[event], services=[service], providers=[provider],
                           external_ids={lookup.external_id: booking_id})


SOURCE = SimplyBookSource()
