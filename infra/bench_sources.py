"""The booking platforms' webhooks through the stack: how fast each platform's webhook is answered, and how
many calls to the platform's API each booking event costs (none while the webhook waits; at most one per
event in its lookup; none for Cal.com, Calendly and Wix, whose webhooks carry the whole booking).

Each platform's scenarios are tests/integration/bench_<platform>_scenario.py, run under the integration
suite's harness (moto's AWS with this stack's resources, the platforms' sandboxes on loopback, the real
handlers); answer times are the webhook handler's in-process wall time on moto, not AWS's.

    .venv/bin/python -m infra.bench_sources              # every platform, about five minutes
    .venv/bin/python -m infra.bench_sources square wix   # some
"""

import sys

from infra import bench_scenarios

DELIVERY_COLUMNS = f'{"":<30}{"count":>6}{"median ms":>10}{"p95 ms":>10}{"max ms":>10}'

# platform -> (scenario module, heading, pytest workers, timeout in seconds)
PLATFORMS = {
    'calcom-calendly': ('bench_calcom_calendly_scenario.py', [
        'Cal.com and Calendly: 25 bookings each created, rescheduled, retried and cancelled',
        DELIVERY_COLUMNS,
    ], 1, 300),
    'wix': ('bench_wix_scenario.py', [
        'Wix Bookings: 25 bookings each created, rescheduled, retried and cancelled; RS256 verification alone',
        DELIVERY_COLUMNS,
    ], 1, 300),
    'simplybook': ('bench_simplybook_scenario.py', [
        'SimplyBook.me: 20 bookings each created, changed, the change redelivered, changed again and cancelled,',
        'every token expired halfway; once with SimplyBook answering, once answering 503 to the first three',
        'lookups of each booking. events = booking events published (the redelivered change re-reads the state',
        'applied, which changes nothing); details = getBookingDetails calls answered',
        '(an expired token\'s "Access denied" included); token = getToken calls; faulted = calls answered 503;',
        'calls/cb = answered calls per callback; retried = lookups that failed and ran again',
        f'{"outage":<10}{"callbacks":>10}{"p50 ms":>10}{"p95 ms":>9}{"events":>9}{"details":>9}{"token":>7}'
        f'{"faulted":>8}{"calls/cb":>10}{"retried":>9}{"lost":>6}',
    ], 2, 600),
    'acuity': ('bench_acuity_scenario.py', [
        'Acuity Scheduling: 20 appointments scheduled, scheduled again, rescheduled (Acuity answering 503 to the',
        'first lookup), rescheduled again, changed, cancelled',
    ], 0, 600),
    'square': ('bench_square_scenario.py', [
        'Square: 30 bookings x (created, moved, cancelled), 5 team members; p50/p95/max = the webhook\'s answer',
        'time; customers/members = GET /v2/customers, /v2/team-members made by the lookups',
        f'{"customer":<12}{"events":>7}{"p50 ms":>10}{"p95 ms":>9}{"max ms":>9}{"customers":>11}{"members":>9}'
        f'{"per event":>11}{"cancelled":>11}',
    ], 1, 600),
}


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in PLATFORMS]
    if unknown:
        print(f'unknown: {", ".join(unknown)}; choose from {", ".join(PLATFORMS)}', file=sys.stderr)
        return 2
    failed = 0
    for name in names or list(PLATFORMS):
        scenarios, heading, workers, timeout = PLATFORMS[name]
        failed |= bench_scenarios.run(scenarios, heading, workers=workers, timeout=timeout)
        print()
    return failed


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
