"""A class burst: 50 concurrent bookings of one class session, for Zoom and Microsoft; prints the
meetings made, the clients joined, their links, Zoom's registrants, the bookings that would have gone
back to their queue (and waited a visibility timeout), and the time for all 50 to settle.

The scenarios are tests/integration/bench_class_burst_scenario.py, run under the integration suite's
harness (moto's AWS with this stack's resources, the providers' sandboxes on loopback).

    .venv/bin/python -m infra.bench_class_burst
"""

import sys

from infra import bench_scenarios

COLUMNS = f'{"provider":<10}{"booked":>7}{"meetings":>10}{"joined":>9}{"links":>7}{"registrants":>12}{"retried":>9}{"settle s":>11}'


def main() -> int:
    return bench_scenarios.run(
        'bench_class_burst_scenario.py',
        ['50 concurrent bookings of one class session; retried = bookings that would wait for a retry', COLUMNS],
        workers=0, timeout=300)


if __name__ == '__main__':
    sys.exit(main())
