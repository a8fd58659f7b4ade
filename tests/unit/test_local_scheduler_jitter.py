"""The local stack fires a one-time schedule within the window after its time, as EventBridge Scheduler does,
and runs as many batches of a queue at once as its mapping's MaximumConcurrency lets (up to the workers)."""

import datetime as dt
import random
import threading

from infra.local.scheduler import SchedulerLoop
from infra.local.sqs_poller import mapping_concurrency

DUE = dt.datetime(2030, 1, 1, 9, 0, tzinfo=dt.timezone.utc)
SCHEDULE = {'Arn': 'arn:aws:scheduler:us-east-1:123456789012:schedule/g/s', 'CreationDate': DUE,
            'ScheduleExpression': 'at(2030-01-01T09:00:00)', 'ScheduleExpressionTimezone': 'UTC'}


class RecordingLoop(SchedulerLoop):
    def _fire(self, schedule, when):
        self.fired.append(when)


def _first_firing(jitter_seconds: float) -> float:
    """Seconds after its time at which the schedule fires, ticking every 0.1 s; it fires once."""
    loop = RecordingLoop(invoker=None, stop=threading.Event(), jitter_seconds=jitter_seconds)
    loop.fired = []
    fired_at = None
    for tenth in range(0, 700):
        now = DUE + dt.timedelta(seconds=tenth / 10)
        if loop._maybe_fire(SCHEDULE, now) and fired_at is None:
            fired_at = tenth / 10
    assert loop.fired == [DUE]  # once, with its own time as the scheduled time
    return fired_at


def test_without_jitter_a_schedule_fires_at_its_time():
    assert _first_firing(0) == 0


def test_with_jitter_a_schedule_fires_at_a_random_moment_within_the_window_after_its_time():
    random.seed(7)
    moments = [_first_firing(60) for _ in range(30)]
    assert all(0 <= moment <= 60.1 for moment in moments)
    assert len(set(moments)) > 20 and max(moments) - min(moments) > 30  # spread over the minute


def test_a_mapping_runs_as_many_batches_at_once_as_it_allows_up_to_the_workers():
    assert mapping_concurrency({}, 4) == 4  # Lambda's default: the function's concurrency
    assert mapping_concurrency({'ScalingConfig': {'MaximumConcurrency': 100}}, 4) == 4
    assert mapping_concurrency({'ScalingConfig': {'MaximumConcurrency': 2}}, 4) == 2
