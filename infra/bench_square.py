"""Square webhooks: the webhook's answer time and the calls made to Square's API per booking event, for 30
bookings each created, moved and cancelled; with a customer read reused within the function instance, and
with every lookup reading it again.

The scenarios are tests/integration/bench_square_scenario.py, run under the integration suite's harness
(moto's AWS with this stack's resources, the Square sandbox on loopback, the real handlers).

    .venv/bin/python -m infra.bench_square
"""

import sys

from infra import bench_scenarios

COLUMNS = (f'{"customer":<12}{"events":>7}{"p50 ms":>10}{"p95 ms":>9}{"max ms":>9}{"customers":>11}{"members":>9}'
           f'{"per event":>11}{"cancelled":>11}')


def main() -> int:
    # Bounded: two scenarios of 90 deliveries each take well under two minutes.
    return bench_scenarios.run('bench_square_scenario.py', 'BENCH_SQUARE_REPORT', [
        '30 Square bookings x (created, moved, cancelled), 5 team members; p50/p95/max = the webhook\'s answer',
        'time in process (on moto); customers/members = GET /v2/customers, /v2/team-members made by the lookups',
        COLUMNS,
    ], workers=1, timeout=600)


if __name__ == '__main__':
    sys.exit(main())
