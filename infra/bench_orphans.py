"""Orphan and duplicate meetings, measured, at Zoom and at Teams: 100 bookings whose create answer is lost
at the provider (the sandboxes' fault that applies the request and drops its answer), 100 whose worker
is killed right after the create, and 20 each whose cancel races the create. For each kind it prints
the trials, the live meetings they left at the provider and how many ended as they should: one live
meeting per booking, the one our record names (none after a cancel).

    .venv/bin/python -m infra.bench_orphans           # 1 to 3 minutes; TRIALS=10 for a quick look

TRIALS (default 100) is the number of trials of each of the first two kinds, per provider.

It runs tests/integration/test_no_orphan_meetings.py with ORPHAN_TRIALS, on moto and the sandboxes.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    trials = os.environ.get('TRIALS', '100')
    started = time.perf_counter()
    run = subprocess.run(
        [sys.executable, '-m', 'pytest', 'tests/integration/test_no_orphan_meetings.py', '-q', '-s', '-n', '0',
         '-p', 'no:randomly', '-p', 'no:cacheprovider'],
        cwd=ROOT, env={**os.environ, 'ORPHAN_TRIALS': trials}, capture_output=True, text=True, timeout=900)
    figures = [line for line in run.stdout.splitlines()
               if line.startswith(('zoom:', 'microsoft:')) or line.startswith('  ') and 'trials' in line]
    print(f'ORPHAN_TRIALS={trials}')
    print('\n'.join(figures))
    print(f'total {time.perf_counter() - started:.0f} s; pytest: {run.stdout.strip().splitlines()[-1]}')
    if run.returncode:
        print(run.stdout[-4000:], run.stderr[-2000:], sep='\n')
    return run.returncode


if __name__ == '__main__':
    sys.exit(main())
