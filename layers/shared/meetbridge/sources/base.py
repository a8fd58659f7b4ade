"""The interface every booking source implements.

A source verifies a request the platform's own way, with what verifies it for the tenant (the
tenant's webhook secret for `generic`, the source's own sealed settings for a platform), and
translates it into a `Translation`: the booking events it carries, the services and providers it
names, the platform booking ids it ties to our booking ids, and the lookups that must read the rest
of a booking from the platform's API. Lookups are done in the meetings pipeline behind the webhook,
never while the platform waits for its answer.
"""

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from meetbridge.domain.model import (E164_PATTERN, Booking, BookingEvent, Email, Identifier, MeetingUrl, Name,
                                    TimeZoneName)
from meetbridge.errors import InvalidInput, MeetbridgeError, RetryLater
from meetbridge.notify import locales
from meetbridge.observability import logger


class PlatformModel(BaseModel):
    """What a platform sends or answers, read for the fields a booking needs: the rest is ignored, as platforms
    add fields without notice."""

    model_config = ConfigDict(extra='ignore')


@dataclass(frozen=True)
class WebhookRequest:
    tenant_id: str
    headers: dict[str, str]  # lower-cased names
    body: bytes  # the raw bytes as received: signatures cover these, never a re-serialisation
    received_at: float  # unix seconds
    url: str = ''  # the URL the platform posted to, as it sees it, without the query string (Square signs it)
    query: str = ''  # the raw query string, without '?'


class NewService(BaseModel):
    """A service a webhook names; registered when the tenant has none with this id."""

    model_config = ConfigDict(frozen=True)
    id: Identifier
    name: Name


class NewProvider(BaseModel):
    """A provider (staff member) a webhook names; registered when the tenant has none with this id."""

    model_config = ConfigDict(frozen=True)
    id: Identifier
    name: Name
    email: Email | None = None
    timezone: TimeZoneName | None = None


class Lookup(BaseModel):
    """A booking whose details must be read from the platform's API before it can be applied.

    Published on the bus as a `booking.lookup` event; the meetings pipeline asks the source to
    `resolve` it (retried on the platform's 429/5xx/timeouts like a provider outage) and applies the
    booking events that answer gives."""

    model_config = ConfigDict(frozen=True)
    tenant_id: Identifier
    source: Identifier
    event_id: str = Field(min_length=1, max_length=200)  # dedupes identical deliveries
    external_id: Identifier  # the platform's booking id
    booking_id: Identifier | None = None  # ours, when the booking is already known
    # What the webhook said that the lookup needs: the platform's event kind, a hash the API call needs, the
    # part of the booking the webhook did carry (Square). JSON values; the webhook's body bounds its size.
    hint: dict[str, Any] = {}


@dataclass(frozen=True)
class Translation:
    events: list[BookingEvent] = field(default_factory=list)
    lookups: list[Lookup] = field(default_factory=list)
    services: list[NewService] = field(default_factory=list)
    providers: list[NewProvider] = field(default_factory=list)
    # Platform booking id -> our booking id, recorded before the events are published, so that a later event
    # naming either id (a reschedule's new id, a cancel of it) finds the same booking.
    external_ids: dict[str, str] = field(default_factory=dict)


# Our booking id for a platform booking id already seen, or None.
KnownBookings = Callable[[str], str | None]


class PlatformUnavailable(RetryLater):
    """The platform's API answered 429 or 5xx, or did not answer in time: the lookup is retried like a provider
    outage, and ends in the dead-letter queue when it never succeeds."""


class LookupRefused(MeetbridgeError):
    """The platform's API refused the lookup (a forged pointer, a booking it does not have): nothing is created
    or changed, and the delivery is logged as rejected."""


class BookingSource(Protocol):
    name: str

    def translate(self, request: WebhookRequest, verifier: Any, known: KnownBookings) -> Translation:
        """Verifies the request (raising SignatureError) with `verifier`: the tenant's webhook secrets in force
        for `generic`, the source's settings (sources/settings.py) for a platform; translates it (raising
        InvalidInput)."""


class LookupSource(BookingSource, Protocol):
    """A source whose webhooks carry only ids: `translate` answers lookups, `resolve` answers each one."""

    def resolve(self, lookup: Lookup, settings: Any, known: KnownBookings, now: float) -> Translation:
        """Reads the booking from the platform's API (sources/platform_api.py) with the source's settings and
        translates what it answers; `now` (unix seconds) is when it was read, which orders re-read states.
        Raises PlatformUnavailable (retried), LookupRefused (dropped, logged), InvalidInput (what the API
        answered cannot be a booking: dropped, logged)."""


def read_event_id(lookup: Lookup, event_type: str, booking: Booking) -> str:
    """The id of the booking event a lookup read: named by the lookup and the state it read. The queue running the
    lookup again publishes nothing new; each delivery's re-read is its own change, so two byte-identical webhooks of
    two changes (SimplyBook's `change`, Acuity's `changed`) both apply, and a booking moved away and back follows
    every move."""
    read = json.dumps([lookup.event_id, event_type, booking.model_dump(mode='json')], sort_keys=True)
    return f'{lookup.source}:{lookup.external_id}:{hashlib.sha256(read.encode()).hexdigest()[:32]}'


def each_delivery(received_at: float) -> str:
    """What makes a lookup's id its delivery's own, for a platform that sends two changes as the same bytes."""
    return f':{int(received_at * 1_000_000)}'


_MEETING_URL = TypeAdapter(MeetingUrl)


def meeting_url_or_none(url: str | None) -> str | None:
    """A meeting URL a platform sent, when it is one we lead people to (https); None otherwise, so that meetbridge
    makes the meeting."""
    if not url:
        return None
    try:
        return _MEETING_URL.validate_python(url)
    except ValidationError:
        return None


def email_key(email: str) -> str:
    """What names a client the platform gives no id: its email address, case folded, hashed."""
    return hashlib.sha256(email.lower().encode()).hexdigest()[:32]


def known_zone(name: str | None) -> str | None:
    """A zone name a platform sent (IANA's): one this runtime does not know is left out rather than refused."""
    if not name:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


def _text_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and len(value) <= 200 else None


# A field a booking can do without (the client's phone, locale): read when it is text of a sane length, else
# None, so that what a platform puts there never fails the booking. Its content is checked where it is used.
OptionalText = Annotated[str | None, BeforeValidator(_text_or_none)]

# What people and platforms put between a number's digits.
_PHONE_PUNCTUATION = re.compile(r'[\s.()\-]')
# The national trunk prefix some write after the country code ('+44 (0)20 7946 0000'): dialled only from inside the
# country, so not part of the international number.
_TRUNK_PREFIX = re.compile(r'\(\s*0\s*\)')
_E164 = re.compile(E164_PATTERN)


def platform_phone(number: str | None, source: str) -> str | None:
    """A client's phone number a platform sent, in E.164 (a `(0)` trunk prefix, spaces, dots, dashes and
    parentheses dropped, an international `00` prefix read as `+`), or None: a number that is still not E.164 is left out, never failing
    the booking, and the log line does not show it (it is the client's)."""
    if not number:
        return None
    compact = _PHONE_PUNCTUATION.sub('', _TRUNK_PREFIX.sub('', number))
    if compact.startswith('00'):
        compact = '+' + compact[2:]
    if _E164.match(compact):
        return compact
    logger.info('client phone number left out: not an international (E.164) number', extra={'source': source})
    return None


def platform_locale(tag: str | None, source: str) -> str | None:
    """A client's language tag a platform sent, normalised (`'fr_CA'` -> `'fr-CA'`), or None for one that cannot be
    a language tag (left out, never failing the booking)."""
    if not tag:
        return None
    try:
        return locales.normalize(tag)
    except ValueError as exc:
        logger.info('client locale left out', extra={'source': source, 'reason': str(exc)})
        return None


def invalid_input_from(error: ValidationError, prefix: str = '') -> InvalidInput:
    """The first problem of a pydantic error, with its field in dotted form."""
    first = error.errors()[0]
    field_name = '.'.join(str(part) for part in first['loc'] if not str(part).startswith('function-after'))
    field_name = f'{prefix}{field_name}' if field_name else prefix.rstrip('.') or None
    message = first['msg'].removeprefix('Value error, ')
    return InvalidInput(f'{field_name}: {message}' if field_name else message, field=field_name)
