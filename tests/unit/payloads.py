"""Valid booking payloads for the unit tests, changed one field at a time."""

import copy
from typing import Any


def booking_payload(**changes: Any) -> dict[str, Any]:
    booking = {
        'id': 'b-1001',
        'service_id': 'svc-yoga',
        'provider_id': 'prov-7',
        'start': '2026-12-01T10:00:00+01:00',
        'end': '2026-12-01T11:00:00+01:00',
        'timezone': 'Europe/Berlin',
        'client': {'id': 'cl-42', 'name': 'Ann Lee', 'email': 'ann@example.com', 'timezone': 'America/New_York'},
    }
    booking.update(copy.deepcopy(changes))
    return booking


def webhook_payload(**changes: Any) -> dict[str, Any]:
    document = {'event_id': 'evt-1', 'type': 'booking.created', 'booking': booking_payload()}
    document.update(copy.deepcopy(changes))
    return document
