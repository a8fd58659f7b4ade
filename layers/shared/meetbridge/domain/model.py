"""The normalised booking event every booking source is translated into."""

from datetime import UTC, datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, ValidationInfo, field_validator,
                      model_validator)

from meetbridge.domain.ordering import SourceOrder, change_digest
from meetbridge.notify import locales

# Ids become parts of table keys and URLs: no separators, no spaces, bounded.
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r'^[A-Za-z0-9][A-Za-z0-9._:@-]*$')]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Email = Annotated[str, Field(max_length=254, pattern=r'^[^@\s<>"]+@[^@\s<>"]+\.[^@\s<>"]+$')]

BookingEventType = Literal['booking.created', 'booking.rescheduled', 'booking.cancelled', 'booking.paid']
# Where the booking was made, when it matters: a kiosk booking gets no online meeting (docs/api.md, "Kiosk bookings").
# Absent means anywhere else; only a channel that changes what meetbridge does is a value.
Channel = Literal['kiosk']


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f'unknown IANA time zone {name!r}') from exc
    return name


TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_zone)]

# A phone number in E.164: what SNS sends an SMS to.
E164_PATTERN = r'^\+[1-9][0-9]{6,14}$'
PhoneNumber = Annotated[str, Field(pattern=E164_PATTERN)]
# A BCP 47 language tag, held normalised ('fr-CA'): the language a client's messages are written in.
Locale = Annotated[str, Field(min_length=1), AfterValidator(locales.normalize)]


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00:00-14:00 is in the year 10000 in UTC
        raise ValueError('the instant is outside the years 1 to 9999 in UTC') from None


# An instant: any offset is read, and it is held (stored, scheduled, published) in UTC.
Instant = Annotated[AwareDatetime, AfterValidator(_in_utc)]
# The booking's revision at its source; bounded so it fits a DynamoDB number and a signed 64-bit integer.
Revision = Annotated[int, Field(strict=True, ge=0, le=2**63 - 1)]


def _https_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != 'https' or not parts.netloc:
        raise ValueError('must be an https URL')
    return url


# A meeting the booking platform attached itself (a Cal.com video integration, a Calendly conference).
MeetingUrl = Annotated[str, Field(max_length=2048), AfterValidator(_https_url)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra='ignore')


class Client(_Strict):
    id: Identifier
    name: Name
    email: Email
    timezone: TimeZoneName | None = None
    phone: PhoneNumber | None = None  # gets the SMS when the tenant sends them
    locale: Locale | None = None  # else the tenant's default locale


class Payment(_Strict):
    required: bool = False
    status: Literal['pending', 'paid'] = 'pending'


class Booking(_Strict):
    id: Identifier
    service_id: Identifier
    provider_id: Identifier
    start: Instant
    end: Instant
    timezone: TimeZoneName
    version: Revision | None = None  # increases with every change of the booking at its source
    session_id: Identifier | None = None
    payment: Payment = Payment()
    client: Client
    # Set when the platform made the meeting: none is made, the booking's links lead to this one.
    platform_meeting_url: MeetingUrl | None = None
    # Set when the platform is still making its own meeting and has not sent its URL: the booking keeps the
    # meeting it has, and none is made for it (docs/api.md, "The platform's own meeting").
    platform_meeting_pending: bool = False
    channel: Channel | None = None

    @model_validator(mode='after')
    def _ends_after_start(self):
        if self.end <= self.start:
            raise ValueError('end must be after start')
        return self

    @field_validator('platform_meeting_pending')
    @classmethod
    def _made_or_pending(cls, pending: bool, info: ValidationInfo) -> bool:
        if pending and info.data.get('platform_meeting_url'):
            raise ValueError('must be false when platform_meeting_url is given')
        return pending

    @property
    def meeting_key(self) -> str:
        """One meeting per class session, otherwise one per booking; a meeting the platform made is the
        booking's own, whatever session it is in, and so is one it is still making. A kiosk booking's is its own
        too, and none is ever made under it: it never shows its session's meeting."""
        if self.session_id and not (self.platform_meeting_url or self.platform_meeting_pending or
                                    self.channel == 'kiosk'):
            return f'session:{self.session_id}'
        return f'booking:{self.id}'


class BookingEvent(_Strict):
    """What the bus carries from a booking source to the meetings function.

    Its order among the booking's changes is the source's own: `booking.version`, else
    `occurred_at` (when the change happened at the source), as each source translates them;
    never when it was signed or when it arrived (domain/ordering.py).
    """

    tenant_id: Identifier
    source: Identifier
    event_id: Annotated[str, Field(min_length=1, max_length=200)]
    type: BookingEventType
    occurred_at: Instant | None = None
    booking: Booking

    @property
    def order(self) -> SourceOrder:
        # A booking without a channel digests as it did before the field existed, so changes recorded then still tie.
        content = self.booking.model_dump(mode='json', exclude={'channel'} if self.booking.channel is None else None)
        return SourceOrder(self.booking.version, self.occurred_at, change_digest(self.type, content))
