"""Cold-start figures: how long each function's handler module takes to import in a fresh interpreter.

Prints, for each handler, the median wall time over several runs and its ratio to two baselines
measured in the same run: a bare interpreter, and one that imports boto3 (the cost every function
pays). Ratios are what to compare across machines; the absolute numbers depend on this one.

    make bench
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from meetbridge.config import CONCERNS, placeholder_environment

ROOT = Path(__file__).resolve().parents[1]
RUNS = 7
# Every variable a handler validates at import, so each one starts as a deployed function does.
ENVIRONMENT = {**os.environ, **placeholder_environment(*CONCERNS), 'AWS_DEFAULT_REGION': 'us-east-1'}
HANDLERS = ('booking_webhook', 'meetings', 'auto_start', 'notifications', 'join', 'admin', 'oauth')


def _median_seconds(code: str) -> float:
    samples = []
    for _ in range(RUNS):
        started = time.perf_counter()
        subprocess.run([sys.executable, '-c', code], cwd=ROOT, env=ENVIRONMENT, check=True)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    bare = _median_seconds('')
    boto = _median_seconds('import boto3')
    print(f'{"import":<24}{"median ms":>10}{"× bare":>9}{"× boto3":>9}{"own ms":>9}')
    print(f'{"(bare interpreter)":<24}{bare * 1000:>10.0f}{1:>9.2f}{bare / boto:>9.2f}{0:>9.0f}')
    print(f'{"boto3":<24}{boto * 1000:>10.0f}{boto / bare:>9.2f}{1:>9.2f}{(boto - bare) * 1000:>9.0f}')
    for name in HANDLERS:
        seconds = _median_seconds(f'import functions.{name}.handler')
        print(f'{name:<24}{seconds * 1000:>10.0f}{seconds / bare:>9.2f}{seconds / boto:>9.2f}'
              f'{(seconds - bare) * 1000:>9.0f}')


if __name__ == '__main__':
    main()
