"""The scenarios `python -m infra.bench_sources simplybook` runs (not collected by the suite: a benchmark, not a test).

SimplyBook callbacks through the real webhook and meetings handlers (moto's AWS, the SimplyBook sandbox on
loopback): per booking a create, a change, the same change redelivered, a second change and a cancel, with
every token expired halfway; then the same with SimplyBook answering 503 to the first lookups. Each scenario
appends its figures to the runner's report (infra/bench_scenarios.report).
"""

import json
import statistics
import time

import pytest
from helpers import handler, sqs_event
from test_simplybook_webhooks import COMPANY, DETAILS, HASH, callback, post, sb, simplybook  # noqa: F401 (fixtures)

from infra.bench_scenarios import report

BOOKINGS = 20



def _details(day: int, hour: int) -> dict:
    return {**DETAILS, 'start_date_time': f'2030-03-{day:02} {hour:02}:00:00',
            'end_date_time': f'2030-03-{day:02} {hour:02}:30:00'}


def _drain(stack) -> tuple[list[str], int]:
    """Runs the meetings queue until it is empty, a failed record again at once (the queue would wait its
    retry delay); answers the booking events applied and the number of failed runs."""
    published, failures = [], 0
    pending = stack.cloud.queues['meetings'].receive()
    while pending:
        failed = {f['itemIdentifier'] for f in handler('meetings')(sqs_event(pending), stack.context)['batchItemFailures']}
        failures += len(failed)
        for record in pending:
            detail = json.loads(record['body'])['detail']
            if record['messageId'] not in failed and detail['type'] != 'booking.lookup':
                published.append(detail['type'])
        pending = [record for record in pending if record['messageId'] in failed] + \
            stack.cloud.queues['meetings'].receive()
    stack.pump()
    return published, failures


@pytest.mark.parametrize('outage', [0, 3])
def test_simplybook(request, outage):
    stack, sandbox = request.getfixturevalue('sb'), request.getfixturevalue('simplybook')
    answers, steps = [], [('create', 4, 9), ('change', 5, 11), ('change', 5, 11), ('change', 6, 15), ('cancel', 6, 15)]
    applied, failures = [], 0
    if outage:
        sandbox.fail('get_booking_details', 503, times=outage * BOOKINGS)
    for step, (notification_type, day, hour) in enumerate(steps):
        if step == 2:
            sandbox.expire_access_tokens()
        for n in range(BOOKINGS):
            booking_id = str(3000 + n)
            details = _details(day, hour) | {'id': booking_id, 'client_id': str(500 + n)}
            if notification_type == 'cancel':
                details['is_confirm'] = '0'
            sandbox.put_booking(COMPANY, booking_id, HASH, details)
            started = time.perf_counter()
            status, _ = post(stack, callback(notification_type, booking_id=booking_id))
            answers.append((time.perf_counter() - started) * 1000)
            assert status == 202
        published, failed = _drain(stack)
        applied += published
        failures += failed

    calls = sandbox.calls()
    details_calls = sum(1 for c in calls if c['operation'] == 'get_booking_details' and c['status'] == 200)
    token_calls = sum(1 for c in calls if c['operation'] == 'get_token')
    faulted = len(calls) - details_calls - token_calls
    views = [stack.view(f'simplybook:{3000 + n}')[1]['booking'] for n in range(BOOKINGS)]
    lost = sum(1 for view in views if view['status'] != 'cancelled' or not view['start'].startswith('2030-03-06T14'))
    answers.sort()
    report(f'{"503 x" + str(outage) if outage else "none":<10}{len(answers):>10}{statistics.median(answers):>10.1f}'
            f'{answers[int(len(answers) * 0.95)]:>9.1f}{len(applied):>9}{details_calls:>9}{token_calls:>7}{faulted:>8}'
            f'{(details_calls + token_calls) / len(answers):>10.2f}{failures:>9}{lost:>6}')
    # Every callback's re-read is published; the redelivered change's re-reads the state applied and changes nothing.
    assert lost == 0 and len(applied) == len(steps) * BOOKINGS
