"""Putting the local stack together: moto, resources, functions, gateway, pollers, scheduler, seed."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import re
import sys
import threading
import time
import urllib.parse
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import moto_patches, outbox, room
from .gateway import Gateway, routes_from_functions
from .iam import function_statements
from .lambdas import DEFAULT_MAX_WORKERS, AsyncInvoker, LocalFunction, MetricsSink, WorkerRuntime, build_functions
from .provision import Provisioner
from .sandboxes import PROVIDERS, SANDBOXED_SERVICES, LocalSandbox, SandboxError, start_sandboxes
from .serving import KeptAliveHandler, PooledHTTPServer
from .scheduler import SchedulerLoop, recurring_events
from .seed import DemoTenant, booking_snippet, operator_environment, seed_demo, webhook_urls
from .sqs_poller import SqsPoller, pollers_from_functions
from .template import ACCOUNT_ID, REGION, Template, TemplateError

log = logging.getLogger("infra.local")

REPO_ROOT = Path(__file__).resolve().parents[2]

# POST here + a function's logical id fires its rate(...) schedules now (dev only).
SCHEDULES_PATH = "/_local/schedules/"
USAGE_PATH = "/_local/usage"
USAGE_RESET_PATH = "/_local/usage/reset"
FAKE_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class StartupError(Exception):
    pass


def isolate_aws_environment(endpoint_url: str) -> None:
    """Point every boto3/botocore/pynamodb client in this process at moto, and only at moto."""
    for key in list(os.environ):
        if key.startswith("AWS_ENDPOINT_URL_") or key in (
            "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
            "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE",
        ):
            del os.environ[key]
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint_url,
        AWS_DEFAULT_REGION=REGION,
        AWS_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_EC2_METADATA_DISABLED="true",
        **FAKE_CREDENTIALS,
    )


@dataclass
class Options:
    template: Path = REPO_ROOT / "template.yaml"
    port: int = 3000
    aws_port: int = 0
    state_dir: Path = Path(".meetbridge")
    ready_file: Path | None = None
    seed: bool = True
    parameters: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    async_retry_delay: float = 1.0
    sandbox_ports: dict[str, int] = field(default_factory=dict)  # sandbox key (zoom, simplybook, ...) -> port
    max_workers: int = DEFAULT_MAX_WORKERS  # per function, below its ReservedConcurrentExecutions
    # A one-time schedule fires at a random moment this long after its time at most (AWS: within the minute).
    scheduler_jitter_seconds: float = 60.0


class LocalStack:
    def __init__(self, options: Options):
        self.options = options
        self.stop_event = threading.Event()
        self.moto: MotoServer | None = None
        self.aws_endpoint_url = ""
        self.template: Template | None = None
        self.provisioner: Provisioner | None = None
        self.functions: list[LocalFunction] = []
        self.gateway: Gateway | None = None
        self.pollers: list[SqsPoller] = []
        self._receives_at_reset = 0
        self.scheduler: SchedulerLoop | None = None
        self.invoker: AsyncInvoker | None = None
        self.tenant: DemoTenant | None = None
        self.sandboxes: dict[str, LocalSandbox] = {}
        self.metrics: MetricsSink | None = None
        self.info: dict[str, Any] = {}
        # Every request moto answered, by the caller's access key (a function's own, or the stack's) and
        # operation (``X-Amz-Target``, or method and path for REST services): what AWS would bill.
        self.aws_requests: Counter[tuple[str, str]] = Counter()

    # --- start -----------------------------------------------------------------------------------

    def start(self) -> dict[str, Any]:
        opts = self.options
        self._start_moto()
        moto_patches.apply()

        self.template = Template.load(opts.template, parameter_overrides=opts.parameters)
        layer_paths = self._layer_paths()
        # The seed creates the demo tenant through the shared package, in this process.
        sys.path.extend(p for p in layer_paths if p not in sys.path)
        self.provisioner = Provisioner(self.template)
        self.provisioner.provision_all()
        for warning in self.provisioner.warnings:
            log.warning("%s", warning)
        sender = self.provisioner.resolver.parameters.get("SenderEmail")
        if sender:
            self.provisioner.verify_sender(str(sender))

        # The gateway binds first: its URL is PUBLIC_BASE_URL, which the functions get.
        try:
            self.gateway = Gateway(
                [],
                port=opts.port,
                local_endpoints={"/_local/outbox": outbox.json_endpoint, "/_local/outbox.html": outbox.html_endpoint,
                                 "/_local/health": self._health, USAGE_PATH: self._usage, room.PATH: room.endpoint},
                local_actions={SCHEDULES_PATH: self._run_schedule, outbox.SMS_REPLY_PATH: outbox.sms_reply,
                               USAGE_RESET_PATH: self._reset_usage},
            )
        except OSError as exc:
            raise StartupError(f"cannot listen on 127.0.0.1:{opts.port} ({exc.strerror}); "
                               "pick another with --port or PORT (0 = any free port)") from exc
        self.functions = build_functions(self.template, self.provisioner.resolver)
        self._check_handlers()
        self._start_sandboxes()
        self.metrics = MetricsSink(opts.state_dir.resolve() / "metrics.jsonl")
        runtime = WorkerRuntime(sys_path=[*layer_paths, str(REPO_ROOT)], metrics=self.metrics,
                                max_workers=opts.max_workers)
        for fn in self.functions:
            fn.runtime = runtime
            fn.local_environment = self._local_environment(fn)
            fn.statements = self.provisioner.resolver.resolve(function_statements(self.template.path, fn.logical_id))

        try:
            self.gateway.routes = routes_from_functions(self.functions, *self._route_settings())
        except ValueError as exc:
            raise StartupError(f"HttpApi events: {exc}") from exc
        self.gateway.start()
        by_name = {fn.name: fn for fn in self.functions}
        self.invoker = AsyncInvoker(by_name, self.stop_event, retry_delay=opts.async_retry_delay)
        self.pollers = pollers_from_functions(self.functions, self.stop_event)
        for poller in self.pollers:
            poller.start()
        self.scheduler = SchedulerLoop(self.invoker, self.stop_event,
                                       recurring=recurring_events(self.functions, time.time(), self.template.stack_name),
                                       jitter_seconds=opts.scheduler_jitter_seconds)
        self.scheduler.start()

        if opts.seed:
            os.environ.update(operator_environment([fn.environment for fn in self.functions]))
            try:
                self.tenant = seed_demo(self.gateway.url,
                                        connect=[p.key for p in PROVIDERS if p.key in self.sandboxes])
            except Exception as exc:
                raise StartupError(f"seeding the demo tenant failed: {exc}") from exc
        self.info = self._write_state()
        return self.info

    def _start_moto(self) -> None:
        try:
            self.moto = atomic_moto_server(self.options.aws_port, self.aws_requests)
        except OSError as exc:
            raise StartupError(f"cannot listen on 127.0.0.1:{self.options.aws_port} for moto "
                               f"({exc.strerror}); pick another with --aws-port (0 = any free port)") from exc
        self.moto.start()
        host, port = self.moto.get_host_and_port()
        self.aws_endpoint_url = f"http://{host}:{port}"
        isolate_aws_environment(self.aws_endpoint_url)

    def _start_sandboxes(self) -> None:
        assert self.gateway is not None
        try:
            self.sandboxes = start_sandboxes(self.functions, api_port=self.gateway.port,
                                             ports=self.options.sandbox_ports)
        except SandboxError as exc:
            raise StartupError(str(exc)) from exc

    def _local_environment(self, fn: LocalFunction) -> dict[str, str]:
        """What the local stack sets for ``fn`` after the template's variables: moto's endpoint, the
        settings of each sandbox whose variable ``fn`` declares, the gateway where it has PUBLIC_BASE_URL,
        and the ``--env`` options."""
        assert self.gateway is not None
        env = {
            "AWS_ENDPOINT_URL": self.aws_endpoint_url,
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        for local in self.sandboxes.values():
            if local.service.declared_by(fn):
                env.update(local.environment())
        if "PUBLIC_BASE_URL" in fn.environment:
            env["PUBLIC_BASE_URL"] = self.gateway.url
        # Alert webhooks and callbacks may go to a receiver on this machine over plain http (read by admin, alerts
        # and callbacks only).
        env["ALERT_WEBHOOK_ALLOW_HTTP_LOOPBACK"] = "true"
        env.update(self.options.env)
        return env

    def _route_settings(self) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """The HttpApi's throttles, which the gateway applies: its stage's ``DefaultRouteSettings`` and its
        ``RouteSettings`` by route key."""
        assert self.template is not None and self.provisioner is not None
        apis = self.template.of_type("AWS::Serverless::HttpApi")
        if len(apis) > 1:
            log.warning("%d HttpApi resources: the local gateway throttles by the first one's route settings",
                        len(apis))
        properties = self.template.properties(apis[0]) if apis else {}
        resolve = self.provisioner.resolver.resolve
        return resolve(properties.get("DefaultRouteSettings") or {}), resolve(properties.get("RouteSettings") or {})

    def _layer_paths(self) -> list[str]:
        """Where each layer's modules are (Lambda's /opt/python)."""
        assert self.template is not None
        paths = []
        for logical_id in self.template.of_type("AWS::Serverless::LayerVersion"):
            content = self.template.properties(logical_id).get("ContentUri")
            if isinstance(content, str):
                layer = (self.template.root / content).resolve()
                for candidate in (layer / "python", layer):
                    if candidate.is_dir():
                        paths.append(str(candidate))
                        break
        return paths

    def _check_handlers(self) -> None:
        """A handler file that does not exist stops the start; import errors are the functions' own, as on Lambda."""
        assert self.template is not None
        missing = [f"{fn.logical_id}: handler file {_relative(fn.source_file, self.template.root)} does not exist "
                   "(CodeUri + Handler)" for fn in self.functions if not fn.source_file.is_file()]
        if missing:
            raise StartupError("functions cannot start:\n  " + "\n  ".join(missing))

    def _run_schedule(self, logical_id: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """POST /_local/schedules/<FunctionLogicalId>: the function's rate schedules fire now (202), the tick's
        `time` being this moment (the body is not read)."""
        now = dt.datetime.now(dt.timezone.utc)
        fired = self.scheduler.fire_now(logical_id, now) if self.scheduler else []
        if not fired:
            return 404, {"content-type": "application/json"}, json.dumps(
                {"message": f"{logical_id!r} is no function with a rate(...) schedule"}).encode()
        body = {"function": logical_id, "rules": fired, "time": now.strftime("%Y-%m-%dT%H:%M:%SZ")}
        return 202, {"content-type": "application/json"}, json.dumps(body).encode()

    def _health(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        body = {
            "status": "ok",
            "functions": {fn.logical_id: fn.health() for fn in self.functions},
            "pollers": [{"name": p.name, "alive": p.is_alive(), "busy": p.busy, "concurrency": p.concurrency,
                         "invocations": p.invocations} for p in self.pollers],
            "scheduler": {"alive": bool(self.scheduler and self.scheduler.is_alive()),
                          "fired": self.scheduler.fired_count if self.scheduler else 0},
            "async_in_flight": self.invoker.active() if self.invoker else 0,
            **{f"{s.key}_sandbox": self.sandboxes[s.key].url if s.key in self.sandboxes else None
               for s in SANDBOXED_SERVICES},
        }
        return 200, {"content-type": "application/json"}, json.dumps(body).encode()

    def usage(self, *, reset: bool = False) -> dict[str, Any]:
        """The AWS requests by caller (a function's logical id, or ``stack`` for the stack's own and any other
        key) and operation, and per function what Lambda bills; ``reset`` zeroes them as they are read."""
        functions = {fn.logical_id: fn.usage(reset=reset) for fn in self.functions}
        with _counting:
            counted = dict(self.aws_requests)
            if reset:
                self.aws_requests.clear()
        # The mappings' receives that returned messages (what AWS bills of their polling, with their long polls
        # while idle, which a load run adds by the queues' number and its duration).
        receives = sum(poller.receives for poller in self.pollers)
        mappings = {"receives": receives - self._receives_at_reset,
                    "queues": len({poller.queue_url for poller in self.pollers})}
        if reset:
            self._receives_at_reset = receives
        callers = {fn.credentials()["AWS_ACCESS_KEY_ID"]: fn.logical_id for fn in self.functions}
        requests: dict[str, Counter[str]] = {}
        for (key, operation), count in counted.items():
            if count:
                requests.setdefault(callers.get(key, "stack"), Counter())[operation] += count
        return {"aws_requests": {caller: dict(sorted(ops.items())) for caller, ops in sorted(requests.items())},
                "functions": functions, "event_source_mappings": mappings}

    def _usage(self, query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
        return 200, {"content-type": "application/json"}, json.dumps(self.usage()).encode()

    def _reset_usage(self, rest: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """POST /_local/usage/reset: zeroes the counters (a load run measures its own traffic); answers what they held."""
        if rest:
            return 404, {"content-type": "application/json"}, json.dumps({"message": "Not Found"}).encode()
        return 200, {"content-type": "application/json"}, json.dumps(self.usage(reset=True)).encode()

    def _write_state(self) -> dict[str, Any]:
        assert self.gateway is not None and self.provisioner is not None
        state_dir = self.options.state_dir.resolve()
        state_dir.mkdir(parents=True, exist_ok=True)
        resources = {lid: p.ref for lid, p in self.provisioner.physical.items() if isinstance(p.ref, str)}
        # The functions' variables, the first function's value of each (for a person, not for a function).
        env: dict[str, str] = {}
        for fn in self.functions:
            for key, value in fn.environment.items():
                env.setdefault(key, value)
        api_url = self.gateway.url
        info: dict[str, Any] = {
            "api_url": api_url,
            "aws_endpoint_url": self.aws_endpoint_url,
            "tenant_id": self.tenant.tenant_id if self.tenant else None,
            "api_key": self.tenant.api_key if self.tenant else None,
            "webhook_secret": self.tenant.webhook_secret if self.tenant else None,
            "service_id": self.tenant.service_id if self.tenant else None,
            "provider_id": self.tenant.provider_id if self.tenant else None,
            "table_name": env.get("TABLE_NAME"),
            "kms_key_id": env.get("KMS_KEY_ID"),
            "region": REGION,
            "account_id": ACCOUNT_ID,
            "event_bus_name": env.get("EVENT_BUS_NAME"),
            "schedule_group": env.get("SCHEDULE_GROUP"),
            "outbox_url": f"{api_url}/_local/outbox.html",
            "metrics_file": str(self.metrics.path) if self.metrics else None,
            **self._sandbox_state(),
            "webhook_urls": webhook_urls(api_url, self.tenant) if self.tenant else None,
            "resources": resources,
            "pid": os.getpid(),
        }
        if self.tenant:
            script = state_dir / "post-booking.sh"
            script.write_text("#!/usr/bin/env bash\n# Posts a signed demo booking; MINUTES=5 ./post-booking.sh starts it later.\n"
                              + booking_snippet(api_url, self.tenant))
            script.chmod(0o755)
            info["booking_script"] = str(script)
        _write_json(state_dir / "dev.json", info)
        info["dev_json"] = str(state_dir / "dev.json")
        return info

    def _sandbox_state(self) -> dict[str, Any]:
        """Per sandbox: ``{key}_sandbox_url`` and its facts; per provider also the seeded ``{key}_connect_url``,
        ``{key}_connect_expires_at`` and ``{key}_connect_provider_id`` (None: the company account)."""
        state: dict[str, Any] = {}
        for service in SANDBOXED_SERVICES:
            local = self.sandboxes.get(service.key)
            state[f"{service.key}_sandbox_url"] = local.url if local else None
            state.update(local.facts() if local else {})
        for provider in PROVIDERS:
            link = self.tenant.connect_links.get(provider.key) if self.tenant else None
            state[f"{provider.key}_connect_url"] = link.url if link else None
            state[f"{provider.key}_connect_expires_at"] = link.expires_at if link else None
            state[f"{provider.key}_connect_provider_id"] = link.provider_id if link else None
        return state

    def write_ready_file(self) -> None:
        if self.options.ready_file:
            _write_json(self.options.ready_file, {
                "dev_json": self.info.get("dev_json"),
                "api_url": self.info.get("api_url"),
                "port": self.gateway.port if self.gateway else None,
                "aws_endpoint_url": self.aws_endpoint_url,
                "pid": os.getpid(),
            })

    # --- stop ------------------------------------------------------------------------------------

    def stop(self) -> None:
        started = time.monotonic()
        self.stop_event.set()
        for fn in self.functions:
            fn.stop_accepting()  # what runs finishes below; nothing new starts (a waiting invocation is refused)
        if self.gateway is not None:
            try:
                self.gateway.stop()
            except Exception:  # noqa: BLE001
                log.exception("stopping the gateway")
        for local in self.sandboxes.values():
            try:
                local.stop()
            except Exception:  # noqa: BLE001
                log.exception("stopping the %s sandbox", local.service.name)
        deadline = time.monotonic() + 5
        for thread in [*self.pollers, *([self.scheduler] if self.scheduler else [])]:
            if thread.is_alive():
                thread.join(max(0.1, deadline - time.monotonic()))
        if self.invoker is not None:
            self.invoker.join(max(0.1, deadline - time.monotonic()))
        deadline = time.monotonic() + 3
        for fn in self.functions:
            fn.stop_workers(deadline)
        if self.metrics is not None:
            self.metrics.close()
        if self.moto is not None:
            try:
                self.moto.stop()
            except Exception:  # noqa: BLE001
                log.exception("stopping moto")
        if self.options.ready_file:
            try:
                self.options.ready_file.unlink()
            except OSError:
                pass
        log.info("stopped in %.2f s", time.monotonic() - started)


# One lock for the counters: the pooled server counts from many threads, and usage() reads and zeroes them at once.
_counting = threading.Lock()
_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")


def _count(requests: Counter[tuple[str, str]], environ: dict[str, Any]) -> None:
    """One request more for its caller and operation; what AWS bills per item is counted too
    (``<operation> items``): a DynamoDB transaction's and batch's items, and PutEvents' entries. For DynamoDB also
    ``<operation> consistent`` (a strongly consistent read: a whole read unit), ``<operation> write units`` (1 a
    started KB of each item a request puts whole; 1 for an update, delete or condition check, whose item's size the
    request does not show) and ``<operation> written bytes`` (the put items' sizes, DynamoDB's way).

    The operation is the JSON protocols' ``X-Amz-Target``, the query protocols' (SES, SNS, STS)
    ``<service>.<Action>``, or the REST protocols' ``<service> <method> /<first path segment>`` (Scheduler:
    ``scheduler POST /schedules``), the service being the signature's."""
    credential = re.search(r"Credential=([^/,\s]+)/[^/]+/[^/]+/([^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
    caller, service = credential.groups() if credential else ("", "")
    operation = environ.get("HTTP_X_AMZ_TARGET")
    if not operation and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        action = urllib.parse.parse_qs(_body(environ).decode(errors="replace")).get("Action")
        operation = f"{service}.{action[0]}" if action else None
    if not operation:
        segment = (environ.get("PATH_INFO") or "/").lstrip("/").split("/", 1)[0]
        operation = f"{service} {environ.get('REQUEST_METHOD')} /{segment}".lstrip()
    extra: dict[str, int] = {}
    if operation.startswith("DynamoDB_"):
        try:
            extra = _dynamodb_parts(operation.rpartition(".")[2], json.loads(_body(environ) or b"{}"))
        except (ValueError, TypeError, AttributeError, KeyError):  # malformed: moto answers it, counted as a request
            extra = {}
    elif operation == "AWSEvents.PutEvents":
        extra["items"] = len(json.loads(_body(environ)).get("Entries", []))
    with _counting:
        requests[caller, operation] += 1
        for kind, count in extra.items():
            requests[caller, f"{operation} {kind}"] += count


def _dynamodb_parts(name: str, request: dict[str, Any]) -> dict[str, int]:
    """A DynamoDB request's billed parts (see _count)."""
    extra: dict[str, int] = {}
    if request.get("ConsistentRead"):
        extra["consistent"] = 1
    if name in ("TransactWriteItems", "TransactGetItems"):
        extra["items"] = len(request.get("TransactItems", []))
    elif name in ("BatchGetItem", "BatchWriteItem"):
        tables = request.get("RequestItems", {}).values()
        extra["items"] = sum(len(table["Keys"]) if isinstance(table, dict) else len(table) for table in tables)
    if name in _WRITES:
        puts = _put_items(name, request)
        sizes = [_item_bytes(item) for item in puts]
        extra["write units"] = sum(max(1, -(-size // 1024)) for size in sizes) + extra.get("items", 1) - len(puts)
        if sizes:
            extra["written bytes"] = sum(sizes)
    return extra


def _put_items(name: str, request: dict[str, Any]) -> list[dict[str, Any]]:
    """The items a DynamoDB write request puts whole."""
    if name == "PutItem":
        return [request.get("Item", {})]
    if name == "BatchWriteItem":
        return [entry["PutRequest"].get("Item", {}) for table in request.get("RequestItems", {}).values()
                for entry in table if "PutRequest" in entry]
    if name == "TransactWriteItems":
        return [entry["Put"]["Item"] for entry in request.get("TransactItems", []) if "Put" in entry]
    return []


def _item_bytes(item: dict[str, Any]) -> int:
    """An item's size as DynamoDB bills it: each attribute's name and value in bytes (numbers about 1 byte per 2
    digits plus 1, 1 for a boolean or null, 3 more for a list or map)."""
    return sum(len(name.encode()) + _value_bytes(value) for name, value in item.items())


def _value_bytes(value: dict[str, Any]) -> int:
    (kind, data), = value.items()
    if kind == "S":
        return len(data.encode())
    if kind == "N":
        return len(data.lstrip("-").replace(".", "")) // 2 + 1
    if kind == "B":
        return len(data) * 3 // 4  # base64 in the request
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(_value_bytes({kind[0]: element}) for element in data)
    if kind == "L":
        return 3 + sum(1 + _value_bytes(element) for element in data)
    return 3 + sum(1 + len(name.encode()) + _value_bytes(element) for name, element in data.items())  # M


def _body(environ: dict[str, Any]) -> bytes:
    """The request's body, left in place for moto."""
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    environ["wsgi.input"] = io.BytesIO(body)
    return body


# The services the stack's functions and the stack itself call, whose signed requests' app is kept (the
# signature's service name). Any other goes to moto's own dispatcher each time, as moto decides it.
CACHED_SERVICES = frozenset({"dynamodb", "sqs", "events", "scheduler", "kms", "sns", "ses", "secretsmanager", "logs",
                             "iam", "sts", "lambda", "ssm", "cloudwatch"})


class _MotoApplications:
    """moto's per-service apps, found once per kind of request for the services the stack uses.

    moto's ``DomainDispatcherApplication`` works out the service of every request again, under one lock,
    from its host, signature, target or body; for these services a signed request's credential scope (region
    and service), target prefix and API version path say the same every time, so its app is kept for them."""

    def __init__(self) -> None:
        from moto.server import DomainDispatcherApplication, create_backend_app

        self.dispatcher = DomainDispatcherApplication(create_backend_app)
        self._apps: dict[tuple[str, str, bool], Any] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        scope = re.search(r"Credential=[^/,\s]+/[^/]+/([^/]+/[^/]+)/", environ.get("HTTP_AUTHORIZATION", ""))
        path = environ.get("PATH_INFO", "")
        if scope is None or path.startswith(("/moto-api", "/latest/")) or scope.group(1).split("/")[1] not in CACHED_SERVICES:
            return self.dispatcher(environ, start_response)
        key = (scope.group(1), environ.get("HTTP_X_AMZ_TARGET", "").partition(".")[0], path.startswith("/v2/"))
        app = self._apps.get(key)
        if app is None:
            app = self._apps[key] = self.dispatcher.get_application(environ)
        return app(environ, start_response)


def atomic_moto_server(port: int, requests: Counter[tuple[str, str]]) -> MotoServer:
    """moto's app on a pooled keep-alive server, answering one DynamoDB request at a time.

    DynamoDB applies each request whole: a conditional write checks and writes atomically. moto's
    backend has no locks, and the function workers call it concurrently, so two conditional writes
    could both pass their check, or a read could see an item half-way through another's update.
    Other services stay concurrent: an SQS receive long-polls, and would hold up everything else."""
    apps = _MotoApplications()
    lock = threading.Lock()

    def one_dynamodb_request_at_a_time(environ: dict[str, Any], start_response: Any) -> Any:
        _count(requests, environ)
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
            return apps(environ, start_response)
        with lock:
            return list(apps(environ, start_response))

    return MotoServer(port, one_dynamodb_request_at_a_time)


class MotoServer:
    """A WSGI app (moto's) served on 127.0.0.1 by ``PooledHTTPServer``; what moto's ThreadedMotoServer offered
    (start, stop, host and port), without its thread and TCP connection per request."""

    def __init__(self, port: int, app: Any):
        self.app = app
        self.server = PooledHTTPServer(("127.0.0.1", port), self._handler_class(), threads=MOTO_THREADS, name="moto")
        self._thread = threading.Thread(target=self.server.serve_forever, name="moto", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def get_host_and_port(self) -> tuple[str, int]:
        host, port = self.server.server_address[:2]
        return host, port

    def _handler_class(self) -> type[KeptAliveHandler]:
        server = self

        class WsgiHandler(KeptAliveHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                log.debug("moto: " + format, *args)

            def _serve(self) -> None:
                body = self.read_body()
                if body is None:
                    return
                path, _, query = self.path.partition("?")
                environ: dict[str, Any] = {
                    "REQUEST_METHOD": self.command, "SCRIPT_NAME": "",
                    "PATH_INFO": urllib.parse.unquote(path, encoding="latin-1"), "QUERY_STRING": query,
                    "RAW_URI": self.path, "REQUEST_URI": self.path,
                    "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(server.server.server_address[1]),
                    "SERVER_PROTOCOL": self.request_version, "REMOTE_ADDR": self.client_address[0],
                    "CONTENT_TYPE": self.headers.get("Content-Type", ""), "CONTENT_LENGTH": str(len(body)),
                    "wsgi.version": (1, 0), "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
                    "wsgi.errors": sys.stderr, "wsgi.multithread": True, "wsgi.multiprocess": False,
                    "wsgi.run_once": False,
                }
                for name, value in self.headers.items():
                    key = "HTTP_" + name.upper().replace("-", "_")
                    if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                        environ[key] = f"{environ[key]},{value}" if key in environ else value
                answer: list[Any] = []
                try:
                    chunks = server.app(environ, lambda status, headers, exc_info=None: answer.extend((status, headers)))
                    try:
                        payload = b"".join(chunks)
                    finally:
                        if hasattr(chunks, "close"):
                            chunks.close()
                    status, headers = answer
                except Exception:  # noqa: BLE001 - as a WSGI server: a bare 500, which botocore retries
                    log.exception("moto failed on %s %s", self.command, path)
                    status, headers, payload = "500 Internal Server Error", [], b""
                lines = [f"{self.protocol_version} {status}"]
                lines += [f"{name}: {value}" for name, value in headers if name.lower() not in _HOP_BY_HOP]
                lines.append(f"Content-Length: {len(payload)}")
                head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
                # One write for the whole answer.
                self.wfile.write(head + (b"" if self.command == "HEAD" else payload))

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        return WsgiHandler


# Requests moto serves at once (its DynamoDB ones one at a time, an SQS long poll holding one while it
# waits); more wait for a thread of the pool.
MOTO_THREADS = 48
_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}


def _write_json(path: Path, data: dict[str, Any]) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    tmp.replace(path)


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


__all__ = ["LocalStack", "Options", "StartupError", "TemplateError", "REPO_ROOT"]
