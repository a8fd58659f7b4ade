"""The template's functions, each in worker processes of its own, with Lambda's sync and async invocation.

A worker (``worker.py``) is one execution environment: a cold start is a new process that imports the
handler; a warm worker is reused; concurrent invocations start more workers, up to the function's
ReservedConcurrentExecutions or the local cap. A worker runs one invocation at a time, gets exactly
its function's environment and role, and is killed when it runs past the function's Timeout.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import logging
import os
import re
import select
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import boto3

from .template import ACCOUNT_ID, REGION, Resolver, Template, TemplateError, _scalar_str
from .worker import json_default

log = logging.getLogger("infra.local.lambda")

WORKER_SCRIPT = str(Path(__file__).resolve().with_name("worker.py"))

DEFAULT_TIMEOUT = 3
DEFAULT_MEMORY = 128
# Per function: enough for every core to be busy while other workers wait on moto, never fewer than 4, and no
# more than 8 (each is a process of its own, and the gateway holds threads for each one's waiting line).
DEFAULT_MAX_WORKERS = max(4, min(8, 2 * (os.cpu_count() or 1)))
# Lambda gives an init phase 10 s (more time only by re-running it within the first invocation's Timeout).
INIT_SECONDS = 10
DEFAULT_RUNTIME = "python3.13"
# What a Lambda execution environment has besides the function's own variables (no AWS_* from here).
_BASIC_VARIABLES = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR")


class TooManyRequests(Exception):
    """The function cannot take an invocation soon: every worker busy and the waiting line full (Lambda's 429),
    or the stack is stopping."""


class _Waiter:
    """An invocation waiting for a worker: given one that was released, or a slot to start one, or refused."""

    __slots__ = ("worker", "may_start", "refused")

    def __init__(self) -> None:
        self.worker: Worker | None = None
        self.may_start = False
        self.refused = False

    def answered(self) -> bool:
        return self.worker is not None or self.may_start or self.refused


class FunctionError(Exception):
    """An invocation failed: the runtime's error payload (errorMessage, errorType, stackTrace)."""

    def __init__(self, payload: dict[str, Any]):
        super().__init__(f"{payload.get('errorType')}: {payload.get('errorMessage')}")
        self.payload = payload


@dataclass
class FunctionEvent:
    name: str
    type: str
    properties: dict[str, Any]


# What Lambda bills, read from REPORT and INIT_REPORT lines (GET /_local/usage).
_BILLED = re.compile(r"Billed Duration: (\d+) ms")
_INIT = re.compile(r"Init Duration: ([\d.]+) ms")

# What the console's prefix (function, request id, time) already says, left out of Powertools' JSON lines.
_SAID_BY_PREFIX = {"level", "message", "timestamp", "service", "cold_start", "function_name", "function_memory_size",
                   "function_arn", "function_request_id", "xray_trace_id"}


def readable(line: str) -> str:
    """A Powertools JSON log line as ``LEVEL message {other keys}``; any other line as it is."""
    if not line.startswith("{"):
        return line
    try:
        record = json.loads(line)
    except ValueError:
        return line
    if not isinstance(record, dict) or "level" not in record or "message" not in record:
        return line
    rest = {k: v for k, v in record.items() if k not in _SAID_BY_PREFIX}
    return f"{record['level']} {record['message']}" + (f" {json.dumps(rest, default=str)}" if rest else "")


class MetricsSink:
    """Embedded-metric-format lines (JSON with an ``_aws`` key) go to a file, not the readable log."""

    def __init__(self, path: Path):
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - open for the stack's lifetime
        self._lock = threading.Lock()

    @staticmethod
    def is_metric(line: str) -> bool:
        if not line.startswith("{"):
            return False
        try:
            return "_aws" in json.loads(line)
        except (ValueError, TypeError):
            return False

    def write(self, line: str) -> None:
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


@dataclass
class WorkerRuntime:
    """What every function's workers share: the layers' import path, the metrics file, the local cap."""

    sys_path: list[str]
    metrics: MetricsSink
    max_workers: int = DEFAULT_MAX_WORKERS


class Worker:
    """One execution environment of a function (a process running ``worker.py``)."""

    def __init__(self, fn: LocalFunction):
        self.fn = fn
        self.request_id: str | None = None  # of the invocation whose lines the console shows now
        # The last REPORT (request id) or INIT_REPORT ("init") the console has shown: an invocation
        # returns only after its lines are out, so whoever reads the log next finds them.
        self._reported: str | None = None
        self._output_done = False
        self._logged = threading.Condition()
        answers_read, answers_write = os.pipe()
        self.spawned_at = time.monotonic()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-u", WORKER_SCRIPT, str(answers_write)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                pass_fds=(answers_write,), cwd=fn.code_dir, env=fn.process_environment(),
                # Ctrl-C in the terminal reaches the stack, which stops its workers itself.
                start_new_session=True,
            )
        except BaseException:
            os.close(answers_read)
            raise
        finally:
            os.close(answers_write)
        self._answers = answers_read
        self._buffer = b""
        assert self.process.stdin is not None
        self._requests: IO[bytes] = self.process.stdin
        self._console = threading.Thread(target=self._copy_output, name=f"log-{fn.logical_id}-{self.pid}", daemon=True)
        self._console.start()

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def init(self) -> float:
        """Sends the function's configuration and waits for its handler's import; returns the init ms."""
        fn = self.fn
        self._send({
            "handler_file": str(fn.source_file), "handler_name": fn.handler_spec.rpartition(".")[2],
            "module_name": fn.module_name, "sys_path": [str(fn.code_dir), *fn.runtime.sys_path],
            "function_arn": fn.arn, "principal_arn": fn.principal_arn, "statements": fn.statements,
            "timeout": fn.timeout, "memory": fn.memory, "spawned_at": self.spawned_at,
        })
        answer = self._answer(INIT_SECONDS + fn.timeout)
        if answer is None:
            self.kill()
            raise FunctionError({"errorType": "Runtime.InitTimeout",
                                 "errorMessage": f"init did not finish within {INIT_SECONDS + fn.timeout} seconds"})
        if "init_error" in answer:
            self._wait_logged("init")
            self.process.wait(5)
            raise FunctionError(answer["init_error"])
        return float(answer["init_ms"])

    def invoke(self, event: Any, request_id: str) -> Any:
        self._send({"request_id": request_id, "event": event})
        answer = self._answer(self.fn.timeout)
        if answer is None:
            self.kill()
            message = f"Task timed out after {self.fn.timeout:.2f} seconds"
            for line in (f"{_now_iso()} {request_id} {message}", f"END RequestId: {request_id}",
                         f"REPORT RequestId: {request_id}\tDuration: {self.fn.timeout * 1000:.2f} ms\t"
                         f"Billed Duration: {self.fn.timeout * 1000} ms\tMemory Size: {self.fn.memory} MB\tStatus: timeout"):
                self.fn.console.info("%s %s", request_id, line)
            self.fn.count_report(line)  # the last line, the REPORT
            raise FunctionError({"errorType": "Sandbox.Timedout", "errorMessage": f"RequestId: {request_id} Error: {message}"})
        self._wait_logged(request_id)
        if "error" in answer:
            raise FunctionError(answer["error"])
        return answer["result"]

    def _wait_logged(self, reported: str) -> None:
        with self._logged:
            self._logged.wait_for(lambda: self._reported == reported or self._output_done, timeout=5)

    def _send(self, message: dict[str, Any]) -> None:
        try:
            self._requests.write(json.dumps(message, default=json_default).encode() + b"\n")
            self._requests.flush()
        except (BrokenPipeError, ValueError):
            pass  # the worker is gone; _answer() reports how

    def _answer(self, timeout: float) -> dict[str, Any] | None:
        """The worker's next answer; None when ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._answers], [], [], remaining)[0]:
                return None
            chunk = os.read(self._answers, 1 << 16)
            if not chunk:
                code = self.process.wait()
                raise FunctionError({"errorType": "Runtime.ExitError",
                                     "errorMessage": f"Runtime exited with error: exit status {code}"})
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return json.loads(line)

    def _copy_output(self) -> None:
        """Every line the function writes, named by its function and invocation; metrics to their file."""
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode("utf-8", errors="replace").rstrip("\n")
            if line.startswith("START RequestId: "):
                self.request_id = line.split()[2]
            if MetricsSink.is_metric(line):
                self.fn.runtime.metrics.write(line)
            else:
                self.fn.console.info("%s %s", self.request_id or "init", readable(line))
            if line.startswith(("REPORT RequestId: ", "INIT_REPORT ")):
                self.fn.count_report(line)
                with self._logged:
                    self._reported = self.request_id or "init"
                    self._logged.notify_all()
                self.request_id = None
        with self._logged:
            self._output_done = True
            self._logged.notify_all()

    def stop(self) -> None:
        """Closing stdin ends the worker's loop (it finishes the invocation it is running)."""
        try:
            self._requests.close()
        except OSError:
            pass

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def close(self) -> None:
        os.close(self._answers)


class LocalFunction:
    def __init__(
        self,
        *,
        logical_id: str,
        name: str,
        arn: str,
        role_arn: str,
        code_dir: Path,
        handler: str,
        module_name: str,
        runtime_id: str,
        timeout: int,
        memory: int,
        reserved_concurrency: int | None,
        environment: dict[str, str],
        events: list[FunctionEvent],
        event_invoke_config: dict[str, Any],
        dead_letter_queue: dict[str, Any] | None,
    ):
        self.logical_id = logical_id
        self.name = name
        self.arn = arn
        self.role_arn = role_arn
        # Lambda calls AWS as a session of its execution role named after the function, as AWS's refusals say.
        self.principal_arn = f"arn:aws:sts::{ACCOUNT_ID}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/{name}"
        self.code_dir = code_dir
        self.handler_spec = handler
        self.module_name = module_name
        self.runtime_id = runtime_id  # python3.13, as the template says
        self.timeout = timeout
        self.memory = memory
        self.reserved_concurrency = reserved_concurrency
        self.environment = environment  # the template's variables (Globals merged, intrinsics resolved)
        self.events = events
        self.event_invoke_config = event_invoke_config
        self.dead_letter_queue = dead_letter_queue
        self.console = logging.getLogger(logical_id)
        # Set by the stack before the first invocation:
        self.runtime: WorkerRuntime | None = None
        self.local_environment: dict[str, str] = {}  # endpoints, sandboxes, --env: after the template's
        self.statements: list[dict[str, Any]] = []  # the execution role's, intrinsics resolved
        self._idle: list[Worker] = []
        self._workers: set[Worker] = set()
        self._starting = 0
        # Invocations waiting for a worker, oldest first: a released worker (or a freed slot) goes to the oldest,
        # so an admitted request is not overtaken by later ones until its client gives up.
        self._waiters: collections.deque[_Waiter] = collections.deque()
        self._stopping = False
        self._lock = threading.Condition()
        self.cold_starts = 0
        self.invocations = 0
        self.last_init_ms: float | None = None
        self.billed_invocations = 0  # as invocations, but zeroed by POST /_local/usage/reset (health's are not)
        self.billed_ms = 0  # summed from the REPORT lines, as Lambda bills them
        self.init_ms = 0.0

    def __repr__(self) -> str:
        return f"<LocalFunction {self.logical_id} {self.module_name}>"

    @property
    def source_file(self) -> Path:
        module_path, _, _ = self.handler_spec.rpartition(".")
        return self.code_dir / (module_path.replace(".", "/") + ".py")

    @property
    def max_workers(self) -> int:
        assert self.runtime is not None
        cap = self.runtime.max_workers
        return min(cap, self.reserved_concurrency) if self.reserved_concurrency else cap

    def credentials(self) -> dict[str, str]:
        """This function's own (fake) role session: a distinct key per function, as Lambda's STS keys are."""
        digest = hashlib.sha256(f"{self.role_arn}".encode()).hexdigest().upper()
        return {"AWS_ACCESS_KEY_ID": f"ASIA{digest[:16]}", "AWS_SECRET_ACCESS_KEY": digest[16:56],
                "AWS_SESSION_TOKEN": f"local-session-{self.logical_id}"}

    def process_environment(self) -> dict[str, str]:
        """Exactly what Lambda gives this function's runtime, plus the local endpoints."""
        env = {key: os.environ[key] for key in _BASIC_VARIABLES if key in os.environ}
        env.update(self.environment)
        env.update(
            AWS_LAMBDA_FUNCTION_NAME=self.name,
            AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
            AWS_LAMBDA_FUNCTION_MEMORY_SIZE=str(self.memory),
            AWS_LAMBDA_LOG_GROUP_NAME=f"/aws/lambda/{self.name}",
            AWS_LAMBDA_LOG_STREAM_NAME=f"{dt.datetime.now(dt.timezone.utc):%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}",
            AWS_LAMBDA_INITIALIZATION_TYPE="on-demand",
            AWS_EXECUTION_ENV=f"AWS_Lambda_{self.runtime_id}",
            AWS_REGION=REGION,
            AWS_DEFAULT_REGION=REGION,
            LAMBDA_TASK_ROOT=str(self.code_dir),
            LAMBDA_RUNTIME_DIR=str(Path(sys.executable).parent),
            _HANDLER=self.handler_spec,
            TZ=":UTC",
            **self.credentials(),
        )
        env.update(self.local_environment)
        return env

    # --- invocation ------------------------------------------------------------------------------

    def invoke(self, event: Any, *, request_id: str | None = None, max_waiting: int | None = None) -> Any:
        """Synchronous invocation: the result, or FunctionError with the runtime's error payload.

        With ``max_waiting``, TooManyRequests when no worker is free or can start and that many
        invocations already wait for one: the caller refuses at once rather than queue without end."""
        request_id = request_id or str(uuid.uuid4())
        worker = self._acquire(max_waiting)
        try:
            return worker.invoke(event, request_id)
        finally:
            self._release(worker)

    def _acquire(self, max_waiting: int | None = None) -> Worker:
        with self._lock:
            full = not self._idle and len(self._workers) + self._starting >= self.max_workers
            if self._stopping or (max_waiting is not None and full and len(self._waiters) >= max_waiting):
                raise TooManyRequests(self.logical_id)
            self.invocations += 1
            self.billed_invocations += 1
            worker = None if self._waiters else self._idle_worker()
            if worker is not None:
                return worker
            if not self._waiters and len(self._workers) + self._starting < self.max_workers:
                self._starting += 1
            else:
                waiter = _Waiter()
                self._waiters.append(waiter)
                self._lock.wait_for(waiter.answered)
                if waiter.refused:
                    raise TooManyRequests(self.logical_id)
                if waiter.worker is not None:
                    return waiter.worker
                # may_start: the slot is counted in _starting by whoever freed it
        started = None
        try:
            started = Worker(self)
            init_ms = started.init()
        except BaseException:
            if started is not None:
                if started.alive():
                    started.kill()
                started.close()
            with self._lock:
                self._starting -= 1
                self._free_slot()
            raise
        with self._lock:
            self._starting -= 1
            self._workers.add(started)
            self.cold_starts += 1
            self.last_init_ms = round(init_ms, 2)
        return started

    def _idle_worker(self) -> Worker | None:
        """A warm worker, the lock held; an idle worker that died is dropped (a cold start replaces it)."""
        while self._idle:
            worker = self._idle.pop()
            if worker.alive():
                return worker
            self._workers.discard(worker)
            worker.close()
        return None

    def _free_slot(self) -> None:
        """A worker is gone (the lock held): the oldest waiter may start one in its place."""
        if self._waiters and not self._stopping:
            waiter = self._waiters.popleft()
            waiter.may_start = True
            self._starting += 1
            self._lock.notify_all()

    def _release(self, worker: Worker) -> None:
        if not worker.alive():
            self._discard(worker)  # a worker that timed out or died is replaced on a later invocation
            return
        with self._lock:
            if self._waiters:
                waiter = self._waiters.popleft()
                waiter.worker = worker
                self._lock.notify_all()
            else:
                self._idle.append(worker)

    def _discard(self, worker: Worker) -> None:
        if worker.alive():
            worker.kill()
        worker.close()
        with self._lock:
            self._workers.discard(worker)
            self._free_slot()

    def stop_accepting(self) -> None:
        """The stack is stopping: new invocations and those still waiting for a worker are refused."""
        with self._lock:
            self._stopping = True
            for waiter in self._waiters:
                waiter.refused = True
            self._waiters.clear()
            self._lock.notify_all()

    def health(self) -> dict[str, Any]:
        with self._lock:
            alive = [w for w in self._workers if w.alive()]
            warm = sum(1 for w in self._idle if w.alive())
            return {
                "workers": len(alive), "warm": warm, "busy": len(alive) - warm, "max_workers": self.max_workers,
                "cold_starts": self.cold_starts, "invocations": self.invocations,
                "last_init_ms": self.last_init_ms, "pids": sorted(w.pid for w in alive),
            }

    def count_report(self, line: str) -> None:
        billed, init = _BILLED.search(line), _INIT.search(line)
        with self._lock:
            self.billed_ms += int(billed.group(1)) if billed else 0
            self.init_ms += float(init.group(1)) if init else 0.0

    def usage(self, *, reset: bool = False) -> dict[str, Any]:
        """What AWS would bill for this function since the last reset (GET and POST /_local/usage)."""
        with self._lock:
            counted = {"invocations": self.billed_invocations, "billed_ms": self.billed_ms,
                       "init_ms": round(self.init_ms, 2), "memory_mb": self.memory}
            if reset:
                self.billed_invocations, self.billed_ms, self.init_ms = 0, 0, 0.0
        return counted

    def stop_workers(self, deadline: float) -> None:
        """Every worker ends: stdin closed, then killed if still running at ``deadline``."""
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.stop()
        for worker in workers:
            try:
                worker.process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                worker.kill()


# --- async invocation (Scheduler, destinations) --------------------------------------------------


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AsyncInvoker:
    """Lambda's event (async) invocation: queue, retries, destinations; one thread per invocation."""

    def __init__(
        self,
        functions: dict[str, LocalFunction],
        stop: threading.Event,
        *,
        retry_delay: float = 1.0,
    ):
        self.functions = functions  # by function name
        self.stop = stop
        self.retry_delay = retry_delay
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()

    def by_arn(self, arn: str) -> LocalFunction | None:
        # arn:aws:lambda:region:account:function:name[:qualifier]
        parts = arn.split(":")
        if len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function":
            return self.functions.get(parts[6])
        return self.functions.get(arn)

    def invoke(self, fn: LocalFunction, payload: Any, *, source: str) -> str:
        request_id = str(uuid.uuid4())
        thread = threading.Thread(
            target=self._run, args=(fn, payload, request_id, source), name=f"async-{fn.logical_id}-{request_id[:8]}",
            daemon=True,
        )
        with self._lock:
            self._threads = {t for t in self._threads if t.is_alive()}
            self._threads.add(thread)
        thread.start()
        return request_id

    def active(self) -> int:
        with self._lock:
            return sum(1 for t in self._threads if t.is_alive())

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self, fn: LocalFunction, payload: Any, request_id: str, source: str) -> None:
        config = fn.event_invoke_config or {}
        retries = int(config.get("MaximumRetryAttempts", 2))
        max_age = int(config.get("MaximumEventAgeInSeconds", 21600))
        received = time.monotonic()
        attempts = 0
        error: FunctionError | None = None
        while True:
            attempts += 1
            started = time.monotonic()
            try:
                result = fn.invoke(payload, request_id=request_id)
            except TooManyRequests:
                log.info("%s: stopping, async request %s dropped", fn.logical_id, request_id)
                return
            except FunctionError as exc:
                error = exc
                log.error("%s (async, from %s) failed on attempt %d: %s", fn.logical_id, source, attempts, exc)
            else:
                log.info("%s (async, from %s) done in %d ms", fn.logical_id, source, (time.monotonic() - started) * 1000)
                self._destination(fn, "OnSuccess", payload, request_id, attempts, result=result)
                return
            if attempts > retries:
                condition = "RetriesExhausted"
                break
            # Lambda waits 1 min, then 2 min; locally a second, then two.
            delay = self.retry_delay * (2 ** (attempts - 1))
            if time.monotonic() + delay - received > max_age:
                condition = "EventAgeExceeded"
                break
            if self.stop.wait(delay):
                log.info("%s: stopping, retry of request %s dropped", fn.logical_id, request_id)
                return
        assert error is not None
        self._destination(fn, "OnFailure", payload, request_id, attempts, error=error, condition=condition)

    def _destination(
        self,
        fn: LocalFunction,
        kind: str,
        payload: Any,
        request_id: str,
        attempts: int,
        *,
        result: Any = None,
        error: FunctionError | None = None,
        condition: str = "Success",
    ) -> None:
        destination = ((fn.event_invoke_config or {}).get("DestinationConfig") or {}).get(kind) or {}
        target = destination.get("Destination")
        record = {
            "version": "1.0",
            "timestamp": _now_iso(),
            "requestContext": {
                "requestId": request_id,
                "functionArn": f"{fn.arn}:$LATEST",
                "condition": condition,
                "approximateInvokeCount": attempts,
            },
            "requestPayload": payload,
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
            "responsePayload": result,
        }
        if error is not None:
            record["responseContext"]["functionError"] = "Unhandled"
            record["responsePayload"] = {**error.payload, "requestId": request_id}
        try:
            if target:
                self._send(fn, target, record, kind, error is None)
            elif error is not None and fn.dead_letter_queue:
                self._send_dlq(fn, payload, request_id, error)
            elif error is not None:
                log.error("%s: request %s dropped after %d attempts (%s); no OnFailure destination",
                          fn.logical_id, request_id, attempts, condition)
        except Exception:  # noqa: BLE001 - never kill the caller over a destination
            log.exception("%s: could not deliver to %s destination %s", fn.logical_id, kind, target)

    def _send(self, fn: LocalFunction, target: str, record: dict[str, Any], kind: str, success: bool) -> None:
        service = target.split(":")[2]
        body = json.dumps(record, default=json_default)
        if service == "sqs":
            sqs = boto3.client("sqs", region_name=REGION)
            url = sqs.get_queue_url(QueueName=target.split(":")[5], QueueOwnerAWSAccountId=target.split(":")[4])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=body)
        elif service == "sns":
            boto3.client("sns", region_name=REGION).publish(TopicArn=target, Message=body)
        elif service == "events":
            boto3.client("events", region_name=REGION).put_events(Entries=[{
                "Source": "lambda",
                "DetailType": f"Lambda Function Invocation Result - {'Success' if success else 'Failure'}",
                "Detail": body,
                "Resources": [target, fn.arn],
                "EventBusName": target,
            }])
        elif service == "lambda":
            other = self.by_arn(target)
            if other is None:
                raise TemplateError(f"destination function {target} is not in the template")
            self.invoke(other, record, source=f"{fn.logical_id} {kind}")
            return
        else:
            raise TemplateError(f"destination type of {target} is not supported locally")
        log.info("%s: %s record for request %s sent to %s", fn.logical_id, kind, record["requestContext"]["requestId"], target)

    def _send_dlq(self, fn: LocalFunction, payload: Any, request_id: str, error: FunctionError) -> None:
        target = fn.dead_letter_queue.get("TargetArn") if fn.dead_letter_queue else None
        if not target:
            return
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": str(error.payload.get("errorMessage"))[:1000]},
        }
        body = json.dumps(payload, default=json_default)
        if target.split(":")[2] == "sqs":
            sqs = boto3.client("sqs", region_name=REGION)
            url = sqs.get_queue_url(QueueName=target.split(":")[5])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
        else:
            boto3.client("sns", region_name=REGION).publish(TopicArn=target, Message=body)
        log.info("%s: request %s sent to its DeadLetterQueue %s", fn.logical_id, request_id, target)


# --- building functions from the template --------------------------------------------------------


def build_functions(template: Template, resolver: Resolver) -> list[LocalFunction]:
    functions = []
    for logical_id in template.of_type("AWS::Serverless::Function"):
        if not resolver.resource_enabled(logical_id):
            continue
        props = template.properties(logical_id)
        code_uri = props.get("CodeUri")
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: CodeUri must be a local path to run locally")
        handler = props.get("Handler")
        if not isinstance(handler, str) or "." not in handler:
            raise TemplateError(f"{logical_id}: Handler must be module.function")
        name = str(resolver.resolve(props.get("FunctionName")) or f"{template.stack_name}-{logical_id}")
        env_vars = resolver.resolve(((props.get("Environment") or {}).get("Variables")) or {})
        environment = {k: _scalar_str(v) for k, v in env_vars.items()}
        code_dir = (template.root / code_uri).resolve()
        rel = Path(code_uri).as_posix().strip("/").replace("/", ".").replace("-", "_")
        module_path = handler.rpartition(".")[0]
        events = [
            FunctionEvent(name=ev_name, type=ev.get("Type", ""), properties=resolver.resolve(ev.get("Properties") or {}))
            for ev_name, ev in (props.get("Events") or {}).items()
        ]
        # SAM names the execution role it creates <LogicalId>Role; an explicit Role is used as given.
        role_arn = str(resolver.resolve(props.get("Role"))
                       or f"arn:aws:iam::{ACCOUNT_ID}:role/{template.stack_name}-{logical_id}Role")
        reserved = resolver.resolve(props.get("ReservedConcurrentExecutions"))
        functions.append(
            LocalFunction(
                logical_id=logical_id,
                name=name,
                arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
                role_arn=role_arn,
                code_dir=code_dir,
                handler=handler,
                module_name=f"{rel}.{module_path}" if rel else module_path,
                runtime_id=str(resolver.resolve(props.get("Runtime")) or DEFAULT_RUNTIME),
                timeout=int(resolver.resolve(props.get("Timeout")) or DEFAULT_TIMEOUT),
                memory=int(resolver.resolve(props.get("MemorySize")) or DEFAULT_MEMORY),
                reserved_concurrency=None if reserved is None else int(reserved),
                environment=environment,
                events=events,
                event_invoke_config=resolver.resolve(props.get("EventInvokeConfig")) or {},
                dead_letter_queue=resolver.resolve(props.get("DeadLetterQueue")),
            )
        )
    return functions
