"""What the scenario benches share: running a module of scenarios under the integration suite's harness
(moto's AWS with this stack's resources, the providers' sandboxes on loopback) and printing the lines the
scenarios report, with the wall time. A scenario writes its figures with ``report`` (into the file the
runner names in ``BENCH_REPORT``)."""

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPORT_VARIABLE = 'BENCH_REPORT'


def report(line: str) -> None:
    """A scenario's line of figures, printed by the runner after the heading."""
    with open(os.environ[REPORT_VARIABLE], 'a') as lines:
        lines.write(line + '\n')


def milliseconds(samples: list[float]) -> str:
    """Median, p95 and max of durations in seconds, as columns of milliseconds."""
    quantiles = statistics.quantiles(samples, n=20)
    return f'{statistics.median(samples) * 1000:>10.2f}{quantiles[18] * 1000:>10.2f}{max(samples) * 1000:>10.2f}'


def run(scenarios: str, heading: list[str], *, workers: int, timeout: int) -> int:
    """Runs tests/integration/<scenarios> and prints ``heading``, the report and the wall time; the
    pytest output too when a scenario failed. Returns pytest's exit status."""
    with tempfile.TemporaryDirectory() as scratch:
        report = Path(scratch, 'report.txt')
        started = time.monotonic()
        outcome = subprocess.run(
            [sys.executable, '-m', 'pytest', str(ROOT / 'tests' / 'integration' / scenarios), '-q', '-p', 'no:randomly',
             '-p', 'no:cacheprovider', '-n', str(workers), '--no-header', '-o', 'addopts='],
            cwd=ROOT, env={**os.environ, REPORT_VARIABLE: str(report)}, capture_output=True, text=True,
            timeout=timeout,
        )
        print('\n'.join(heading))
        print(report.read_text() if report.exists() else '(no scenario finished)', end='')
        print(f'wall time: {time.monotonic() - started:.0f} s')
        if outcome.returncode:
            print(outcome.stdout[-4000:])
        return outcome.returncode
