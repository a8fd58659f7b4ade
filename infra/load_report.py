"""The pure parts of `make load` (`infra/load.py`): the traffic plan, percentiles, the nothing-lost check, the
profile's categories, and what the counted AWS requests cost."""

import random
from collections import Counter
from dataclasses import dataclass, field

from infra import prices

# A half-hour zone (India), a 45-minute one (Nepal), one behind UTC with summer time, and the default.
ZONES = ('Europe/Berlin', 'America/New_York', 'Asia/Kolkata', 'Asia/Kathmandu', 'UTC')
# A reschedule or cancel is of a booking whose creation was sent at least this long before.
MIN_AGE_SECONDS = 2.0


@dataclass(frozen=True)
class Action:
    at: float  # seconds after the run's start
    kind: str  # create, reschedule, cancel or click
    booking: int  # the booking's number in the run
    version: int = 1  # the booking's version at its source (booking.version)
    session: int | None = None  # a class session's number in the run
    hours_ahead: int = 0  # the booking starts this many hours after the run's start (moved +1 h by a reschedule)
    timezone: str = 'UTC'  # the booking's and its client's


@dataclass(frozen=True)
class Mix:
    rate: float  # webhooks a second: new bookings, reschedules and cancels
    duration: float
    reschedule_share: float = 0.10
    cancel_share: float = 0.10
    click_share: float = 0.20  # a join-link click after this share of the webhooks
    class_every: float = 20.0  # a class burst every this many seconds
    class_size: int = 30  # bookings of one session within one second


def plan(mix: Mix, seed: int) -> list[Action]:
    """The run's actions by time: the same for the same mix and seed."""
    rng = random.Random(seed)
    actions: list[Action] = []
    created: list[tuple[float, int]] = []  # (sent at, number) of single bookings neither cancelled nor too new
    versions: dict[int, int] = {}
    hours: dict[int, int] = {}
    zones: dict[int, str] = {}
    bookings = 0
    for tick in range(int(mix.rate * mix.duration)):
        at = tick / mix.rate
        old_enough = [number for sent, number in created if sent <= at - MIN_AGE_SECONDS]
        draw = rng.random()
        if old_enough and draw < mix.reschedule_share + mix.cancel_share:
            number = rng.choice(old_enough)
            versions[number] += 1
            if draw < mix.reschedule_share:
                hours[number] += 1
                actions.append(Action(at, 'reschedule', number, versions[number], hours_ahead=hours[number],
                                      timezone=zones[number]))
            else:
                created.remove(next(entry for entry in created if entry[1] == number))
                actions.append(Action(at, 'cancel', number, versions[number], hours_ahead=hours[number],
                                      timezone=zones[number]))
        else:
            number, bookings = bookings, bookings + 1
            versions[number], hours[number], zones[number] = 1, rng.randint(2, 8), rng.choice(ZONES)
            created.append((at, number))
            actions.append(Action(at, 'create', number, hours_ahead=hours[number], timezone=zones[number]))
        if bookings and rng.random() < mix.click_share:
            actions.append(Action(at + 0.5 / mix.rate, 'click', rng.randrange(bookings)))
    session = 0
    burst_at = mix.class_every / 2
    while burst_at < mix.duration:
        ahead, zone = rng.randint(2, 8), rng.choice(ZONES)
        for seat in range(mix.class_size):
            actions.append(Action(burst_at + seat / mix.class_size, 'create', bookings, session=session,
                                  hours_ahead=ahead, timezone=zone))
            bookings += 1
        session += 1
        burst_at += mix.class_every
    return sorted(actions, key=lambda action: action.at)


def percentile(samples: list[float], share: float) -> float:
    """The nearest-rank percentile (share 0.99: p99): a value that was measured, never one between two."""
    if not samples:
        return float('nan')
    ordered = sorted(samples)
    rank = max(1, -(-len(ordered) * share // 1))  # ceil(n * share)
    return ordered[int(rank) - 1]


@dataclass(frozen=True)
class Expected:
    """What a booking of the run should end as: cancelled or not, and its meeting's key."""

    cancelled: bool
    meeting_key: str


@dataclass
class Verdict:
    outcomes: Counter = field(default_factory=Counter)  # meeting, cancelled, problem, dead letter, lost
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


WAITING_PROBLEM = 'waiting for its meeting to be made'  # meetbridge.logic.waiting.RECEIVED: not an outcome yet


def check(expected: dict[str, Expected], found: dict[str, dict | None], created_emails: Counter,
          dead_letters: set[str]) -> Verdict:
    """Every booking ended in a meeting (or its cancellation), a recorded problem, or a dead letter, and nothing
    was duplicated: one meeting of the expected key, one creation email to the client at most (exactly one for
    a booking with a meeting).

    ``found``: the booking API's answer per booking id (None: 404); ``created_emails``: the client's creation
    emails per booking id; ``dead_letters``: booking ids named by a message in a dead-letter queue."""
    verdict = Verdict()
    for booking_id, wanted in sorted(expected.items()):
        answer = found.get(booking_id)
        booking = (answer or {}).get('booking') or {}
        meeting = (answer or {}).get('meeting')
        emails = created_emails.get(booking_id, 0)
        if emails > 1:
            verdict.failures.append(f'{booking_id}: {emails} creation emails')
        if meeting and meeting.get('key') != wanted.meeting_key:
            verdict.failures.append(f'{booking_id}: meeting {meeting.get("key")}, expected {wanted.meeting_key}')
        problem = booking.get('problem')
        if wanted.cancelled and booking.get('status') == 'cancelled':
            verdict.outcomes['cancelled'] += 1
        elif not wanted.cancelled and booking.get('status') == 'active' and meeting:
            verdict.outcomes['meeting'] += 1
            if emails != 1:
                verdict.failures.append(f'{booking_id}: a meeting and {emails} creation emails')
        elif problem and problem != WAITING_PROBLEM and not wanted.cancelled:
            verdict.outcomes['problem'] += 1
        elif booking_id in dead_letters:
            verdict.outcomes['dead letter'] += 1
        else:
            verdict.outcomes['lost'] += 1
            state = 'not found' if answer is None else f'status {booking.get("status")}, problem {problem!r}'
            verdict.failures.append(f'{booking_id}: lost ({state}{", cancel not applied" if wanted.cancelled else ""})')
    return verdict


# What the profile's own time is spent in, by the file of the innermost frame (first match wins). py-spy names
# files relative to their sys.path entry (``moto/core/responses.py``).
CATEGORIES = (
    ('moto', ('moto/',)),
    ('werkzeug', ('werkzeug/', 'socketserver.py', 'http/server.py')),
    ('botocore', ('botocore/', 'boto3/', 'urllib3/', 's3transfer/')),
    ('jinja2/pydantic/powertools', ('jinja2/', 'pydantic/', 'pydantic_core/', 'aws_lambda_powertools/', 'pynamodb/',
                                    'markupsafe/')),
    ('meetbridge', ('meetbridge/', 'functions/')),
    ('local stack (infra/local)', ('infra/local/',)),
)


# Leaf functions that wait rather than run (py-spy's --nonblocking sampling cannot tell an idle thread from a busy
# one): a blocking call's Python caller, or the call itself.
WAITING = ('select', 'poll', 'readinto', 'recv', 'recv_into', 'accept', 'wait', 'sleep', 'acquire', '_exit_with_parent')
IDLE = 'waiting (idle threads)'


def category(frame: str) -> str:
    function, _, where = frame.rpartition(' (')
    if function.rsplit('.', 1)[-1] in WAITING:
        return IDLE
    where = '/' + where
    return next((name for name, marks in CATEGORIES if any('/' + mark in where for mark in marks)), 'other')


def own_time(collapsed: list[str]) -> tuple[Counter, Counter]:
    """py-spy's raw (collapsed) stacks, ``frame;frame;...;leaf count`` a line: samples by category and by leaf
    frame of their innermost frame. A stack of processes only (``process <pid>:"<command>"``, no Python frame)
    is left out."""
    by_category: Counter = Counter()
    by_frame: Counter = Counter()
    for line in collapsed:
        stack, _, count = line.rstrip().rpartition(' ')
        leaf = stack.rsplit(';', 1)[-1]
        if not stack or not count.isdigit() or leaf.startswith('process '):
            continue
        by_category[category(leaf)] += int(count)
        by_frame[leaf] += int(count)
    return by_category, by_frame


# Operations that stand for AWS's own work around the functions, not a request the account pays for: the local
# stack's event source mappings poll SQS (billed), its scheduler reads schedules (not billed); the load
# generator's own queue checks are not the system's.
_UNBILLED_STACK_SQS = ('GetQueueAttributes', 'GetQueueUrl', 'ListQueues')


def billed_units(usage: dict) -> dict[str, float]:
    """What AWS bills for the counted usage (`GET /_local/usage`): units per price of `infra/prices.py`."""
    units: Counter = Counter()
    for caller, operations in usage['aws_requests'].items():
        for operation, count in operations.items():
            name = operation.rsplit('.', 1)[-1]
            if operation.startswith('DynamoDB_'):
                units['dynamodb_read_units'] += count * prices.READ_UNITS.get(name, 0)
                units['dynamodb_write_units'] += count * prices.WRITE_UNITS.get(name, 0)
            elif operation.startswith('AmazonSQS.') and not name.endswith(' items'):
                if caller != 'stack' or name not in _UNBILLED_STACK_SQS:
                    units['sqs_requests'] += count
            elif operation == 'AWSEvents.PutEvents items':
                units['put_events'] += count
            elif operation.startswith('TrentService.'):
                units['kms_requests'] += count
            elif operation.startswith('secretsmanager.') and caller != 'stack':
                units['secrets_manager_requests'] += count
            elif operation == 'scheduler POST /schedules':
                units['scheduler_invocations'] += count  # a one-time schedule fires once: its invocation, later
    for function in usage['functions'].values():
        units['lambda_requests'] += function['invocations']
        units['lambda_gb_seconds'] += (function['billed_ms'] + function['init_ms']) / 1000 * function['memory_mb'] / 1024
    return dict(units)


PRICES = {
    'lambda_requests': prices.LAMBDA_REQUEST,
    'lambda_gb_seconds': prices.LAMBDA_ARM_GB_SECOND,
    'dynamodb_read_units': prices.DYNAMODB_READ_UNIT,
    'dynamodb_write_units': prices.DYNAMODB_WRITE_UNIT,
    'sqs_requests': prices.SQS_REQUEST,
    'put_events': prices.PUT_EVENT,
    'scheduler_invocations': prices.SCHEDULER_INVOCATION,
    'kms_requests': prices.KMS_REQUEST,
    'secrets_manager_requests': prices.SECRETS_MANAGER_REQUEST,
}


def cost_per_1000(units: dict[str, float], bookings: int) -> dict[str, float]:
    """Dollars per 1,000 bookings for each billed unit (email apart: `prices.SES_EMAIL`)."""
    return {name: units.get(name, 0) * price / max(bookings, 1) * 1000 for name, price in PRICES.items()}
