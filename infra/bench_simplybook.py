"""SimplyBook.me callbacks end to end: 20 bookings, each created, changed, the change redelivered, changed again
and cancelled, every token expired halfway; once with SimplyBook answering, once with it answering 503 to
the first three lookups of each booking. Prints the webhook's answer time (in-process handler, moto), the
booking events applied, SimplyBook's API calls per booking event, and what was lost.

The scenarios are tests/integration/bench_simplybook_scenario.py, run under the integration suite's harness.

    .venv/bin/python -m infra.bench_simplybook
"""

import sys

from infra import bench_scenarios

COLUMNS = (f'{"outage":<10}{"callbacks":>10}{"p50 ms":>10}{"p95 ms":>9}{"events":>9}{"details":>9}{"token":>7}'
           f'{"faulted":>8}{"calls/cb":>10}{"retried":>9}{"lost":>6}')


def main() -> int:
    return bench_scenarios.run('bench_simplybook_scenario.py', 'BENCH_SIMPLYBOOK_REPORT', [
        'events = booking events applied (a redelivered change applies none); details = getBookingDetails calls',
        'SimplyBook answered (an expired token\'s "Access denied" included); token = getToken calls; faulted = calls',
        'answered 503; calls/cb = those answered calls per callback (the first token and one renewal included);',
        'retried = lookups that failed and ran again',
        COLUMNS,
    ], workers=2, timeout=600)


if __name__ == '__main__':
    sys.exit(main())
