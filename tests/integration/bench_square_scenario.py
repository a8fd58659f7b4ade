"""The scenarios `python -m infra.bench_sources square` runs (not collected by the suite: a benchmark, not a test).

30 Square bookings across 5 team members, each created, moved and cancelled (90 booking events), posted
through the real webhook handler and looked up by the real meetings handler against moto and the Square
sandbox. Each scenario appends to the runner's report (infra/bench_scenarios.report): the webhook's answer time (in
process, on moto: the work meetbridge does before Square gets its answer) and the calls made to Square's API
per booking event, with a customer read reused within the function instance and with every lookup
reading again (a lookup landing in another instance).
"""

import statistics
import time

import pytest
# The fixtures are imported so that the scenarios can ask for them by name.
from test_square_webhooks import (SERVICE_VARIATION_ID, customer_read_every_time, post, square,  # noqa: F401
                                  square_api, square_body)

from infra.bench_scenarios import report


BOOKINGS = 30
TEAM_MEMBERS = 5
CHANGES = (('booking.created', 0, 'ACCEPTED', '2026-03-18T14:00:00Z'),
           ('booking.updated', 1, 'ACCEPTED', '2026-03-20T09:30:00Z'),
           ('booking.updated', 2, 'CANCELLED_BY_CUSTOMER', '2026-03-20T09:30:00Z'))



@pytest.mark.parametrize('customer_reads', ['reused', 'every time'])
def test_square_bookings(request, customer_reads):
    stack = request.getfixturevalue('square')
    if customer_reads == 'every time':
        request.getfixturevalue('customer_read_every_time')
    for m in range(TEAM_MEMBERS):
        stack.square_api.put_team_member(f'TM{m}', {'given_name': f'Member {m}', 'status': 'ACTIVE'})
    for n in range(BOOKINGS):
        stack.square_api.put_customer(f'CUST{n}', {'given_name': f'Client {n}', 'email_address': f'c{n}@example.org'})

    answers_ms, events = [], 0
    for event_type, version, status, start in CHANGES:
        for n in range(BOOKINGS):
            body = square_body(event_type, event_id=f'evt-{n}-{version}', version=version, status=status,
                               start_at=start, id=f'bk{n}', customer_id=f'CUST{n}',
                               segments=[{'duration_minutes': 45, 'service_variation_id': SERVICE_VARIATION_ID,
                                          'team_member_id': f'TM{n % TEAM_MEMBERS}'}])
            started = time.perf_counter()
            status_code, _ = post(stack, body)
            answers_ms.append((time.perf_counter() - started) * 1000)
            assert status_code == 202
            events += 1
        stack.pump()

    calls = stack.square_api.calls()
    customers = sum(1 for call in calls if call['operation'] == 'retrieve_customer')
    members = sum(1 for call in calls if call['operation'] == 'retrieve_team_member')
    cancelled = sum(1 for n in range(BOOKINGS) if stack.view(f'square:bk{n}')[1]['booking']['status'] == 'cancelled')
    answers_ms.sort()
    report(f'{customer_reads:<12}{events:>7}{statistics.median(answers_ms):>10.1f}'
            f'{answers_ms[int(len(answers_ms) * 0.95)]:>9.1f}{answers_ms[-1]:>9.1f}{customers:>11}{members:>9}'
            f'{(customers + members) / events:>11.2f}{cancelled:>11}')
