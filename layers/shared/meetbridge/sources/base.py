"""The interface every booking source implements."""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from pydantic import ValidationError

from meetbridge.domain.model import BookingEvent
from meetbridge.errors import InvalidInput


@dataclass(frozen=True)
class WebhookRequest:
    tenant_id: str
    headers: dict[str, str]  # lower-cased names
    body: bytes  # the raw bytes as received: signatures cover these, never a re-serialisation
    received_at: float  # unix seconds


class BookingSource(Protocol):
    name: str

    def translate(self, request: WebhookRequest, secrets: Sequence[bytes]) -> list[BookingEvent]:
        """Verifies the request with any of the tenant's secrets in force (raising SignatureError) and
        translates it (raising InvalidInput)."""


def invalid_input_from(error: ValidationError, prefix: str = '') -> InvalidInput:
    """The first problem of a pydantic error, with its field in dotted form."""
    first = error.errors()[0]
    field = '.'.join(str(part) for part in first['loc'] if not str(part).startswith('function-after'))
    field = f'{prefix}{field}' if field else prefix.rstrip('.') or None
    message = first['msg'].removeprefix('Value error, ')
    return InvalidInput(f'{field}: {message}' if field else message, field=field)
