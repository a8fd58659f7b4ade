"""The scenario `python -m infra.bench_sources wix` runs (not collected by the suite: a benchmark, not a test).

Wix Bookings deliveries through the real webhook handler on moto: each booking created, rescheduled,
delivered again (a retry) and cancelled. Reports the webhook's answer time (the handler's wall time,
moto's AWS in-process), the time to verify and translate a token alone, and the HTTP requests made to
anything but AWS while doing so (Wix's webhook carries the whole booking: none). Appends its figures to
the runner's report (infra/bench_scenarios.report).
"""

import time

import httpx2
from test_wix_webhooks import PUBLIC_PEM, claims_of, jwt, post, wix_booking, wix_event

from infra.bench_scenarios import milliseconds, report
from meetbridge.sources.base import WebhookRequest
from meetbridge.sources.settings import WixSettings
from meetbridge.sources.wix import SOURCE

BOOKINGS = 25
TRANSLATIONS = 500




def _deliveries(n: int) -> list[tuple[str, dict]]:
    booking_id = f'bench-booking-{n}'
    moved = wix_booking('2', '2027-01-20T09:30:00Z', '2027-01-20T10:15:00Z', id=booking_id)
    rescheduled = wix_event('rescheduled', moved, event_id=f'evt-{n}-2')
    return [('created', wix_event(booking=wix_booking(id=booking_id), event_id=f'evt-{n}-1')),
            ('rescheduled', rescheduled), ('retry', rescheduled),
            ('cancelled', wix_event('canceled', wix_booking('3', status='CANCELED', id=booking_id),
                                    event_id=f'evt-{n}-3'))]


def test_wix_webhooks(stack, monkeypatch):
    assert stack.admin('PUT', 'sources/wix', {'public_key': PUBLIC_PEM, 'online': 'all'})[0] == 200
    account = {'type': 'custom_link', 'url': 'https://meet.example.com/room', 'description': 'Room 1'}
    assert stack.admin('PUT', 'accounts/default', account)[0] == 200
    outside_calls = []
    original_send = httpx2.Client.send
    monkeypatch.setattr(httpx2.Client, 'send', lambda client, request, **kwargs: (
        outside_calls.append(str(request.url)), original_send(client, request, **kwargs))[1])

    answers: dict[str, list[float]] = {}
    for n in range(BOOKINGS):
        for kind, event in _deliveries(n):
            body = jwt(claims_of(event))
            started = time.perf_counter()
            status, _ = post(stack, body)
            answers.setdefault(kind, []).append(time.perf_counter() - started)
            assert status == 202
        stack.pump()

    settings = WixSettings(public_key=PUBLIC_PEM)
    body = jwt(claims_of(wix_event())).encode()
    translations = []
    for _ in range(TRANSLATIONS):
        started = time.perf_counter()
        SOURCE.translate(WebhookRequest(stack.tenant.tenant_id, {}, body, time.time()), settings, lambda _: None)
        translations.append(time.perf_counter() - started)

    events = sum(len(samples) for samples in answers.values())
    for kind, samples in answers.items():
        report(f'{"answer " + kind:<30}{len(samples):>6}{milliseconds(samples)}')
    report(f'{"verify + translate":<30}{TRANSLATIONS:>6}{milliseconds(translations)}')
    report(f'HTTP requests outside AWS: {len(outside_calls)} for {events} webhook events '
            f'({len(outside_calls) / events:.0f} per event)')
    assert outside_calls == []
