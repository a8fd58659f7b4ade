"""Wix Bookings webhooks: the webhook's answer time per kind of delivery, the time to verify (RS256) and
translate a token alone, and the calls made to Wix's API per booking event (none: the webhook carries
the whole booking).

The scenario is tests/integration/bench_wix_scenario.py, run under the integration suite's harness
(moto's AWS in-process, the real handlers): 25 bookings, each created, rescheduled, retried and
cancelled. Answer times include moto's DynamoDB and EventBridge, in-process.

    .venv/bin/python -m infra.bench_wix
"""

import sys

from infra import bench_scenarios

COLUMNS = f'{"":<24}{"count":>6}{"median ms":>10}{"p95 ms":>10}{"max ms":>10}'


def main() -> int:
    # Bounded: about 100 deliveries and 500 translations, well under a minute.
    return bench_scenarios.run('bench_wix_scenario.py', 'BENCH_WIX_REPORT', [COLUMNS], workers=1, timeout=300)


if __name__ == '__main__':
    sys.exit(main())
