"""Provider outages against the meetings function's retries: 50 bookings during an outage of 30 s, 15 min
and 6 h of simulated time, for Zoom and Microsoft; prints what became of them and the time to recover.

The scenarios are tests/integration/bench_outage_scenario.py, run under the integration suite's harness
(moto's AWS with this stack's resources, the providers' sandboxes on loopback, the real handlers); the
meetings queue runs on a virtual clock, so hours pass in seconds.

    .venv/bin/python -m infra.bench_outage
"""

import sys

from infra import bench_scenarios

COLUMNS = (f'{"provider":<10}{"outage":>7}{"booked":>9}{"visible":>9}{"meeting":>9}{"at prov.":>10}{"daily":>7}{"lost":>6}'
           f'{"dup.":>6}{"dlq":>6}{"notified":>9}{"recover s":>12}{"calls":>7}')


def main() -> int:
    # Bounded: the six scenarios, two at a time, take a few minutes at most.
    return bench_scenarios.run('bench_outage_scenario.py', [
        '50 bookings during a provider outage (simulated time); visible = shown by the admin API with a',
        'problem before any retry; daily = waiting for the provider\'s daily reset (a retry after midnight UTC);',
        'recover = simulated seconds from the end of the outage to the last meeting',
        COLUMNS,
    ], workers=2, timeout=900)


if __name__ == '__main__':
    sys.exit(main())
