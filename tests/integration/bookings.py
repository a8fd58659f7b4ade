"""Generic-format booking events for tests."""

import uuid
from datetime import UTC, datetime, timedelta


def booking_event(kind: str = 'booking.created', booking_id: str = 'b1', start: datetime | None = None,
                  minutes: int = 60, client_id: str = 'c1', session_id: str | None = None,
                  service_id: str = 'svc', provider_id: str = 'dana', payment: dict | None = None,
                  event_id: str | None = None, version: int | None = None,
                  occurred_at: datetime | None = None) -> dict:
    start = start or datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    order = {'occurred_at': occurred_at.isoformat()} if occurred_at else {}
    return {
        'event_id': event_id or f'evt-{uuid.uuid4().hex[:12]}',
        'type': kind,
        **order,
        'booking': {
            'id': booking_id,
            'service_id': service_id,
            'provider_id': provider_id,
            'start': start.isoformat(),
            'end': (start + timedelta(minutes=minutes)).isoformat(),
            'timezone': 'Europe/Berlin',
            'session_id': session_id,
            **({'version': version} if version is not None else {}),
            'payment': payment or {'required': False, 'status': 'pending'},
            'client': {'id': client_id, 'name': f'Client {client_id}', 'email': f'{client_id}@example.org',
                       'timezone': 'America/New_York'},
        },
    }
