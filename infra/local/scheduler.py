"""EventBridge Scheduler, locally: moto stores schedules but never fires them, so this loop does.

Every tick lists the schedules of every group; a one-time ``at(...)`` schedule that is due fires
once. As on AWS, it fires at a random moment within ``jitter_seconds`` after its time (AWS: within
the minute; 0 fires it at its time). Its target function is invoked asynchronously (Lambda event invocation, with the function's
EventInvokeConfig) with the target ``Input``, context attributes substituted. A schedule with
``ActionAfterCompletion: DELETE`` is then deleted. Recurring ``rate``/``cron`` schedules are
reported once and not fired.

A function's own ``Schedule`` event (SAM: a scheduled EventBridge rule on the default bus) with a
``rate(...)`` expression fires too: every period, starting one period after the stack starts, the
function is invoked asynchronously with EventBridge's "Scheduled Event". ``cron(...)`` ones are
reported and not fired. ``POST /_local/schedules/<FunctionLogicalId>`` fires a function's rate events at once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
import re
import threading
import uuid
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import boto3
from botocore.exceptions import ClientError

from .lambdas import AsyncInvoker, LocalFunction
from .template import ACCOUNT_ID, REGION

log = logging.getLogger("infra.local.scheduler")

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> int | None:
    """The period of a ``rate(...)`` expression in seconds, else None."""
    m = _RATE.match(expression.strip())
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2).rstrip("s")] if m else None


@dataclass
class RecurringEvent:
    """A function's ``Schedule`` event with a rate: its rule and when it fires next."""

    function: LocalFunction
    rule_name: str
    period: float
    next_at: float


def recurring_events(functions: list[LocalFunction], now: float, stack_name: str) -> list[RecurringEvent]:
    recurring = []
    for fn in functions:
        for event in fn.events:
            if event.type != "Schedule" or event.properties.get("Enabled") is False \
                    or event.properties.get("State") == "DISABLED":
                continue
            period = rate_seconds(str(event.properties.get("Schedule", "")))
            if period is None:
                log.warning("%s: schedule %r is not fired locally (only rate(...) ones are)",
                            fn.logical_id, event.properties.get("Schedule"))
                continue
            rule_name = str(event.properties.get("Name") or f"{stack_name}-{fn.logical_id}{event.name}")
            recurring.append(RecurringEvent(fn, rule_name, period, now + period))
    return recurring


def fire_time(expression: str, timezone: str | None) -> dt.datetime | None:
    """The UTC instant of an ``at(...)`` expression in its ScheduleExpressionTimezone, else None."""
    m = _AT.match(expression.strip())
    if not m:
        return None
    local = dt.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")
    return local.replace(tzinfo=ZoneInfo(timezone or "UTC")).astimezone(dt.timezone.utc)


def render_input(text: str | None, *, scheduled: dt.datetime, execution_id: str, attempt: int, arn: str) -> Any:
    """The target Input with Scheduler's context attributes substituted (the scheduled time in UTC, as
    Scheduler writes it); JSON when it is JSON."""
    if text is None:
        return {}
    scheduled_time = scheduled.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    rendered = (
        text.replace("<aws.scheduler.scheduled-time>", scheduled_time)
        .replace("<aws.scheduler.execution-id>", execution_id)
        .replace("<aws.scheduler.attempt-number>", str(attempt))
        .replace("<aws.scheduler.schedule-arn>", arn)
    )
    try:
        return json.loads(rendered)
    except ValueError:
        return rendered


class SchedulerLoop(threading.Thread):
    def __init__(self, invoker: AsyncInvoker, stop: threading.Event, *, interval: float = 0.5,
                 recurring: list[RecurringEvent] | None = None, jitter_seconds: float = 0.0):
        super().__init__(name="scheduler", daemon=True)
        self.invoker = invoker
        self.recurring = recurring or []
        self.stop = stop
        self.interval = interval
        self.jitter_seconds = jitter_seconds
        # Each one-time schedule's moment within the window after its time, drawn once.
        self._lateness: dict[tuple[Any, ...], dt.timedelta] = {}
        self.client = boto3.client("scheduler", region_name=REGION)
        self._details: dict[tuple[str, Any], dict[str, Any]] = {}
        self._fired: set[tuple[Any, ...]] = set()
        self._reported: set[tuple[Any, ...]] = set()
        self.fired_count = 0

    def run(self) -> None:
        while not self.stop.wait(self.interval):
            try:
                self.tick()
            except Exception:  # noqa: BLE001 - the loop must survive anything
                log.exception("scheduler tick failed")

    def _groups(self) -> list[str]:
        names = []
        for page in self.client.get_paginator("list_schedule_groups").paginate():
            names.extend(g["Name"] for g in page.get("ScheduleGroups", []))
        return names

    def tick(self, now: dt.datetime | None = None) -> int:
        now = now or dt.datetime.now(dt.timezone.utc)
        fired = self.fire_recurring(now)
        live = set()
        for group in self._groups():
            for page in self.client.get_paginator("list_schedules").paginate(GroupName=group):
                for summary in page.get("Schedules", []):
                    key = (summary["Arn"], summary.get("LastModificationDate"))
                    live.add(key)
                    if summary.get("State") != "ENABLED":
                        continue
                    schedule = self._details.get(key)
                    if schedule is None:
                        try:
                            schedule = self.client.get_schedule(GroupName=group, Name=summary["Name"])
                        except ClientError:
                            continue  # deleted meanwhile
                        self._details[key] = schedule
                    if self._maybe_fire(schedule, now):
                        fired += 1
        for key in set(self._details) - live:
            del self._details[key]
        return fired

    def fire_recurring(self, now: dt.datetime) -> int:
        """Fires the recurring events that are due; returns how many fired."""
        fired = 0
        for event in self.recurring:
            if event.next_at > now.timestamp():
                continue
            event.next_at += event.period * (1 + int((now.timestamp() - event.next_at) // event.period))
            self._fire_recurring(event, now)
            fired += 1
        return fired

    def fire_now(self, logical_id: str, now: dt.datetime) -> list[str]:
        """Fires the function's rate schedules at once, as if their period had run out (dev only, so that tests
        and benchmarks need not wait an hour); their own rhythm is unchanged. Returns the rules fired."""
        chosen = [event for event in self.recurring if event.function.logical_id == logical_id]
        for event in chosen:
            self._fire_recurring(event, now)
        return [event.rule_name for event in chosen]

    def _fire_recurring(self, event: RecurringEvent, now: dt.datetime) -> None:
        rule_arn = f"arn:aws:events:{REGION}:{ACCOUNT_ID}:rule/{event.rule_name}"
        payload = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                   "source": "aws.events", "account": ACCOUNT_ID, "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   "region": REGION, "resources": [rule_arn], "detail": {}}
        self.invoker.invoke(event.function, payload, source=f"rule {event.rule_name}")
        self.fired_count += 1

    def _maybe_fire(self, schedule: dict[str, Any], now: dt.datetime) -> bool:
        expression = schedule.get("ScheduleExpression", "")
        timezone = schedule.get("ScheduleExpressionTimezone") or "UTC"
        identity = (schedule["Arn"], schedule.get("CreationDate"), expression, timezone)
        try:
            when = fire_time(expression, timezone)
        except Exception:  # noqa: BLE001 - a bad time zone, say
            when = None
        if when is None:
            if identity not in self._reported:
                self._reported.add(identity)
                log.warning("schedule %s: %r is not fired locally (only at(...) schedules are)",
                            schedule["Name"], expression)
            return False
        if identity in self._fired:
            return False
        lateness = self._lateness.setdefault(identity, dt.timedelta(seconds=random.uniform(0, self.jitter_seconds)))
        if when + lateness > now:
            return False
        self._fired.add(identity)
        del self._lateness[identity]
        self._fire(schedule, when)
        return True

    def _fire(self, schedule: dict[str, Any], when: dt.datetime) -> None:
        target = schedule.get("Target") or {}
        arn = target.get("Arn", "")
        execution_id = str(uuid.uuid4())
        payload = render_input(target.get("Input"), scheduled=when, execution_id=execution_id, attempt=1,
                               arn=schedule["Arn"])
        self.fired_count += 1
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        try:
            if service == "lambda":
                fn = self.invoker.by_arn(arn)
                if fn is None:
                    raise LookupError(f"function {arn} is not in the template")
                request_id = self.invoker.invoke(fn, payload, source=f"schedule {schedule['Name']}")
                log.info("schedule %s/%s fired (due %s): %s invoked async, request %s",
                         schedule["GroupName"], schedule["Name"], when.isoformat(), fn.logical_id, request_id)
            elif service == "sqs":
                sqs = boto3.client("sqs", region_name=REGION)
                url = sqs.get_queue_url(QueueName=arn.split(":")[5])["QueueUrl"]
                body = payload if isinstance(payload, str) else json.dumps(payload)
                sqs.send_message(QueueUrl=url, MessageBody=body)
                log.info("schedule %s/%s fired: message sent to %s", schedule["GroupName"], schedule["Name"], arn)
            else:
                raise LookupError(f"target {arn} is not supported locally")
        except Exception as exc:  # noqa: BLE001
            log.error("schedule %s/%s could not invoke its target: %s", schedule["GroupName"], schedule["Name"], exc)
            self._dead_letter(schedule, payload, execution_id, exc)
        if schedule.get("ActionAfterCompletion") == "DELETE":
            try:
                self.client.delete_schedule(GroupName=schedule["GroupName"], Name=schedule["Name"])
            except ClientError:
                pass  # already gone

    def _dead_letter(self, schedule: dict[str, Any], payload: Any, execution_id: str, exc: Exception) -> None:
        target = schedule.get("Target") or {}
        dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not dlq:
            return
        try:
            sqs = boto3.client("sqs", region_name=REGION)
            url = sqs.get_queue_url(QueueName=dlq.split(":")[5])["QueueUrl"]
            attrs = {
                "ERROR_CODE": "AWS.Scheduler.InvalidTarget",
                "ERROR_MESSAGE": str(exc)[:1000],
                "EXECUTION_ID": execution_id,
                "RETRY_ATTEMPTS": "0",
                "SCHEDULE_ARN": schedule["Arn"],
                "TARGET_ARN": target.get("Arn", ""),
            }
            sqs.send_message(
                QueueUrl=url,
                MessageBody=payload if isinstance(payload, str) else json.dumps(payload),
                MessageAttributes={k: {"DataType": "String", "StringValue": v or "-"} for k, v in attrs.items()},
            )
        except Exception:  # noqa: BLE001
            log.exception("schedule %s: could not reach its dead-letter queue %s", schedule["Name"], dlq)
