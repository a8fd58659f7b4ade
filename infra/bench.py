"""Cold-start figures as Lambda sees them: each function's import plus its first invocation, from the built artifacts.

Every sample is a fresh python3.13 interpreter (the runtime's), isolated (`-I -S`: none of the venv's packages; `-B`: it writes no bytecode),
whose `sys.path` is the function's directory then the layer's `python/`, as `/var/task` and `/opt/python` are on
Lambda. Both are copies of `sam build`'s `.aws-sam/build/` made read-only, so nothing is compiled and kept between
samples: what the layer ships is what a cold start gets. A sample's wall time covers the interpreter's start, the
handler module's import and its first invocation with a representative event, against AWS served by moto: the
local stack (`infra/local`, template.yaml provisioned, the demo tenant seeded) is started once for the bench, its
pollers and scheduler stopped so that nothing else runs meanwhile.

The floor is the same interpreter running `import boto3; boto3.client('dynamodb')` with the layer's boto3: what any
Python function talking to AWS pays. Samples are interleaved (floor, f1, f2, ..., floor, f1, ...) so the machine's
noise hits all alike; the table gives each median and its ratio to the floor's, a function passing at 1.25 or less.
The same is then shown without bytecode (the artifacts' `__pycache__` removed) for the floor and one function.

    make bench
    .venv/bin/python -m infra.bench --runs 9 --functions booking_webhook,join
"""

import argparse
import contextlib
import copy
import hashlib
import hmac
import json
import logging
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3

from infra.local.gateway import build_event, match_route
from infra.local.lambdas import LocalFunction
from infra.local.sqs_poller import to_lambda_record
from infra.local.stack import LocalStack, Options

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / '.aws-sam' / 'build'
BUILT_LAYER = BUILD / 'SharedLayer' / 'python'
# The layer's native modules are Lambda's (arm64): on another machine the bench runs a twin of it, built by the same
# recipe (layers/shared/Makefile) for this machine's platform.
LAMBDA_MACHINES = ('aarch64', 'arm64')
TWIN_LAYER = ROOT / '.aws-sam' / 'bench' / f'SharedLayer-{platform.machine()}'
# What `sam build` reads: newer than its output means the artifacts are stale.
SOURCES = (ROOT / 'template.yaml', ROOT / 'functions', ROOT / 'layers' / 'shared')
RUNTIME = (3, 13)
TARGET_RATIO = 1.25
DEFAULT_RUNS = 7
# The function also measured without bytecode, beside the floor.
UNCOMPILED_FUNCTION = 'meetings'
FLOOR = 'floor'

# One sample: a fresh interpreter imports the handler and invokes it once, then writes what it answered (to a file:
# stdout is the function's log). argv: task dir, layer dir, event file, result file, timeout seconds.
SAMPLE = '''
import sys
task, layer, event_file, result_file, timeout = sys.argv[1:]
sys.path[:0] = [task, layer]
import json, time, uuid
with open(event_file) as f:
    event = json.load(f)
import handler


class Context:
    function_name = 'bench'
    function_version = '$LATEST'
    memory_limit_in_mb = 512
    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:bench'
    aws_request_id = str(uuid.uuid4())
    log_group_name = log_stream_name = ''
    identity = client_context = None
    deadline = time.monotonic() + int(timeout)

    def get_remaining_time_in_millis(self):
        return int((self.deadline - time.monotonic()) * 1000)


result = handler.lambda_handler(event, Context())
with open(result_file, 'w') as f:
    json.dump(result, f, default=str)
'''
FLOOR_SAMPLE = '''
import sys
sys.path[:0] = [sys.argv[2]]
import boto3
boto3.client('dynamodb')
'''


@dataclass
class Bench:
    """A function's sample: its artifacts' copies, its environment, and a new event for each sample."""

    name: str
    logical_id: str
    task: Path
    layer: Path
    environment: dict[str, str]
    timeout: int
    event: Callable[[], dict]
    # What its answer should say: a normal path that went wrong would measure something else.
    check: Callable[[object], str | None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--runs', type=int, default=DEFAULT_RUNS, help='fresh interpreters per function (median)')
    parser.add_argument('--functions', default='', help='comma-separated function directories (default: all)')
    args = parser.parse_args()
    if args.runs < DEFAULT_RUNS:
        parser.error(f'--runs must be at least {DEFAULT_RUNS}: a median of fewer cold starts on a shared machine is noise')
    if sys.version_info[:2] != RUNTIME:
        sys.exit(f'the bench runs the runtime\'s python3.13; this is {sys.version.split()[0]} ({sys.executable})')
    layer = ensure_built()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix='meetbridge-bench-') as scratch, read_only_copies(Path(scratch), layer) as dirs, \
            started_stack(Path(scratch) / 'state') as stack:
        benches = make_benches(stack, dirs, args.functions)
        warm_up(stack)
        floor_environment = benches[0].environment
        floor = Bench(FLOOR, FLOOR, dirs['task'] / 'none', dirs['layer'], floor_environment, 0, dict, _no_check)
        with_bytecode = measure([floor, *benches], args.runs)
        print(f'\nCold start = interpreter start + handler import + first invocation; median of {args.runs} fresh '
              f'python3.13 interpreters each, interleaved; floor: import boto3; boto3.client(\'dynamodb\')')
        print_table(with_bytecode, with_ratios=True)
        uncompiled = [b for b in benches if b.name == UNCOMPILED_FUNCTION]
        if uncompiled:
            bare = [_uncompiled(floor, dirs), _uncompiled(uncompiled[0], dirs)]
            without = measure(bare, args.runs)
            print('\nWithout bytecode (the same artifacts, __pycache__ removed: what each cold start compiles)')
            print_table(without, with_ratios=False, reference=with_bytecode)


# --- artifacts ------------------------------------------------------------------------------------------------------

def ensure_built() -> Path:
    """`make build` when an artifact is missing or older than a source it is built from; the layer's `python/`."""
    newest_source = max(path.stat().st_mtime for source in SOURCES
                        for path in ([source] if source.is_file() else source.rglob('*'))
                        if path.is_file() and '__pycache__' not in path.parts)
    if not _built_since(BUILD / 'template.yaml', newest_source) or not BUILT_LAYER.is_dir():
        print('the .aws-sam artifacts are missing or older than the sources: make build', flush=True)
        subprocess.run(['make', 'build'], cwd=ROOT, check=True)
    if platform.machine() in LAMBDA_MACHINES:
        return BUILT_LAYER
    if not _built_since(TWIN_LAYER / 'python', newest_source):
        print(f'building the layer for this {platform.machine()} machine in {TWIN_LAYER.relative_to(ROOT)}', flush=True)
        shutil.rmtree(TWIN_LAYER, ignore_errors=True)
        subprocess.run(['make', '--no-print-directory', '-C', 'layers/shared', 'build-SharedLayer',
                        f'ARTIFACTS_DIR={TWIN_LAYER}', f'PLATFORM=manylinux2014_{platform.machine()}',
                        f'PYTHON={sys.executable}', f'RUNTIME_PYTHON={sys.executable}'], cwd=ROOT, check=True)
    return TWIN_LAYER / 'python'


def _built_since(path: Path, moment: float) -> bool:
    return path.exists() and path.stat().st_mtime >= moment


@contextlib.contextmanager
def read_only_copies(scratch: Path, layer: Path) -> Iterator[dict[str, Path]]:
    """The artifacts copied read-only (as /opt and /var/task are), with bytecode and without."""
    dirs = {'task': scratch / 'task', 'layer': scratch / 'opt' / 'python',
            'bare_task': scratch / 'bare' / 'task', 'bare_layer': scratch / 'bare' / 'opt' / 'python'}
    for function_dir in BUILD.iterdir():
        if function_dir.name.endswith('Function'):
            shutil.copytree(function_dir, dirs['task'] / function_dir.name)
    shutil.copytree(layer, dirs['layer'])
    shutil.copytree(dirs['task'], dirs['bare_task'], ignore=shutil.ignore_patterns('__pycache__'))
    shutil.copytree(dirs['layer'], dirs['bare_layer'], ignore=shutil.ignore_patterns('__pycache__'))
    (dirs['task'] / 'none').mkdir()
    subprocess.run(['chmod', '-R', 'a-w', str(scratch / 'task'), str(scratch / 'opt'), str(scratch / 'bare')],
                   check=True)
    try:
        yield dirs
    finally:
        subprocess.run(['chmod', '-R', 'u+w', str(scratch)], check=True)


# --- the local AWS --------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def started_stack(state_dir: Path) -> Iterator[LocalStack]:
    """The local stack with the demo tenant, its consumers stopped: messages wait in their queues for the bench."""
    stack = LocalStack(Options(port=0, state_dir=state_dir, scheduler_jitter_seconds=0))
    try:
        stack.start()
        stack.stop_event.set()
        for thread in [*stack.pollers, stack.scheduler]:
            thread.join(30)
        yield stack
    finally:
        stack.stop()


def _function(stack: LocalStack, logical_id: str) -> LocalFunction:
    return next(fn for fn in stack.functions if fn.logical_id == logical_id)


def _http(stack: LocalStack, method: str, path: str, query: str = '', headers: dict[str, str] | None = None,
          body: bytes = b'') -> dict:
    route, params = match_route(stack.gateway.routes, method, path)
    return build_event(route=route, path_params=params, method=method, raw_path=path, raw_query=query,
                       headers=list({'host': 'bench.example.com', 'x-forwarded-proto': 'https',
                                     **(headers or {})}.items()),
                       body=body, source_ip='127.0.0.1', host='bench.example.com', request_id=str(uuid.uuid4()))


def _signed_booking(stack: LocalStack) -> dict:
    """A new generic booking, signed with the demo tenant's webhook secret (one a platform would send)."""
    tenant, suffix = stack.tenant, uuid.uuid4().hex[:12]
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    body = json.dumps({'event_id': f'evt-{suffix}', 'type': 'booking.created', 'booking': {
        'id': f'bk-{suffix}', 'service_id': tenant.service_id, 'provider_id': tenant.provider_id,
        'start': start.isoformat(), 'end': (start + timedelta(minutes=30)).isoformat(), 'timezone': 'Europe/Berlin',
        'session_id': None, 'payment': {'required': False, 'status': 'pending'},
        'client': {'id': f'cl-{suffix}', 'name': 'Chris Client', 'email': f'bench-{suffix}@example.com',
                   'timezone': 'Europe/London'}}}, separators=(',', ':'))
    stamp = str(int(time.time()))
    signature = hmac.new(tenant.webhook_secret.encode(), f'{stamp}.{body}'.encode(), hashlib.sha256).hexdigest()
    return _http(stack, 'POST', f'/webhooks/generic/{tenant.tenant_id}', body=body.encode(),
                 headers={'content-type': 'application/json', 'x-meetbridge-signature': f't={stamp},v1={signature}'})


def _queue_records(stack: LocalStack, logical_id: str) -> list[dict]:
    """What waits in the function's queues (its consumers are stopped), as Lambda would deliver it."""
    sqs, records = boto3.client('sqs'), []
    for event in _function(stack, logical_id).events:
        if event.type == 'SQS':
            arn = str(event.properties['Queue'])
            url = sqs.get_queue_url(QueueName=arn.rsplit(':', 1)[1])['QueueUrl']
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=['All'],
                                           MessageAttributeNames=['All']).get('Messages', [])
            records += [to_lambda_record(message, arn) for message in messages]
    return records


def _detail_typed(records: list[dict], detail_type: str) -> dict:
    found = [r for r in records if json.loads(r['body']).get('detail-type') == detail_type]
    if not found:
        sys.exit(f'the bench found no {detail_type} message to replay: the local stack did not publish one')
    return found[0]


# The warm-up's messages, by what the samples use them for.
REPLAYED: dict[str, dict] = {}


def warm_up(stack: LocalStack) -> None:
    """The messages the SQS functions' samples replay: a booking through the webhook and meetings functions (the local
    stack's own workers), whose events then wait in the notifications and callbacks queues."""
    if REPLAYED:
        return
    answer = _function(stack, 'BookingWebhookFunction').invoke(_signed_booking(stack))
    if answer.get('statusCode') != 202:
        sys.exit(f'the warm-up booking was not accepted: {answer}')
    booking = _detail_typed(_queue_records(stack, 'MeetingsFunction'), 'booking.created')
    REPLAYED['booking.created'] = booking
    failures = _function(stack, 'MeetingsFunction').invoke({'Records': [booking]}).get('batchItemFailures')
    if failures:
        sys.exit(f'the warm-up booking did not become a meeting: {failures}')
    REPLAYED['meeting.scheduled'] = _detail_typed(_queue_records(stack, 'NotificationsFunction'), 'meeting.scheduled')
    REPLAYED['callback'] = _detail_typed(_queue_records(stack, 'CallbacksFunction'), 'meeting.scheduled')



def _new_booking_batch() -> dict:
    """The warm-up's booking.created as a new booking (new event and booking ids): the meetings function's normal
    path, a meeting made, not an idempotent replay."""
    record = copy.deepcopy(REPLAYED['booking.created'])
    envelope, suffix = json.loads(record['body']), uuid.uuid4().hex[:12]
    envelope['detail']['event_id'] = f'evt-{suffix}'
    envelope['detail']['booking']['id'] = f'bk-{suffix}'
    record.update(messageId=str(uuid.uuid4()), body=json.dumps(envelope))
    return {'Records': [record]}


def _new_event_of(kind: str) -> Callable[[], dict]:
    """The warm-up's `kind` message as a new event (a new event id and message id): each sample is the function's
    normal path, a first delivery, never the duplicate path of an event it has already handled."""
    def new_event() -> dict:
        record = copy.deepcopy(REPLAYED[kind])
        envelope = json.loads(record['body'])
        envelope['detail']['event_id'] = f'evt-{uuid.uuid4().hex[:12]}'
        record.update(messageId=str(uuid.uuid4()), body=json.dumps(envelope))
        return {'Records': [record]}
    return new_event


# --- the samples ----------------------------------------------------------------------------------------------------

def _status(expected: int) -> Callable[[object], str | None]:
    def check(answer: object) -> str | None:
        status = answer.get('statusCode') if isinstance(answer, dict) else None
        return None if status == expected else f'answered {status}, expected {expected}'
    return check


def _no_failures(answer: object) -> str | None:
    failures = answer.get('batchItemFailures') if isinstance(answer, dict) else 'no batch answer'
    return f'failed records: {failures}' if failures else None


def _no_check(_answer: object) -> None:
    return None


def _events(stack: LocalStack) -> dict[str, tuple[str, Callable[[], dict], Callable[[object], str | None]]]:
    """Per function directory: its logical id, a new event for each sample, and what its answer must be.

    Each is the function's normal path, except: join (an unknown token: the page saying so; a known link needs a
    booking's sealed token), oauth (a start without a connect link's intent: the page refusing it, as a real start
    needs a provider's sign-in), auto_start (a start request for a meeting that is not there: the same reads as one
    that is, without a provider), alerts (a window's end with nothing kept). Notifications and callbacks get the
    warm-up's meeting.scheduled under a new event id each sample, so each composes and sends (or queues and posts)
    as for a first delivery."""
    tenant = stack.tenant
    now = datetime.now(UTC).isoformat()
    auth = {'authorization': f'Bearer {tenant.api_key}'}
    return {
        'booking_webhook': ('BookingWebhookFunction', lambda: _signed_booking(stack), _status(202)),
        'meetings': ('MeetingsFunction', _new_booking_batch, _no_failures),
        'notifications': ('NotificationsFunction', _new_event_of('meeting.scheduled'), _no_failures),
        'callbacks': ('CallbacksFunction', _new_event_of('callback'), _no_failures),
        'join': ('JoinFunction', lambda: _http(stack, 'GET', '/j/bench-unknown-token'), _status(404)),
        'admin': ('AdminFunction', lambda: _http(stack, 'GET', f'/v1/tenants/{tenant.tenant_id}/services',
                                                 query='limit=50', headers=auth), _status(200)),
        'oauth': ('OAuthFunction', lambda: _http(stack, 'GET', '/oauth/zoom/start'), _status(400)),
        'auto_start': ('AutoStartFunction', lambda: {'tenant_id': tenant.tenant_id, 'meeting_key': 'bench-none',
                                                     'start': now}, _no_check),
        'health': ('HealthFunction', lambda: {'detail-type': 'Scheduled Event', 'source': 'aws.scheduler',
                                              'time': datetime.now(UTC).isoformat(), 'detail': {}}, _no_check),
        'alerts': ('AlertsFunction', lambda: {'Records': [_sqs_record(
            {'detail-type': 'alerts.flush_due', 'detail': {'tenant_id': tenant.tenant_id, 'group': 'bench',
                                                           'window_until': now}})]}, _no_failures),
        'outbox_sweeper': ('OutboxSweeperFunction', lambda: {'detail-type': 'Scheduled Event', 'time': now,
                                                             'detail': {}}, _no_check),
    }


def _sqs_record(envelope: dict) -> dict:
    return {'messageId': str(uuid.uuid4()), 'receiptHandle': 'bench', 'body': json.dumps(envelope),
            'attributes': {'ApproximateReceiveCount': '1'}, 'messageAttributes': {}, 'eventSource': 'aws:sqs',
            'eventSourceARN': 'arn:aws:sqs:us-east-1:123456789012:bench', 'awsRegion': 'us-east-1'}


def make_benches(stack: LocalStack, dirs: dict[str, Path], names: str) -> list[Bench]:
    events = _events(stack)
    chosen = [name.strip() for name in names.split(',') if name.strip()] or list(events)
    unknown = sorted(set(chosen) - set(events))
    if unknown:
        sys.exit(f'unknown functions {unknown}; known: {", ".join(events)}')
    benches = []
    for name in chosen:
        logical_id, event, check = events[name]
        fn = _function(stack, logical_id)
        task = dirs['task'] / logical_id
        environment = {**fn.process_environment(), 'LAMBDA_TASK_ROOT': str(task)}
        benches.append(Bench(name, logical_id, task, dirs['layer'], environment, fn.timeout, event, check))
    return benches


def _uncompiled(bench: Bench, dirs: dict[str, Path]) -> Bench:
    task = dirs['bare_task'] / bench.logical_id if bench.name != FLOOR else bench.task
    return Bench(bench.name, bench.logical_id, task, dirs['bare_layer'],
                 {**bench.environment, 'LAMBDA_TASK_ROOT': str(task)}, bench.timeout, bench.event, bench.check)


def sample(bench: Bench, scratch: Path) -> tuple[float, str | None]:
    """One cold start's wall time in seconds, and what was wrong with its answer (None: its normal path)."""
    event_file, result_file = scratch / 'event.json', scratch / 'result.json'
    event_file.write_text(json.dumps(bench.event()))
    result_file.unlink(missing_ok=True)
    code = FLOOR_SAMPLE if bench.name == FLOOR else SAMPLE
    # -B as well as the read-only copies: root may write in a read-only directory, and a bytecode cache written by one
    # sample would serve the next.
    argv = [sys.executable, '-I', '-S', '-B', '-c', code, str(bench.task), str(bench.layer), str(event_file),
            str(result_file), str(bench.timeout)]
    started = time.perf_counter()
    done = subprocess.run(argv, env=bench.environment, cwd=bench.task, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f'{bench.name}: the sample failed ({done.returncode}):\n{done.stderr[-3000:]}')
    return seconds, None if bench.name == FLOOR else bench.check(json.loads(result_file.read_text()))


def measure(benches: list[Bench], runs: int) -> dict[str, tuple[float, list[str]]]:
    """Per bench, the median seconds and what went wrong in its samples' answers; the samples interleaved."""
    samples: dict[str, list[float]] = {bench.name: [] for bench in benches}
    problems: dict[str, list[str]] = {bench.name: [] for bench in benches}
    with tempfile.TemporaryDirectory(prefix='meetbridge-sample-') as scratch:
        for run in range(runs):
            for bench in benches:
                seconds, problem = sample(bench, Path(scratch))
                samples[bench.name].append(seconds)
                if problem:
                    problems[bench.name].append(problem)
            print(f'  run {run + 1}/{runs} done', file=sys.stderr, flush=True)
    return {name: (statistics.median(values), problems[name]) for name, values in samples.items()}


def print_table(measured: dict[str, tuple[float, list[str]]], *, with_ratios: bool,
                reference: dict[str, tuple[float, list[str]]] | None = None) -> None:
    """A sample whose answer was not its normal path's is counted in the last column (with the first such answer)."""
    floor = measured[FLOOR][0]
    header = f'{"function":<18}{"median ms":>10}{"× floor":>9}'
    print(header + (f'{"≤ " + str(TARGET_RATIO):>8}' if with_ratios else f'{"× with bytecode":>17}') + '  answers')
    for name, (seconds, problems) in measured.items():
        line = f'{name:<18}{seconds * 1000:>10.0f}{seconds / floor:>9.2f}'
        if with_ratios:
            line += f'{"" if name == FLOOR else "PASS" if seconds / floor <= TARGET_RATIO else "MISS":>8}'
        elif reference:
            line += f'{seconds / reference[name][0]:>17.2f}'
        answers = '' if name == FLOOR else f'{len(problems)} not normal: {problems[0]}' if problems else 'as expected'
        print(f'{line}  {answers}')


if __name__ == '__main__':
    os.environ.setdefault('AWS_DEFAULT_REGION', 'us-east-1')
    main()
