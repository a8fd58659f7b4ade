"""Provider outages against the meetings function's retries: 50 bookings during an outage of 30 s, 15 min
and 6 h of simulated time, for Zoom and Microsoft; prints what became of them and the time to recover.

The scenarios are tests/integration/bench_outage_scenario.py, run under the integration suite's harness
(moto's AWS with this stack's resources, the providers' sandboxes on loopback, the real handlers); the
meetings queue runs on a virtual clock, so hours pass in seconds.

    .venv/bin/python -m infra.bench_outage
"""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / 'tests' / 'integration' / 'bench_outage_scenario.py'
COLUMNS = (f'{"provider":<10}{"outage":>7}{"booked":>9}{"visible":>9}{"meeting":>9}{"at prov.":>10}{"daily":>7}{"lost":>6}'
           f'{"dup.":>6}{"dlq":>6}{"notified":>9}{"recover s":>12}{"calls":>7}')


def main() -> int:
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch, 'report.txt')
        started = time.monotonic()
        # Bounded: the six scenarios, two at a time, take about five minutes.
        outcome = subprocess.run(
            [sys.executable, '-m', 'pytest', str(SCENARIOS), '-q', '-p', 'no:randomly', '-p', 'no:cacheprovider',
             '-n', '2', '--no-header', '-o', 'addopts='],
            cwd=ROOT, env={**os.environ, 'BENCH_OUTAGE_REPORT': str(report)}, capture_output=True, text=True,
            timeout=900,
        )
        elapsed = time.monotonic() - started
        print('50 bookings during a provider outage (simulated time); visible = shown by the admin API with a')
        print('problem before any retry; daily = waiting for the provider\'s daily reset (a retry after midnight UTC);')
        print('recover = simulated seconds from the end of the outage to the last meeting')
        print(COLUMNS)
        print(report.read_text() if report.exists() else '(no scenario finished)', end='')
        print(f'wall time: {elapsed:.0f} s')
        if outcome.returncode:
            print(outcome.stdout[-4000:])
        return outcome.returncode


if __name__ == '__main__':
    sys.exit(main())
