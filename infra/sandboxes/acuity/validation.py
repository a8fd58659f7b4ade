"""What a seeded appointment must look like: the shape of Acuity's answer to ``GET /appointments/{id}``, so
that a receiver tested against the sandbox meets the types and formats it will meet in production."""

from __future__ import annotations

import re
import zoneinfo
from functools import cache
from typing import Any

DATETIME_RE = re.compile(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}')  # Acuity's offset has no colon
MONEY_RE = re.compile(r'\d+\.\d\d')
# What every appointment Acuity answers carries, with its JSON type; other fields pass through as seeded.
REQUIRED_FIELDS = {'firstName': str, 'lastName': str, 'email': str, 'datetime': str, 'duration': str,
                   'type': str, 'appointmentTypeID': int, 'calendar': str, 'calendarID': int, 'timezone': str}


@cache
def _iana_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_numeric_id(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 18


def check_appointment(appointment: Any, appointment_id: int | None = None) -> None:
    """ValueError naming the field unless ``appointment`` has the shape of Acuity's answer (for ``appointment_id``,
    when given: the id in a seeding request's path)."""
    if not isinstance(appointment, dict):
        raise ValueError('the appointment must be a JSON object')
    if not is_int(appointment.get('id')) or appointment['id'] < 1:
        raise ValueError('id must be a positive integer, as Acuity answers it')
    if appointment_id is not None and appointment['id'] != appointment_id:
        raise ValueError(f'id must be {appointment_id}, the id in the path')
    for name, kind in REQUIRED_FIELDS.items():
        value = appointment.get(name)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ValueError(f'{name} must be a{"n integer" if kind is int else " string"}, as Acuity answers it')
    if not DATETIME_RE.fullmatch(appointment['datetime']):
        raise ValueError('datetime must look like 2030-03-04T09:30:00-0500, as Acuity answers it')
    if not is_numeric_id(appointment['duration']):
        raise ValueError('duration must be a string of minutes, e.g. "60", as Acuity answers it')
    if appointment['timezone'] not in _iana_zones():
        raise ValueError('timezone must be an IANA time zone, e.g. America/New_York')
    if 'phone' in appointment and not isinstance(appointment['phone'], str):
        raise ValueError('phone must be a string ("" when the client gave none), as Acuity answers it')
    if 'canceled' in appointment and not isinstance(appointment['canceled'], bool):
        raise ValueError('canceled must be true or false')
    if 'paid' in appointment and appointment['paid'] not in ('yes', 'no'):
        raise ValueError('paid must be "yes" or "no", as Acuity answers it')
    for name in ('price', 'amountPaid'):
        if name in appointment and not (isinstance(appointment[name], str) and MONEY_RE.fullmatch(appointment[name])):
            raise ValueError(f'{name} must be a string such as "10.00", as Acuity answers it')
