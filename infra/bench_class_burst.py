"""A class burst: 50 concurrent bookings of one class session, for Zoom and Microsoft; prints the
meetings made, the clients joined, their links, Zoom's registrants, the bookings that would have gone
back to their queue (and waited a visibility timeout), and the time for all 50 to settle.

The scenarios are tests/integration/bench_class_burst_scenario.py, run under the integration suite's
harness (moto's AWS with this stack's resources, the providers' sandboxes on loopback).

    .venv/bin/python -m infra.bench_class_burst
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / 'tests' / 'integration' / 'bench_class_burst_scenario.py'
COLUMNS = f'{"provider":<10}{"booked":>7}{"meetings":>10}{"joined":>9}{"links":>7}{"registrants":>12}{"retried":>9}{"settle s":>11}'


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch, 'report.txt')
        started = time.monotonic()
        outcome = subprocess.run(
            [sys.executable, '-m', 'pytest', str(SCENARIOS), '-q', '-p', 'no:randomly', '-p', 'no:cacheprovider',
             '-n', '0', '--no-header', '-o', 'addopts='],
            cwd=ROOT, env={**os.environ, 'BENCH_CLASS_BURST_REPORT': str(report)}, capture_output=True, text=True,
            timeout=300,
        )
        print('50 concurrent bookings of one class session; retried = bookings that would wait for a retry')
        print(COLUMNS)
        print(report.read_text() if report.exists() else '(no scenario finished)', end='')
        print(f'wall time: {time.monotonic() - started:.0f} s')
        if outcome.returncode:
            print(outcome.stdout[-4000:])
        return outcome.returncode


if __name__ == '__main__':
    sys.exit(main())
