"""A probe of the local stack's throughput: signed generic bookings posted open-loop, followed to their email.

    .venv/bin/python -m infra.bench_stack --rate 20 --seconds 60 [--profile out.svg] [--stack-arg=--max-workers=3]

Starts ``python -m infra.local`` as a subprocess (its CPU apart from this generator's), posts ``rate``
``booking.created`` webhooks a second for ``seconds`` at fixed moments (open loop: a slow answer does not
slow the sending), each with a client email of its own, then waits (at most ``--drain`` s) for every
client email in ``GET /_local/outbox``. Prints bookings/s completed, p50/p99 of the webhook's answer and
of webhook-to-email, and the errors by kind. A 429 is retried after its Retry-After, as a platform would.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import datetime as dt
import hashlib
import hmac
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path


def post_booking(info: dict, n: int, run: str) -> tuple[int, float, float]:
    """Posts booking ``n``; returns (final status, answer seconds of the accepted attempt, when it was sent)."""
    start = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2, minutes=n)
    body = json.dumps({
        "event_id": f"evt-{run}-{n}", "type": "booking.created",
        "booking": {"id": f"bk-{run}-{n}", "service_id": info["service_id"], "provider_id": info["provider_id"],
                    "start": start.isoformat(timespec="seconds"),
                    "end": (start + dt.timedelta(minutes=30)).isoformat(timespec="seconds"),
                    "timezone": "Europe/Berlin", "session_id": None,
                    "payment": {"required": False, "status": "pending"},
                    "client": {"id": f"cl-{run}-{n}", "name": "Load Client", "email": f"bench-{run}-{n}@example.com",
                               "timezone": "Europe/London"}}}).encode()
    while True:
        stamp = str(int(time.time()))
        signature = hmac.new(info["webhook_secret"].encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
        request = urllib.request.Request(
            f"{info['api_url']}/webhooks/generic/{info['tenant_id']}", data=body, method="POST",
            headers={"Content-Type": "application/json", "X-Meetbridge-Signature": f"t={stamp},v1={signature}"})
        sent = time.time()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, time.time() - sent, sent
        except urllib.error.HTTPError as exc:
            if exc.code != 429:
                return exc.code, time.time() - sent, sent
            REFUSED.append(n)
            time.sleep(float(exc.headers.get("Retry-After") or 1))
        except OSError:
            return 0, time.time() - sent, sent


REFUSED: list[int] = []


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else (values[0] if values else float("nan"))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.bench_stack")
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--drain", type=float, default=60, help="seconds to wait for the emails after sending")
    parser.add_argument("--profile", help="py-spy record --subprocesses of the stack into this SVG")
    parser.add_argument("--stack-arg", action="append", default=[], help="an option for python -m infra.local")
    args = parser.parse_args()

    state = Path(tempfile.mkdtemp(prefix="bench-stack-"))
    ready = state / "ready.json"
    stack = subprocess.Popen(
        [sys.executable, "-m", "infra.local", "--port", "0", "--ready-file", str(ready), "--state-dir", str(state),
         "--scheduler-jitter-seconds", "0", *args.stack_arg],
        stdout=subprocess.DEVNULL, stderr=open(state / "stack.log", "wb"))  # noqa: SIM115
    spy = None
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            if stack.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"the stack did not start; see {state / 'stack.log'}")
            time.sleep(0.2)
        info = json.loads(Path(json.loads(ready.read_text())["dev_json"]).read_text())
        if args.profile:
            spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--subprocesses", "--nonblocking", "-r", "50",
                                    "-o", args.profile, "--pid", str(stack.pid)], stdout=subprocess.DEVNULL)
        cpu_before = _cpu_seconds(stack.pid)
        run = uuid.uuid4().hex[:8]
        total = int(args.rate * args.seconds)
        began = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(max_workers=256) as pool:
            futures = []
            for n in range(total):
                time.sleep(max(0.0, began + n / args.rate - time.monotonic()))
                futures.append(pool.submit(post_booking, info, n, run))
            results = [f.result() for f in futures]
        sent_at = {n: sent for n, (status, _, sent) in enumerate(results) if status == 202}
        emails: dict[int, float] = {}
        until = time.monotonic() + args.drain
        while len(emails) < len(sent_at) and time.monotonic() < until:
            time.sleep(1)
            with urllib.request.urlopen(f"{info['api_url']}/_local/outbox?channel=email&to=bench-{run}-") as response:
                for entry in json.loads(response.read()):
                    for to in entry["to"]:
                        n = int(to.split("@")[0].rsplit("-", 1)[1])
                        emails.setdefault(n, dt.datetime.fromisoformat(entry["sent_at"]).timestamp())
        elapsed = max(emails.values(), default=time.time()) - min(sent_at.values(), default=time.time())
        cpu_after = _cpu_seconds(stack.pid)
        own_cpu, workers_cpu = (after - before for after, before in zip(cpu_after, cpu_before, strict=True))
    finally:
        if spy is not None:
            spy.send_signal(2)
            spy.wait(60)
        stack.terminate()
        stack.wait(30)
    answers = [answer for status, answer, _ in results if status == 202]
    latencies = [emails[n] - sent_at[n] for n in emails if n in sent_at]
    statuses = collections.Counter(status for status, _, _ in results)
    print(f"posted {total} at {args.rate:g}/s for {args.seconds:g} s; statuses {dict(statuses)}; "
          f"429s retried {len(REFUSED)}")
    print(f"emails {len(emails)}/{len(sent_at)}; completed {len(emails) / elapsed:.1f} bookings/s")
    print(f"webhook answer  p50 {percentile(answers, 50) * 1000:.0f} ms  p99 {percentile(answers, 99) * 1000:.0f} ms")
    print(f"webhook->email  p50 {percentile(latencies, 50):.2f} s  p99 {percentile(latencies, 99):.2f} s")
    print(f"CPU in {elapsed:.1f} s: the stack's process {own_cpu:.1f} s ({own_cpu / elapsed:.2f} cores), "
          f"its workers {workers_cpu:.1f} s ({workers_cpu / elapsed:.2f} cores)")
    print(f"stack log: {state / 'stack.log'}")
    return 0 if len(emails) == len(sent_at) == total else 1


def _cpu_seconds(pid: int) -> tuple[float, float]:
    """User+system CPU of the process, and of its live children (its workers), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    own = children = 0.0
    for path in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = path.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if path.parent.name == str(pid):
            own += (int(fields[11]) + int(fields[12])) / ticks
        elif int(fields[1]) == pid:
            children += (int(fields[11]) + int(fields[12])) / ticks
    return own, children


if __name__ == "__main__":
    sys.exit(main())
