"""One function's execution environment: a process that imports the handler once and runs invocations.

The parent (``lambdas.py``) starts ``python worker.py <fd>`` with exactly the function's environment.
It reads requests as JSON lines from stdin and answers as JSON lines on file descriptor ``fd``;
stdout and stderr (one pipe) carry only what the function logs, framed by Lambda's START, END and
REPORT lines, so the parent knows which invocation wrote each line.

Protocol (one JSON object per line):
  parent -> worker, first line: ``{"handler_file", "handler_name", "module_name", "sys_path",
      "function_arn", "principal_arn", "statements", "timeout", "memory", "spawned_at"}``
      (``spawned_at``: the parent's ``time.monotonic()`` when it started the process, a clock both
      processes share, so that Init Duration counts the interpreter's start too, as Lambda's does)
  worker -> parent: ``{"init_ms": ...}`` once the handler is imported, or ``{"init_error": payload}``
  parent -> worker: ``{"request_id", "event"}``
  worker -> parent: ``{"result": ...}`` or ``{"error": payload}``

The worker exits when stdin closes or the parent process goes away. This file imports only the
standard library at the top, because it runs with the function's ``sys.path``.
"""

from __future__ import annotations

import decimal
import importlib.util
import json
import logging
import math
import os
import resource
import sys
import threading
import time
import traceback
import warnings
from dataclasses import dataclass, field
from typing import Any

_THIS_FILE = os.path.abspath(__file__)


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

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def json_default(obj: Any) -> Any:
    # The Python runtime serialises Decimal (DynamoDB numbers) in responses.
    if isinstance(obj, decimal.Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def error_payload(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    """The runtime's error response shape; the worker's own frames are left out of the stack trace."""
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename != _THIS_FILE]
    return {
        "errorMessage": str(exc),
        "errorType": error_type or type(exc).__name__,
        "stackTrace": traceback.format_list(frames),
    }


def _exit_with_parent(parent_pid: int) -> None:
    """A worker outlives no parent: not when it is killed, and not while a handler is still busy."""
    while True:
        time.sleep(1)
        if os.getppid() != parent_pid:
            os._exit(1)


def _load_handler(config: dict[str, Any]) -> Any:
    spec = importlib.util.spec_from_file_location(config["module_name"], config["handler_file"])
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {config['handler_file']}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[config["module_name"]] = module
    spec.loader.exec_module(module)
    handler = getattr(module, config["handler_name"], None)
    if not callable(handler):
        raise AttributeError(f"handler {config['handler_name']!r} missing on module {config['module_name']!r}")
    return handler


def _max_memory_mb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024  # KiB on Linux


def _report(request_id: str, started: float, config: dict[str, Any], init_ms: float | None) -> None:
    duration = (time.monotonic() - started) * 1000
    init = f"\tInit Duration: {init_ms:.2f} ms" if init_ms is not None else ""
    print(f"END RequestId: {request_id}")
    print(f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\tBilled Duration: {max(1, math.ceil(duration))} ms"
          f"\tMemory Size: {config['memory']} MB\tMax Memory Used: {_max_memory_mb()} MB{init}", flush=True)


def main() -> None:
    answers = os.fdopen(int(sys.argv[1]), "w", encoding="utf-8", buffering=1)
    # Not this directory: a handler's "import template" must not find the local stack's modules.
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != os.path.dirname(_THIS_FILE)]
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    # Lambda's runtime: the root logger at WARNING, lines to the log stream.
    logging.basicConfig(level=logging.WARNING, format="[%(levelname)s] %(name)s: %(message)s", stream=sys.stderr)
    # Powertools warns on every invocation that emitted no metric; harmless, and it buries the request log.
    warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)

    config = json.loads(sys.stdin.readline())
    sys.path[:0] = config["sys_path"]
    try:
        from infra.local.iam import install_guard

        install_guard(config["principal_arn"], config["statements"])
        handler = _load_handler(config)
    except Exception as exc:  # noqa: BLE001 - an init error is the function's, reported as Lambda does
        failed_after_ms = (time.monotonic() - config["spawned_at"]) * 1000
        # As the Python runtime: a module that cannot be imported is the runtime's error, anything else the code's.
        error_type = "Runtime.ImportModuleError" if isinstance(exc, ImportError) else type(exc).__name__
        payload = error_payload(exc, error_type)
        print(f"[ERROR] {error_type}: {exc}\n{''.join(payload['stackTrace'])}"
              f"INIT_REPORT Init Duration: {failed_after_ms:.2f} ms\tPhase: init\tStatus: error\tError Type: {error_type}",
              file=sys.stderr, flush=True)
        answers.write(json.dumps({"init_error": payload}) + "\n")
        return
    init_ms: float | None = (time.monotonic() - config["spawned_at"]) * 1000
    answers.write(json.dumps({"init_ms": init_ms}) + "\n")

    for line in sys.stdin:
        request = json.loads(line)
        request_id = request["request_id"]
        context = LambdaContext(
            function_name=os.environ["AWS_LAMBDA_FUNCTION_NAME"],
            memory_limit_in_mb=config["memory"],
            invoked_function_arn=config["function_arn"],
            aws_request_id=request_id,
            timeout_seconds=config["timeout"],
            log_group_name=os.environ["AWS_LAMBDA_LOG_GROUP_NAME"],
            log_stream_name=os.environ["AWS_LAMBDA_LOG_STREAM_NAME"],
        )
        invoked = time.monotonic()
        print(f"START RequestId: {request_id} Version: $LATEST", flush=True)
        try:
            # A result that is not JSON fails here, as the runtime's marshalling does.
            answer = json.dumps({"result": handler(request["event"], context)}, default=json_default)
        except Exception as exc:  # noqa: BLE001 - a function error, returned as the runtime does
            payload = error_payload(exc)
            print(f"[ERROR] {payload['errorType']}: {payload['errorMessage']}\nTraceback (most recent call last):\n"
                  f"{''.join(payload['stackTrace'])}", file=sys.stderr, end="", flush=True)
            answer = json.dumps({"error": payload})
        sys.stdout.flush()
        sys.stderr.flush()
        _report(request_id, invoked, config, init_ms)
        init_ms = None  # only the cold start's REPORT has an Init Duration
        answers.write(answer + "\n")


if __name__ == "__main__":
    main()
