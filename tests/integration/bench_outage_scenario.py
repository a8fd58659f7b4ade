"""The scenarios `python -m infra.bench_outage` runs (not collected by the suite: a benchmark, not a test).

A provider answers 503 to every meeting creation for an outage of simulated time while 50 bookings
arrive. The real webhook and meetings handlers run against moto and the provider's sandbox; the
meetings queue is simulated on a virtual clock: each failed record comes back after the delay the
meetings function asks for (`retry_delay` of its receive count) and reaches the dead-letter queue
after the template's maxReceiveCount, as SQS does. The sandbox's clock is advanced with the virtual one
(tokens expire and are refreshed as they would). Each scenario appends its figures to the runner's report
(infra/bench_scenarios.report).
"""

import json
from collections import Counter

import pytest
from bookings import booking_event
from helpers import handler, sqs_event
from integration_stack import connect_microsoft, connect_zoom, template_resources

from infra.bench_scenarios import report
from functions.meetings.handler import retry_delay

BOOKINGS = 50
BATCH = 10
OUTAGES = {'30s': 30, '15min': 15 * 60, '6h': 6 * 3600}
UNAVAILABLE = {'zoom': {'code': 503, 'message': 'Service Unavailable'},
               'microsoft': {'error': {'code': 'ServiceNotAvailable', 'message': 'try later'}}}



@pytest.mark.parametrize('outage', list(OUTAGES))
@pytest.mark.parametrize('provider', ['zoom', 'microsoft'])
def test_outage(stack, request, provider, outage):
    sandbox = request.getfixturevalue(provider)
    stack.setup_online_service()
    (connect_zoom if provider == 'zoom' else connect_microsoft)(stack, sandbox)
    max_receives = int(template_resources()['MeetingsQueue']['Properties']['RedrivePolicy']['maxReceiveCount'])
    outage_seconds = OUTAGES[outage]
    # Far enough ahead that no start passes during the longest outage.
    # Teams meetings are made through Graph's createOrGet (idempotent by our reference).
    creating = 'create_meeting' if provider == 'zoom' else 'create_or_get_meeting'
    sandbox.fail(creating, 503, body=UNAVAILABLE[provider], times=10**6)

    now = 0.0  # virtual seconds since the outage began
    for n in range(BOOKINGS):
        assert stack.post(booking_event(booking_id=f'b{n}', client_id=f'c{n}'))[0] == 202
    waiting = [{'record': record, 'visible_at': 0.0, 'receives': 0} for record in stack.cloud.queues['meetings'].receive()]
    assert len(waiting) == BOOKINGS
    visible_with_problem = sum(1 for n in range(BOOKINGS) if stack.view(f'b{n}')[1]['booking']['problem'])

    dead, made_at, invocations, outage_over = [], {}, 0, False
    while waiting:
        now = max(now, min(entry['visible_at'] for entry in waiting))
        if not outage_over and now >= outage_seconds:
            sandbox.clear_faults()
            outage_over = True
        due = [entry for entry in waiting if entry['visible_at'] <= now][:BATCH]
        records = []
        for entry in due:
            entry['receives'] += 1
            records.append({**entry['record'], 'attributes': {**entry['record']['attributes'],
                                                              'ApproximateReceiveCount': str(entry['receives'])}})
        answer = handler('meetings')(sqs_event(records), stack.context)
        invocations += 1
        failed = {failure['itemIdentifier'] for failure in answer['batchItemFailures']}
        for entry in due:
            if entry['record']['messageId'] not in failed:
                waiting.remove(entry)
                made_at[entry['record']['messageId']] = now
            elif entry['receives'] >= max_receives:
                waiting.remove(entry)
                dead.append(entry)
            else:
                entry['visible_at'] = now + retry_delay(entry['receives'])
        if waiting:
            step = max(0.0, min(entry['visible_at'] for entry in waiting) - now)
            sandbox.advance(step)

    views = [stack.view(f'b{n}')[1] for n in range(BOOKINGS)]
    with_meeting = sum(1 for view in views if view['meeting'] and view['meeting']['status'] == 'scheduled')
    # Waiting for the provider's daily reset (a retry scheduled after midnight UTC): delayed, not lost.
    daily_limit = sum(1 for view in views if not view['meeting'] and 'a day' in (view['booking']['problem'] or ''))
    notices = Counter(json.loads(record['body'])['detail']['booking_id']
                      for record in stack.cloud.queues['notifications'].receive()
                      if json.loads(record['body'])['detail-type'] == 'meeting.scheduled')
    at_provider = len(sandbox.meetings)
    recovered = max(made_at.values()) - outage_seconds if with_meeting == BOOKINGS else float('nan')
    report(f'{provider:<10}{outage:>7}{BOOKINGS:>9}{visible_with_problem:>9}{with_meeting:>9}{at_provider:>10}'
            f'{daily_limit:>7}{BOOKINGS - with_meeting - daily_limit:>6}{max(at_provider - BOOKINGS, 0):>6}{len(dead):>6}'
            f'{sum(1 for n in notices.values() if n == 1):>9}{recovered:>12.0f}{invocations:>7}')
    assert not dead and at_provider == with_meeting  # nothing lost to the DLQ, nothing duplicated
