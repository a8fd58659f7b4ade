"""The normalised booking event every booking source is translated into."""

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

# Ids become parts of table keys and URLs: no separators, no spaces, bounded.
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r'^[A-Za-z0-9][A-Za-z0-9._:@-]*$')]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Email = Annotated[str, Field(max_length=254, pattern=r'^[^@\s<>"]+@[^@\s<>"]+\.[^@\s<>"]+$')]

BookingEventType = Literal['booking.created', 'booking.rescheduled', 'booking.cancelled', 'booking.paid']


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f'unknown IANA time zone {name!r}') from exc
    return name


TimeZoneName = Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_known_zone)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra='ignore')


class Client(_Strict):
    id: Identifier
    name: Name
    email: Email
    timezone: TimeZoneName | None = None


class Payment(_Strict):
    required: bool = False
    status: Literal['pending', 'paid'] = 'pending'


class Booking(_Strict):
    id: Identifier
    service_id: Identifier
    provider_id: Identifier
    start: AwareDatetime
    end: AwareDatetime
    timezone: TimeZoneName
    session_id: Identifier | None = None
    payment: Payment = Payment()
    client: Client

    @model_validator(mode='after')
    def _ends_after_start(self):
        if self.end <= self.start:
            raise ValueError('end must be after start')
        return self

    @property
    def meeting_key(self) -> str:
        """One meeting per class session, otherwise one per booking."""
        return f'session:{self.session_id}' if self.session_id else f'booking:{self.id}'


class BookingEvent(_Strict):
    """What the bus carries from a booking source to the meetings function."""

    tenant_id: Identifier
    source: Identifier
    event_id: Annotated[str, Field(min_length=1, max_length=200)]
    type: BookingEventType
    occurred_at: datetime
    booking: Booking
