"""The scenario `python -m infra.bench_sources acuity` runs (not collected by the suite: a benchmark, not a test).

APPOINTMENTS appointments go through Acuity's lifecycle as Acuity's webhooks, each appointment's state held
by the Acuity sandbox: scheduled, a repeated `scheduled`, rescheduled while Acuity's API answers 503 to the
first lookup of each, `rescheduled` delivered again, `changed` after a second move, cancelled. The real
webhook and meetings handlers run against moto; a lookup that failed is given to the meetings function
again, as its queue would after the delay. The figures go to the runner's report (infra/bench_scenarios.report).
"""

import statistics
import time
from collections import Counter

from integration_stack import sent_emails
from test_acuity_webhooks import USER_ID, acuity, appointment, form, post, sandbox  # noqa: F401 (fixtures)

from infra.bench_scenarios import report

APPOINTMENTS = 20
FIRST_ID = 1204583000



def _drain(stack) -> int:
    """Runs the meetings and notifications functions until both queues are empty, giving failed records back
    at once; returns how many records failed on the way."""
    from helpers import handler, sqs_event

    failed = 0
    for _ in range(20):
        moved = False
        for name in ('meetings', 'notifications'):
            records = stack.cloud.queues[name].receive()
            while records:
                moved = True
                answer = handler(name)(sqs_event(records), stack.context)
                again = {failure['itemIdentifier'] for failure in answer['batchItemFailures']}
                failed += len(again)
                records = [record for record in records if record['messageId'] in again]
        if not moved:
            return failed
    raise AssertionError('queues did not drain')


def test_acuity_lifecycle(acuity, sandbox):  # noqa: F811 (the fixtures imported above)
    answer_ms: list[float] = []
    calls_while_answering = 0
    ids = [FIRST_ID + n for n in range(APPOINTMENTS)]

    def deliver(action: str, appointment_id: int) -> None:
        nonlocal calls_while_answering
        calls_before = len(sandbox.calls())
        started = time.perf_counter()
        status, _ = post(acuity, form(action, appointment_id))
        answer_ms.append((time.perf_counter() - started) * 1000)
        calls_while_answering += len(sandbox.calls()) - calls_before
        assert status == 202

    def email(appointment_id: int) -> str:
        return f'client{appointment_id}@example.org'

    def state(appointment_id: int, **changes) -> dict:
        return appointment(id=appointment_id, email=email(appointment_id), **changes)

    for appointment_id in ids:
        sandbox.set_appointment(state(appointment_id), user_id=USER_ID)
        deliver('scheduled', appointment_id)
        deliver('scheduled', appointment_id)  # Acuity's retry
    _drain(acuity)
    links = {i: acuity.view(f'acuity:{i}')[1]['links'] for i in ids}

    sandbox.fail('get_appointment', 503, times=APPOINTMENTS)
    for appointment_id in ids:
        sandbox.set_appointment(state(appointment_id, datetime='2030-03-06T11:00:00-0500'))
        deliver('rescheduled', appointment_id)
        deliver('rescheduled', appointment_id)
    outage_failures = _drain(acuity)

    for appointment_id in ids:
        sandbox.set_appointment(state(appointment_id, datetime='2030-03-07T08:00:00-0500'))
        deliver('changed', appointment_id)
    _drain(acuity)
    views = {i: acuity.view(f'acuity:{i}')[1] for i in ids}
    moved = sum(1 for i in ids if views[i]['booking']['start'].startswith('2030-03-07T13:00:00')
                and views[i]['links'] == links[i])

    for appointment_id in ids:
        sandbox.set_appointment(state(appointment_id, canceled=True))
        deliver('canceled', appointment_id)
    _drain(acuity)
    cancelled = sum(1 for i in ids if acuity.view(f'acuity:{i}')[1]['booking']['status'] == 'cancelled')

    calls = Counter(call['status'] for call in sandbox.calls('get_appointment'))
    looked_up = len(answer_ms) - APPOINTMENTS  # every delivery but the repeated `scheduled`
    emails = Counter(m.destinations['ToAddresses'][0] for m in sent_emails())
    per_client = Counter(emails[email(i)] for i in ids)
    answer_ms.sort()
    report(f'appointments {APPOINTMENTS}, webhook deliveries {len(answer_ms)} '
            f'(scheduled x2, rescheduled x2 during a 503 outage, changed, canceled)')
    report(f'webhook answer (in process, moto): median {statistics.median(answer_ms):.1f} ms, '
            f'p95 {answer_ms[int(len(answer_ms) * 0.95) - 1]:.1f} ms, max {answer_ms[-1]:.1f} ms; '
            f'calls to Acuity while answering: {calls_while_answering}')
    report(f'GET /appointments/{{id}}: {sum(calls.values())} ({calls[200]} answered, {calls[503]} refused 503); '
            f'deliveries looked up {looked_up} (not the repeated scheduled): {calls[200] / looked_up:.2f} '
            f'answered call per delivery, plus the refused call of each lookup during the outage')
    report(f'lookups failed and given back during the outage: {outage_failures}; '
            f'bookings moved with the same links {moved}/{APPOINTMENTS}, cancelled {cancelled}/{APPOINTMENTS}')
    report(f'client emails per appointment: {dict(sorted(per_client.items()))} '
            f'(created, moved, moved, cancelled = 4 each)')
    assert moved == cancelled == APPOINTMENTS
