"""The template's functions, loaded in-process, with Lambda's sync and async invocation semantics."""

from __future__ import annotations

import datetime as dt
import decimal
import importlib.util
import json
import logging
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import boto3

from .template import ACCOUNT_ID, REGION, Resolver, Template, TemplateError, _scalar_str

log = logging.getLogger("infra.local.lambda")

_HERE = str(Path(__file__).resolve().parent)

DEFAULT_TIMEOUT = 3
DEFAULT_MEMORY = 128


@dataclass
class LambdaContext:
    """The attributes and method of the Python runtime's context object that handlers use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_seconds: int
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        if not self._deadline:
            self._deadline = time.monotonic() + self.timeout_seconds
        if not self.log_group_name:
            self.log_group_name = f"/aws/lambda/{self.function_name}"
        if not self.log_stream_name:
            self.log_stream_name = f"{dt.date.today():%Y/%m/%d}/[$LATEST]{uuid.uuid4().hex}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _json_default(obj: Any) -> Any:
    # The Python runtime serialises Decimal (DynamoDB numbers) in responses.
    if isinstance(obj, decimal.Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def through_json(value: Any) -> Any:
    """What crosses the Lambda boundary is JSON: copy it that way (no shared mutable state)."""
    return json.loads(json.dumps(value, default=_json_default))


@dataclass
class FunctionEvent:
    name: str
    type: str
    properties: dict[str, Any]


class LocalFunction:
    def __init__(
        self,
        *,
        logical_id: str,
        name: str,
        arn: str,
        code_dir: Path,
        handler: str,
        module_name: str,
        timeout: int,
        memory: int,
        environment: dict[str, str],
        events: list[FunctionEvent],
        event_invoke_config: dict[str, Any],
        dead_letter_queue: dict[str, Any] | None,
    ):
        self.logical_id = logical_id
        self.name = name
        self.arn = arn
        self.code_dir = code_dir
        self.handler_spec = handler
        self.module_name = module_name
        self.timeout = timeout
        self.memory = memory
        self.environment = environment
        self.events = events
        self.event_invoke_config = event_invoke_config
        self.dead_letter_queue = dead_letter_queue
        self._handler: Callable[[Any, Any], Any] | None = None
        self.module: ModuleType | None = None

    def __repr__(self) -> str:
        return f"<LocalFunction {self.logical_id} {self.module_name}>"

    @property
    def source_file(self) -> Path:
        module_path, _, _ = self.handler_spec.rpartition(".")
        return self.code_dir / (module_path.replace(".", "/") + ".py")

    def load(self) -> None:
        """Import the handler module under its unique name (e.g. ``functions.join.handler``)."""
        _, _, func_name = self.handler_spec.rpartition(".")
        path = self.source_file
        if not path.is_file():
            raise FileNotFoundError(f"{self.logical_id}: handler file {path} does not exist (CodeUri + Handler)")
        spec = importlib.util.spec_from_file_location(self.module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"{self.logical_id}: cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[self.module_name] = module
        # Lambda puts the code directory on sys.path; do the same while the module is imported so
        # that it may import modules next to it.
        sys.path.insert(0, str(self.code_dir))
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(self.module_name, None)
            raise
        finally:
            try:
                sys.path.remove(str(self.code_dir))
            except ValueError:
                pass
        handler = getattr(module, func_name, None)
        if not callable(handler):
            raise ImportError(f"{self.logical_id}: {path} has no callable {func_name!r}")
        self.module = module
        self._handler = handler

    def context(self, request_id: str | None = None) -> LambdaContext:
        return LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.memory,
            invoked_function_arn=self.arn,
            aws_request_id=request_id or str(uuid.uuid4()),
            timeout_seconds=self.timeout,
        )

    def invoke(self, event: Any, *, request_id: str | None = None) -> Any:
        """Synchronous invocation: the handler's exception propagates; the result is JSON-copied."""
        if self._handler is None:
            raise RuntimeError(f"{self.logical_id} is not loaded")
        ctx = self.context(request_id)
        started = time.monotonic()
        try:
            return through_json(self._handler(through_json(event), ctx))
        finally:
            elapsed = time.monotonic() - started
            if elapsed > self.timeout:
                log.warning(
                    "%s ran %.1f s, longer than its Timeout of %d s: Lambda would have stopped it",
                    self.logical_id, elapsed, self.timeout,
                )


# --- async invocation (Scheduler, destinations) --------------------------------------------------


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_payload(exc: BaseException, request_id: str) -> dict[str, Any]:
    """The runtime's error response shape (what ``responsePayload`` holds for a function error)."""
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": [
            line for line, frame in zip(traceback.format_tb(exc.__traceback__), traceback.walk_tb(exc.__traceback__))
            if not frame[0].f_code.co_filename.startswith(_HERE)
        ],
    }


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
        error: BaseException | None = None
        while True:
            attempts += 1
            started = time.monotonic()
            try:
                result = fn.invoke(payload, request_id=request_id)
            except Exception as exc:  # noqa: BLE001 - a function error, as Lambda sees it
                error = exc
                log.error(
                    "%s (async, from %s) failed on attempt %d: %s\n%s",
                    fn.logical_id, source, attempts, exc, "".join(traceback.format_exception(exc)).rstrip(),
                )
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
        error: BaseException | None = None,
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
            record["responsePayload"] = error_payload(error, request_id)
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
        body = json.dumps(record, default=_json_default)
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

    def _send_dlq(self, fn: LocalFunction, payload: Any, request_id: str, error: BaseException) -> None:
        target = fn.dead_letter_queue.get("TargetArn") if fn.dead_letter_queue else None
        if not target:
            return
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": str(error)[:1000] or type(error).__name__},
        }
        body = json.dumps(payload, default=_json_default)
        if target.split(":")[2] == "sqs":
            sqs = boto3.client("sqs", region_name=REGION)
            url = sqs.get_queue_url(QueueName=target.split(":")[5])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
        else:
            boto3.client("sns", region_name=REGION).publish(TopicArn=target, Message=body)
        log.info("%s: request %s sent to its DeadLetterQueue %s", fn.logical_id, request_id, target)


# --- building functions from the template --------------------------------------------------------


def build_functions(template: Template, resolver: Resolver, *, public_base_url: str | None = None) -> list[LocalFunction]:
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
        functions.append(
            LocalFunction(
                logical_id=logical_id,
                name=name,
                arn=f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}",
                code_dir=code_dir,
                handler=handler,
                module_name=f"{rel}.{module_path}" if rel else module_path,
                timeout=int(resolver.resolve(props.get("Timeout")) or DEFAULT_TIMEOUT),
                memory=int(resolver.resolve(props.get("MemorySize")) or DEFAULT_MEMORY),
                environment=environment,
                events=events,
                event_invoke_config=resolver.resolve(props.get("EventInvokeConfig")) or {},
                dead_letter_queue=resolver.resolve(props.get("DeadLetterQueue")),
            )
        )
    return functions


class EnvironmentConflict(TemplateError):
    pass


def merged_environment(functions: list[LocalFunction], *, local_overrides: dict[str, str]) -> dict[str, str]:
    """All functions share one process: their variables must agree (``local_overrides`` excepted)."""
    merged: dict[str, str] = {}
    origin: dict[str, str] = {}
    conflicts = []
    for fn in functions:
        for key, value in fn.environment.items():
            if key in local_overrides:
                continue
            if key in merged and merged[key] != value:
                conflicts.append(f"{key}: {origin[key]}={merged[key]!r} but {fn.logical_id}={value!r}")
                continue
            merged.setdefault(key, value)
            origin.setdefault(key, fn.logical_id)
    if conflicts:
        raise EnvironmentConflict(
            "functions run in one process locally, so their environment variables must agree:\n  "
            + "\n  ".join(conflicts)
        )
    merged.update(local_overrides)
    return merged
