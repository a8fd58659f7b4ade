"""The pure parts of `make load` (`infra/load.py`): the traffic plan, percentiles, the nothing-lost check, the
profile's categories, and what the counted AWS requests cost."""

import json
import random
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

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


# CI's preset (`--smoke`): 3/s for 4 s and a class of 5; its seed plans at least one reschedule and one cancel.
SMOKE = Mix(rate=3.0, duration=4.0, class_every=4.0, class_size=5)
SMOKE_SEED = 17


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


def booking_id(run: str, number: int) -> str:
    return f'bk-{run}-{number}'


def event_id(run: str, action: Action) -> str:
    return f'evt-{run}-{action.booking}-{action.version}-{action.kind}'


def booking_start(started: datetime, action: Action) -> datetime:
    """When the action's booking starts: ``hours_ahead`` after the run's start, on the minute."""
    return (started + timedelta(hours=action.hours_ahead)).replace(second=0, microsecond=0)


@dataclass(frozen=True)
class Expected:
    """What a booking of the run should end as."""

    meeting_key: str
    start: datetime  # of its last accepted creation or reschedule
    cancelled: bool = False
    not_accepted: str | None = None  # its first webhook never answered 2xx, and its final answer


ACCEPTED = 'accepted'
# What the local stack counts besides the requests themselves (`infra/local/stack.py` `_count`).
COUNTED_PARTS = (' items', ' consistent', ' write units', ' written bytes')


def expect(actions: list[Action], run: str, answers: dict[str, str], started: datetime) -> dict[str, Expected]:
    """Every booking the plan creates, with what its accepted webhooks make of it. ``answers``: each webhook's
    final answer by event id (``ACCEPTED``, or an error kind: a 4xx, giving up after timeouts; none: not sent)."""
    expected: dict[str, Expected] = {}
    for action in actions:
        if action.kind == 'click':
            continue
        number = booking_id(run, action.booking)
        answer = answers.get(event_id(run, action), 'not sent')
        refused = None if answer == ACCEPTED else f'{action.kind} v{action.version}: {answer}'
        if action.kind == 'create':
            key = f'session:class-{run}-{action.session}' if action.session is not None else f'booking:{number}'
            expected[number] = Expected(key, booking_start(started, action), not_accepted=refused)
        elif refused:
            expected[number] = replace(expected[number], not_accepted=expected[number].not_accepted or refused)
        elif action.kind == 'reschedule':
            expected[number] = replace(expected[number], start=booking_start(started, action))
        else:
            expected[number] = replace(expected[number], cancelled=True)
    return expected


@dataclass
class Verdict:
    outcomes: Counter = field(default_factory=Counter)  # meeting, cancelled, problem, dead letter, not accepted, lost
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


WAITING_PROBLEM = 'waiting for its meeting to be made'  # meetbridge.logic.waiting.RECEIVED: not an outcome yet


def check(expected: dict[str, Expected], found: dict[str, dict | None], created_emails: dict[str, list[str]],
          dead_letters: set[str], *, strict: bool = False) -> Verdict:
    """Every planned booking was accepted and ended in a meeting at the expected start (or its cancellation), a
    recorded problem, or a dead letter, and nothing was duplicated: one meeting of the expected key, one creation
    email to the client at most (exactly one, holding the booking's own join link, for a booking with a meeting).
    ``strict`` (the smoke's demo tenant, where every booking gets a meeting): only a meeting or a cancellation.

    ``found``: the booking API's answer per booking id (None: 404); ``created_emails``: the texts of the client's
    creation emails per booking id; ``dead_letters``: booking ids each named by a message in a dead-letter queue."""
    verdict = Verdict()
    if not expected:
        verdict.failures.append('no booking was planned: nothing to check')
    for number, wanted in sorted(expected.items()):
        answer = found.get(number)
        booking = (answer or {}).get('booking') or {}
        meeting = (answer or {}).get('meeting')
        emails = created_emails.get(number, [])
        if len(emails) > 1:
            verdict.failures.append(f'{number}: {len(emails)} creation emails')
        if meeting and meeting.get('key') != wanted.meeting_key:
            verdict.failures.append(f'{number}: meeting {meeting.get("key")}, expected {wanted.meeting_key}')
        if wanted.not_accepted:  # processed or not, it is a failure; what it made is checked above for duplicates
            verdict.outcomes['not accepted'] += 1
            verdict.failures.append(f'{number}: never accepted ({wanted.not_accepted})')
            continue
        # A cancelled booking's time is moot: a reschedule that arrives after its cancel is ignored, as it should be.
        if not wanted.cancelled and booking.get('start') and _instant(booking['start']) != wanted.start:
            verdict.failures.append(f'{number}: starts {booking["start"]}, expected {wanted.start:%Y-%m-%dT%H:%M:%SZ}')
        problem = booking.get('problem')
        if wanted.cancelled and booking.get('status') == 'cancelled':
            outcome = 'cancelled'
        elif not wanted.cancelled and booking.get('status') == 'active' and meeting:
            outcome = 'meeting'
            links = list(((answer or {}).get('links') or {}).get('clients', {}).values())
            if len(emails) != 1:
                verdict.failures.append(f'{number}: a meeting and {len(emails)} creation emails')
            elif not links or not any(link in emails[0] for link in links):
                verdict.failures.append(f'{number}: its client email lacks its join link')
        elif problem and problem != WAITING_PROBLEM and not wanted.cancelled:
            outcome = 'problem'
        elif number in dead_letters:
            outcome = 'dead letter'
        else:
            outcome = 'lost'
            state = 'not found' if answer is None else f'status {booking.get("status")}, problem {problem!r}'
            verdict.failures.append(f'{number}: lost ({state}{", cancel not applied" if wanted.cancelled else ""})')
        verdict.outcomes[outcome] += 1
        if strict and outcome in ('problem', 'dead letter'):
            verdict.failures.append(f'{number}: {outcome} ({problem or "in a dead-letter queue"}); the smoke wants '
                                    'a meeting or a cancellation')
    return verdict


def _instant(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace('Z', '+00:00'))


def dead_letter_booking(body: str, run: str) -> str | None:
    """The one booking of the run a dead-letter message is about, by its fields (an EventBridge event's
    ``detail``, a scheduler's or a function's payload): ``booking_id``, or ``booking.id``; None when it names none
    of this run's bookings."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    for part in (message, message.get('detail') if isinstance(message, dict) else None):
        if not isinstance(part, dict):
            continue
        booking = part.get('booking')
        named = part.get('booking_id') or (booking.get('id') if isinstance(booking, dict) else None)
        if isinstance(named, str) and named.startswith(f'bk-{run}-'):
            return named
    return None


def end_to_end_rate(completed: int, first_due: float | None, last_email: float | None) -> float:
    """Bookings a second end to end: completed bookings over the time from the first webhook due to the last
    client email."""
    if not completed or first_due is None or last_email is None or last_email <= first_due:
        return float('nan')
    return completed / (last_email - first_due)


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


# What an SQS event source mapping bills (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html): Lambda
# long-polls each queue with 5 pollers at first, a poll returning after at most 20 s when the queue is empty. So a
# mapping's receives are those that returned messages plus 5 empty long polls per 20 s per queue for the run's
# duration, not the local stack's own 1 s polls; its deletes are counted as made.
MAPPING_POLLERS = 5
LONG_POLL_SECONDS = 20
# The stack's own calls that stand for no billed request: its mappings' receives (billed by the rule above), its
# scheduler's reads of schedules, the load generator's queue checks.
_UNBILLED_STACK_SQS = ('ReceiveMessage', 'GetQueueAttributes', 'GetQueueUrl', 'ListQueues')
# Reads of at most 4 KB (the written items are measured, `written bytes`): a strongly consistent read or query
# page is 1 RRU, an eventually consistent one 1/2; a transaction's item 2 units; a batch's item 1/2 (eventually).
_READS = ('GetItem', 'Query', 'Scan')


def billed_units(usage: dict, seconds: float) -> dict[str, float]:
    """What AWS bills for the counted usage (`GET /_local/usage`) of a run of ``seconds``: units per price of
    `infra/prices.py`, SMS apart (`sms_messages`)."""
    units: Counter = Counter()
    mappings = usage.get('event_source_mappings', {'receives': 0, 'queues': 0})
    units['sqs_requests'] += mappings['receives'] + MAPPING_POLLERS * mappings['queues'] * seconds / LONG_POLL_SECONDS
    for caller, operations in usage['aws_requests'].items():
        for operation, count in operations.items():
            service, _, name = operation.partition('.')
            if service.startswith('DynamoDB_'):
                if name in _READS:
                    consistent = operations.get(f'{operation} consistent', 0)
                    units['dynamodb_read_units'] += consistent + (count - consistent) * 0.5
                elif name == 'BatchGetItem items':
                    units['dynamodb_read_units'] += count * 0.5
                elif name == 'TransactGetItems items':
                    units['dynamodb_read_units'] += count * 2
                elif name.endswith(' write units'):
                    units['dynamodb_write_units'] += count * (2 if name.startswith('Transact') else 1)
            elif service == 'AmazonSQS' and not name.endswith(' items'):
                if caller != 'stack' or name not in _UNBILLED_STACK_SQS:
                    units['sqs_requests'] += count
            elif operation == 'AWSEvents.PutEvents items':
                units['put_events'] += count
            elif service == 'TrentService':
                units['kms_requests'] += count
            elif service == 'secretsmanager' and caller != 'stack':
                units['secrets_manager_requests'] += count
            elif operation == 'sns.Publish':  # meetbridge.notify.sms: each publish is one SMS to a phone number
                units['sms_messages'] += count
    # A one-time schedule bills its one invocation when it fires; one deleted before (a cancel) never bills.
    scheduled = sum(ops.get('scheduler POST /schedules', 0) - ops.get('scheduler DELETE /schedules', 0)
                    for ops in usage['aws_requests'].values())
    units['scheduler_invocations'] += max(scheduled, 0)
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
