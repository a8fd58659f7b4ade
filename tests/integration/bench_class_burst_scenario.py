"""The scenarios `python -m infra.bench_class_burst` runs (not collected by the suite: a benchmark).

50 bookings of one class session arrive at once, each applied by the real meetings logic in its own
thread (as 50 concurrent Lambdas would), against moto and the provider's sandbox (AWS calls applied one
at a time, each whole, as the integration harness does). Each scenario appends its figures to the runner's
report (infra/bench_scenarios.report).
"""

import threading
import time
import traceback
from datetime import UTC, datetime

import pytest
from bookings import booking_event
from helpers import acting_as
from integration_stack import connect_microsoft, connect_zoom

from infra.bench_scenarios import report
from functions.meetings.handler import MeetingsSettings
from meetbridge import config
from meetbridge.domain.model import BookingEvent
from meetbridge.logic import bookings
from meetbridge.store.models import MeetingItem

BOOKINGS = 50


@pytest.mark.parametrize('provider', ['zoom', 'microsoft'])
def test_class_burst(stack, request, provider):
    sandbox = request.getfixturevalue(provider)
    stack.setup_online_service()
    assert stack.admin('PUT', 'services/svc', {'name': 'Yoga', 'online': True, 'kind': 'class'})[0] == 200
    (connect_zoom if provider == 'zoom' else connect_microsoft)(stack, sandbox)
    events = [BookingEvent.model_validate({
        **booking_event(booking_id=f'b{n}', client_id=f'c{n}', session_id='s1'),
        'tenant_id': stack.tenant.tenant_id, 'source': 'generic', 'occurred_at': datetime.now(UTC).isoformat(),
    }) for n in range(BOOKINGS)]
    failures, settled_at = [], []

    @config.using(MeetingsSettings)
    def apply(event):
        try:
            with acting_as('meetings'):
                bookings.apply(event, datetime.now(UTC))
            settled_at.append(time.monotonic())
        except Exception as exc:  # the record would go back to its queue and wait
            failures.append(''.join(traceback.format_exception(exc)))

    threads = [threading.Thread(target=apply, args=(event,)) for event in events]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    meeting = MeetingItem.get(*MeetingItem.key(stack.tenant.tenant_id, 'session:s1'))
    links = {stack.view(f'b{n}')[1]['links']['clients'].get(f'c{n}') for n in range(BOOKINGS)} - {None}
    registrants = len(sandbox.registrants(next(iter(sandbox.meetings)))) if provider == 'zoom' else '-'
    report(f'{provider:<10}{BOOKINGS:>7}{len(sandbox.meetings):>10}{len(meeting.booking_ids):>9}'
           f'{len(links):>7}{registrants!s:>12}{len(failures):>9}'
           f'{(max(settled_at) - started) if settled_at else float("nan"):>11.1f}')
    assert failures == [] and len(sandbox.meetings) == 1 and len(links) == BOOKINGS
