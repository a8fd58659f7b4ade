"""Acuity Scheduling's webhooks through the stack: how fast a webhook is answered, and how many calls to
Acuity's API each delivery costs (one lookup, none while the webhook waits), with an outage of the API on
the way.

The scenario is tests/integration/bench_acuity_scenario.py, run under the integration suite's harness
(moto's AWS with this stack's resources, the Acuity sandbox on loopback, the real handlers).

    .venv/bin/python -m infra.bench_acuity
"""

import sys

from infra import bench_scenarios


def main() -> int:
    # Bounded: one scenario of 20 appointments takes about a minute.
    return bench_scenarios.run('bench_acuity_scenario.py', 'BENCH_ACUITY_REPORT',
                               ['Acuity Scheduling: webhook -> lookup -> meeting'], workers=0, timeout=600)


if __name__ == '__main__':
    sys.exit(main())
