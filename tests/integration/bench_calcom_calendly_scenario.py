"""The Cal.com and Calendly scenarios `python -m infra.bench_sources` runs (not collected by the suite: a
benchmark, not a test).

Each platform's deliveries through the real webhook handler on moto: every booking created, rescheduled
(Cal.com: a new booking naming the old uid; Calendly: the canceled-old + created-new pair), delivered again
(a retry) and cancelled. Reports the webhook's answer time (the handler's wall time, moto's AWS
in-process) and the HTTP requests made to anything but AWS while doing so (both webhooks carry the whole
booking: none). Appends its figures to the runner's report (infra/bench_scenarios.report).
"""

import time

import httpx2
import pytest
import test_calcom_webhooks as calcom
import test_calendly_webhooks as calendly

from infra.bench_scenarios import milliseconds, report

BOOKINGS = 25




def _calcom_deliveries(n: int) -> list[tuple[str, bytes]]:
    first, second = f'benchUid{n:04}first', f'benchUid{n:04}second'
    moved = calcom.calcom_body('BOOKING_RESCHEDULED', second, '2026-03-05T18:00:00.000Z', calcom.NEW_START,
                               calcom.NEW_END, rescheduleUid=first)
    return [('created', calcom.calcom_body(uid=first)), ('rescheduled', moved), ('retry', moved),
            ('cancelled', calcom.calcom_body('BOOKING_CANCELLED', second, '2026-03-05T19:00:00.000Z',
                                             calcom.NEW_START, calcom.NEW_END))]


def _calendly_deliveries(n: int) -> list[tuple[str, bytes]]:
    first, second = f'BENCH{n:04}FIRSTAA', f'BENCH{n:04}SECONDA'
    created_new = calendly.created_by_reschedule(second, first, '2026-03-05T18:00:00.000000Z')
    return [('created', calendly.calendly_body(invitee=first)),
            ('rescheduled (old)', calendly.canceled_for_reschedule(first, second, '2026-03-05T18:00:00.000000Z')),
            ('rescheduled (new)', created_new), ('retry', created_new),
            ('cancelled', calendly.calendly_body('invitee.canceled', second, '2026-03-05T19:00:00.000000Z',
                                                 calendly.NEW_START, calendly.NEW_END))]


PLATFORMS = {
    'calcom': ({'secret': calcom.SECRET, 'online': 'all'}, _calcom_deliveries, calcom.post),
    'calendly': ({'signing_key': calendly.SIGNING_KEY, 'online': 'all'}, _calendly_deliveries, calendly.post),
}


@pytest.mark.parametrize('platform', list(PLATFORMS))
def test_webhooks(stack, monkeypatch, platform):
    settings, deliveries, post = PLATFORMS[platform]
    assert stack.admin('PUT', f'sources/{platform}', settings)[0] == 200
    account = {'type': 'custom_link', 'url': 'https://meet.example.com/room', 'description': 'Room 1'}
    assert stack.admin('PUT', 'accounts/default', account)[0] == 200
    outside_calls = []
    original_send = httpx2.Client.send
    monkeypatch.setattr(httpx2.Client, 'send', lambda client, request, **kwargs: (
        outside_calls.append(str(request.url)), original_send(client, request, **kwargs))[1])

    answers: dict[str, list[float]] = {}
    for n in range(BOOKINGS):
        for kind, body in deliveries(n):
            started = time.perf_counter()
            status, _ = post(stack, body)
            answers.setdefault(kind, []).append(time.perf_counter() - started)
            assert status == 202
        stack.pump()

    events = sum(len(samples) for samples in answers.values())
    for kind, samples in answers.items():
        report(f'{platform + " " + kind:<30}{len(samples):>6}{milliseconds(samples)}')
    report(f'{platform}: HTTP requests outside AWS: {len(outside_calls)} for {events} webhook deliveries')
    views = [stack.view(f'{platform}:{_first_id(platform, n)}')[1]['booking'] for n in range(BOOKINGS)]
    followed = sum(view['status'] == 'cancelled' and view['start'].startswith('2026-03-20T09:30') for view in views)
    report(f'{platform}: {followed} of {BOOKINGS} bookings moved and cancelled as one booking each')
    assert outside_calls == [] and followed == BOOKINGS


def _first_id(platform: str, n: int) -> str:
    return f'benchUid{n:04}first' if platform == 'calcom' else f'BENCH{n:04}FIRSTAA'
