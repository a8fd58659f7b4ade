"""Acuity's webhook as it arrives: a form-encoded body (``action``, ``id``, ``calendarID``,
``appointmentTypeID``) signed with ``X-Acuity-Signature`` = base64 HMAC-SHA256(API key, raw body)
(booking-webhooks.md section 4)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

# The static-webhook actions, and the dynamic webhooks' ``appointment.`` spelling of the same four.
ACTIONS = ('scheduled', 'rescheduled', 'canceled', 'changed')
ACTION_SPELLINGS = ACTIONS + tuple(f'appointment.{action}' for action in ACTIONS)


def sign(api_key: str, raw_body: bytes) -> str:
    """The ``X-Acuity-Signature`` of ``raw_body``."""
    return base64.b64encode(hmac.new(api_key.encode(), raw_body, hashlib.sha256).digest()).decode()


def form_body(action: str, appointment: dict[str, Any]) -> bytes:
    """What Acuity posts about ``appointment``, e.g.
    ``action=scheduled&id=1204583921&calendarID=8123456&appointmentTypeID=51234567``."""
    if action not in ACTION_SPELLINGS:
        raise ValueError(f'action must be one of {list(ACTION_SPELLINGS)}')
    return urlencode({'action': action, 'id': appointment['id'], 'calendarID': appointment['calendarID'],
                      'appointmentTypeID': appointment['appointmentTypeID']}).encode()
