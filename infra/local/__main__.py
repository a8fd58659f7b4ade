"""``python -m infra.local``: the whole stack on this machine (what ``make dev`` runs)."""

import time

_STARTED = time.monotonic()

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from .lambdas import DEFAULT_MAX_WORKERS
    from .sandboxes import SANDBOXED_SERVICES
    from .stack import REPO_ROOT

    parser = argparse.ArgumentParser(
        prog="python -m infra.local",
        description="Run meetbridge locally: moto's AWS in-process, the HTTP API, queues and schedules "
        "from template.yaml. No Docker, no AWS account, no internet.",
    )
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "3000")),
                        help="HTTP API port (env PORT, default 3000; 0 picks a free port)")
    parser.add_argument("--aws-port", type=int, default=0, help="moto server port (default 0: a free port)")
    parser.add_argument("--state-dir", type=Path, default=Path(".meetbridge"),
                        help="where dev.json and post-booking.sh are written (default .meetbridge)")
    parser.add_argument("--ready-file", type=Path, help="write this JSON file (dev.json path, port) once ready")
    parser.add_argument("--template", type=Path, default=REPO_ROOT / "template.yaml", help=argparse.SUPPRESS)
    parser.add_argument("--no-seed", action="store_true", help="do not create the demo tenant")
    parser.add_argument("--parameter", action="append", default=[], metavar="KEY=VALUE",
                        help="override a template parameter's Default")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="set a variable for every function after the template's (e.g. POWERTOOLS_LOG_LEVEL=DEBUG)")
    parser.add_argument("--async-retry-delay", type=float, default=1.0,
                        help="first delay between async invocation retries, doubling (Lambda: 60 s; default 1)")
    for service in SANDBOXED_SERVICES:
        parser.add_argument(service.port_option, dest=f"{service.key}_port", type=int,
                            default=int(os.environ.get(service.port_variable, "0")),
                            help=f"{service.name} sandbox port (env {service.port_variable}, default 0: a free port)")
    parser.add_argument("--max-workers", type=int, default=DEFAULT_MAX_WORKERS,
                        help=f"worker processes per function at most, below its ReservedConcurrentExecutions "
                        f"(default {DEFAULT_MAX_WORKERS})")
    parser.add_argument("--scheduler-jitter-seconds", type=float, default=60.0,
                        help="a one-time schedule fires at a random moment up to this long after its time, "
                        "as EventBridge Scheduler does within the minute (default 60; 0 fires it on time)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging of the local stack")
    return parser.parse_args(argv)


def banner(info: dict, elapsed: float) -> str:
    from .sandboxes import BOOKING_PLATFORMS
    from .seed import DemoTenant, booking_snippet, connect_link_command, own_account_command

    lines = [
        "",
        "meetbridge is running locally",
        f"  API             {info['api_url']}",
        f"  local AWS       {info['aws_endpoint_url']}  (moto; AWS_ENDPOINT_URL for the aws CLI / boto3)",
        f"  outbox          {info['outbox_url']}",
        f"  metrics         {info['metrics_file']}  (the functions' embedded metrics, one JSON blob a line)",
    ]
    if info.get("zoom_sandbox_url"):
        lines.append(f"  Zoom sandbox    {info['zoom_sandbox_url']}  (a local Zoom: OAuth, REST, webhooks; "
                     f"webhook secret token {info['zoom_webhook_secret']})")
    if info.get("microsoft_sandbox_url"):
        lines.append(f"  Microsoft       {info['microsoft_sandbox_url']}  (the Microsoft sandbox: Entra ID sign-in "
                     "and Graph online meetings)")
    if info.get("google_sandbox_url"):
        lines.append(f"  Google          {info['google_sandbox_url']}  (the Google sandbox: Google sign-in and "
                     "Calendar events with Meet links)")
    for platform in BOOKING_PLATFORMS:
        if info.get(f"{platform.key}_sandbox_url"):
            lines.append(f"  {platform.name:<16}{info[f'{platform.key}_sandbox_url']}  (the {platform.name} sandbox: "
                         f"{platform.summary})")
    if info.get("tenant_id"):
        tenant = DemoTenant(info["tenant_id"], "", info["api_key"], info["webhook_secret"],
                            info["service_id"], info["provider_id"])
        lines += [
            f"  tenant id       {info['tenant_id']}",
            f"  API key         {info['api_key']}",
            f"  webhook secret  {info['webhook_secret']}",
            f"  service         {info['service_id']} (online)   provider {info['provider_id']}   account: custom link",
            f"  state           {info['dev_json']}",
            "",
            "The demo tenant's webhook URL per booking source (a platform's source is configured first: "
            f"PUT /v1/tenants/{info['tenant_id']}/sources/{{source}}):",
            *(f"  {source:<11}{url}" for source, url in info["webhook_urls"].items()),
            "",
            f"Post a signed demo booking starting in 2 minutes (or run {info['booking_script']}):",
            "",
            booking_snippet(info["api_url"], tenant),
        ]
        if info.get("zoom_connect_url"):
            lines += [
                f"Connect Zoom (company account): open {info['zoom_connect_url']} in a browser — "
                "the sandbox's consent page has Allow/Deny.",
                "  Allow replaces the demo custom link as the company account: bookings posted after that get a "
                "Zoom meeting",
                f"  (in the sandbox), unless their provider has an account of their own. Post one: bash "
                f"{info['booking_script']}",
                "  The link works once, for 15 minutes. A new one:",
                f"  {connect_link_command(info['api_url'], tenant, 'zoom', None)}",
                "",
            ]
        provider = info.get("microsoft_connect_provider_id")
        if info.get("microsoft_connect_url") and provider:
            lines += [
                f"Connect Microsoft Teams ({provider}'s own account): open {info['microsoft_connect_url']} in a "
                "browser — the sandbox's consent page has Accept/Cancel.",
                "  Pick a work account (Olive Owner is preselected); the sandbox's personal account and its user "
                "without a Teams licence are refused.",
                f"  Accept makes that Teams account {provider}'s own. The provider's own account wins for their "
                "bookings: after that,",
                f"  {provider}'s bookings get a Teams meeting (in the sandbox) even with Zoom connected as the "
                "company account.",
                f"  To go back to the company account for {provider}:",
                f"  {own_account_command(info['api_url'], tenant, 'DELETE', provider)}",
                "  The link works once, for 15 minutes. A new one:",
                f"  {connect_link_command(info['api_url'], tenant, 'microsoft', provider)}",
                "",
            ]
        provider = info.get("google_connect_provider_id")
        if info.get("google_connect_url") and provider:
            lines += [
                f"Connect Google Meet ({provider}'s own account): open {info['google_connect_url']} in a "
                "browser — the sandbox's consent page has Allow/Cancel.",
                "  Pick a user; Allow without the calendar permission ticked ends on a page saying it is needed.",
                f"  Allow makes that Google account {provider}'s own: bookings with \"provider_id\": "
                f"\"{provider}\" get a Calendar event",
                "  with a Meet link (in the sandbox); the company's account and prov-demo's are left as they were.",
                f"  To disconnect it: {own_account_command(info['api_url'], tenant, 'DELETE', provider)}",
                "  The link works once, for 15 minutes. A new one:",
                f"  {connect_link_command(info['api_url'], tenant, 'google', provider)}",
                "",
            ]
    else:
        lines += [f"  state           {info['dev_json']}", "  (no demo tenant: --no-seed)"]
    lines += [f"Ready in {elapsed:.2f} s. Ctrl-C stops everything.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # moto, the gateway and the pollers share this process's GIL, and most of their threads wait on sockets:
    # a thread whose read returned gets the GIL back within 0.5 ms rather than CPython's default 5 ms.
    sys.setswitchinterval(0.0005)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s.%(msecs)03d %(levelname)-5s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stderr,
    )
    # httpx2 logs every request at INFO; Lambda's root logger (WARNING) hides those lines, so do the same.
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3", "pynamodb", "httpx2", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from .sandboxes import SANDBOXED_SERVICES
    from .stack import LocalStack, Options, StartupError
    from .template import TemplateError

    stack = LocalStack(Options(
        template=args.template,
        port=args.port,
        aws_port=args.aws_port,
        state_dir=args.state_dir,
        ready_file=args.ready_file,
        seed=not args.no_seed,
        parameters=_pairs(args.parameter, "--parameter"),
        env=_pairs(args.env, "--env"),
        async_retry_delay=args.async_retry_delay,
        sandbox_ports={service.key: getattr(args, f"{service.key}_port") for service in SANDBOXED_SERVICES},
        max_workers=args.max_workers,
        scheduler_jitter_seconds=args.scheduler_jitter_seconds,
    ))

    def on_term(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    # Explicitly, because a shell starting us in the background may have left SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        try:
            info = stack.start()
        except (StartupError, TemplateError, OSError) as exc:
            logging.getLogger("infra.local").error("cannot start: %s", exc)
            return 1
        print(banner(info, time.monotonic() - _STARTED), flush=True)
        stack.write_ready_file()
        while not stack.stop_event.wait(1):
            pass
    except KeyboardInterrupt:
        print("\nstopping...", file=sys.stderr, flush=True)
    finally:
        # A second Ctrl-C while stopping ends the process at once.
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        stack.stop()
    return 0


if __name__ == "__main__":
    code = main()
    # Everything is stopped and nothing persists: skip the interpreter's teardown of moto's and
    # botocore's object graphs, which takes seconds.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
