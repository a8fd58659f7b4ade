"""Hourly health checks: every active OAuth account proves it still works, and the meetings it hosts 24 hours
and 1 hour ahead are asked for at the provider (docs/architecture.md, "Health checks").

Three kinds of message on the health queue, each carrying the tick's time (the windows are the tick's):
- the tick puts one `tenant` message per tenant (gsi1 `TENANTS`);
- a tenant's message lists its accounts (one Query of its partition) and puts one `account` message per account
  to check;
- an account's message proves the account and asks for its meetings in the windows (one Query of its HOSTED
  index); when the invocation runs short of time, the meetings not asked yet go on as a `meetings` message.
So one message is one account's work at most, a failure is retried for its own account only, and nothing scans.
"""

import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import httpx2
from pydantic import AwareDatetime, BaseModel, Field, TypeAdapter

from meetbridge import aws, budget, events, outbox
from meetbridge.config import HealthQueueSettings, MeetingsQueueSettings, settings
from meetbridge.errors import Conflict, RetryLater
from meetbridge.observability import logger
from meetbridge.providers import provider_for
from meetbridge.providers.base import CHECK_FAILED, ProviderMeeting, ProviderRejected
from meetbridge.store import repository, tokens
from meetbridge.store.models import AccountItem, MeetingItem, TenantItem, tenant_pk

CHECKED_TYPES = ('zoom', 'microsoft', 'google')
# A meeting is asked for when its start is in one of these windows after the tick: each is as wide as the
# period of the ticks, so every meeting is asked for once a day ahead and once an hour ahead. Soonest first: the
# hour-ahead check is a meeting's last, and a continuation resumes in the index's order.
WINDOWS = ((timedelta(hours=1), timedelta(hours=2)), (timedelta(hours=24), timedelta(hours=25)))
# Provider calls one tick spends on one account's meetings at most, one after another and this far apart: Zoom's
# GET meeting is "Light", 4 a second on a free plan, shared by every app of the account.
MEETINGS_PER_ACCOUNT = 100
SECONDS_BETWEEN_LOOKUPS = 0.25
# How long an account's checks may fail for a transient reason before the admin is told it is expiring.
FAILING_BEFORE_EXPIRING = timedelta(hours=12)
# SendMessageBatch takes 10 messages at most.
BATCH = 10

# The time a message's work may need, against what is left of the invocation (the Lambda context's):
# - a lookup is a call cut to Zoom's and Graph's timeouts (3 s to connect, 10 s to read);
LOOKUP_SECONDS = 15
# - an account's proof may first wait for another invocation's renewal of its tokens (up to 15 s), then call;
ACCOUNT_SECONDS = 30
# - and the message's end: a continuation sent, the account's check written.
FINISH_SECONDS = 5
# An account's message when its provider answers at once: its proof (with the longest wait for a renewal), its
# lookups spaced out, its end. The function's Timeout fits a batch of them (tests/infra checks it against the
# template's BatchSize).
ACCOUNT_MESSAGE_SECONDS = ACCOUNT_SECONDS + MEETINGS_PER_ACCOUNT * SECONDS_BETWEEN_LOOKUPS + FINISH_SECONDS


# --- messages ------------------------------------------------------------------------------------


class TenantCheck(BaseModel):
    """List the tenant's accounts, one AccountCheck each."""

    kind: Literal['tenant'] = 'tenant'
    tenant_id: str
    tick: AwareDatetime


class AccountCheck(BaseModel):
    """Prove the account, then ask for its meetings in the tick's windows."""

    kind: Literal['account'] = 'account'
    tenant_id: str
    account_id: str
    tick: AwareDatetime


class MeetingsCheck(BaseModel):
    """The rest of an account's meetings for the tick, after a message ran short of time (its proof passed)."""

    kind: Literal['meetings'] = 'meetings'
    tenant_id: str
    account_id: str
    tick: AwareDatetime
    after: str  # the index position (gsi1sk) of the last meeting asked for
    asked: int  # the lookups the tick has spent on the account so far (MEETINGS_PER_ACCOUNT counts them all)


CheckRequest = Annotated[TenantCheck | AccountCheck | MeetingsCheck, Field(discriminator='kind')]
_REQUEST = TypeAdapter(CheckRequest)


def request_of(body: str) -> TenantCheck | AccountCheck | MeetingsCheck:
    return _REQUEST.validate_json(body)


def _send(requests: Iterable[BaseModel]) -> int:
    """Onto the health queue, 10 a call; returns how many were sent."""
    sent = 0
    for batch in itertools.batched(requests, BATCH):
        entries = [{'Id': str(index), 'MessageBody': request.model_dump_json()} for index, request in enumerate(batch)]
        result = aws.client('sqs').send_message_batch(QueueUrl=settings(HealthQueueSettings).health_queue_url,
                                                      Entries=entries)
        if result.get('Failed'):
            # The message (or tick) that sends them fails and is retried whole: an account whose check for the
            # tick is done by then (its checked_tick) is neither sent again nor checked again.
            raise RetryLater(f'the health queue refused {len(result["Failed"])} check requests')
        sent += len(entries)
    return sent


# --- the tick and a tenant -------------------------------------------------------------------------


def tick_time(event: dict) -> datetime:
    """The scheduled event's own time: a late run still checks the windows of its tick."""
    return datetime.fromisoformat(event['time']).astimezone(UTC)


def tenant_ids() -> Iterator[str]:
    """Every tenant, from the TENANTS index, page by page."""
    for tenant in TenantItem.gsi1.query('TENANTS', attributes_to_get=['tenant_id']):
        yield tenant.tenant_id


def fan_out(tick: datetime) -> int:
    """One TenantCheck per tenant on the health queue; returns how many were sent."""
    return _send(TenantCheck(tenant_id=tenant_id, tick=tick) for tenant_id in tenant_ids())


def _checked_for(item: AccountItem, tick: datetime) -> bool:
    """Whether a check for the tick (or a later one) proved the account and asked for its meetings (checked_tick
    is written after them). The tick, not the time the check ran: a check for an earlier tick that finished in
    this tick's first second did not do this tick's work."""
    return item.checked_tick is not None and item.checked_tick >= tick


def check_tenant(request: TenantCheck) -> int:
    """One AccountCheck per active OAuth account of the tenant not checked for the tick yet; returns how many."""
    items = AccountItem.query(tenant_pk(request.tenant_id), AccountItem.sk.startswith('ACCOUNT#'))
    return _send(AccountCheck(tenant_id=request.tenant_id, account_id=item.account_id, tick=request.tick)
                 for item in items
                 if item.type in CHECKED_TYPES and item.status == repository.ACTIVE
                 and not _checked_for(item, request.tick))


# --- one account ---------------------------------------------------------------------------------


@dataclass
class AccountReport:
    # 'working' | 'broken' | 'failing': the proof's answer; 'checked already': a check since the tick did it all;
    # 'not active': gone, replaced or marked meanwhile; 'passed on': too little time left to start, sent again;
    # 'continued': a MeetingsCheck's meetings.
    outcome: str
    meetings_checked: int = 0
    missing: list[str] = field(default_factory=list)
    provider_calls: int = 0
    continued: bool = False  # the meetings not asked for yet went on as a MeetingsCheck


def check_account(request: AccountCheck, now: datetime, seconds_left: Callable[[], float]) -> AccountReport:
    """Proves the account and, when it works, asks for its meetings in the tick's windows; `seconds_left` is what
    is left of the invocation. checked_tick is written last, so a redelivery of a message that did it all
    costs no provider call, and one of a message that failed half-way asks again."""
    item = _current(request.tenant_id, request.account_id)
    if item is None or item.type not in CHECKED_TYPES:
        return AccountReport('not active')
    if _checked_for(item, request.tick):
        return AccountReport('checked already')
    if seconds_left() < ACCOUNT_SECONDS + LOOKUP_SECONDS + FINISH_SECONDS:
        # A record late in its batch: a message of its own gets a fresh invocation's time, and no receive is spent.
        _send([request])
        logger.info('health check passed on: too little time left', extra={
            'tenant_id': request.tenant_id, 'account_id': request.account_id})
        return AccountReport('passed on')
    with budget.within(seconds_left() - FINISH_SECONDS):
        report = AccountReport(prove(request.tenant_id, item, now), provider_calls=1)
        if report.outcome == 'working':
            check_meetings(request.tenant_id, item, request.tick, '', 0, report, seconds_left)
    if report.outcome == 'working':
        _note_working(request.tenant_id, request.account_id, request.tick, now)
    return report


def check_more_meetings(request: MeetingsCheck, seconds_left: Callable[[], float]) -> AccountReport:
    """The meetings a message ran short of time for, after the last one it asked for."""
    item = _current(request.tenant_id, request.account_id)
    if item is None or item.type not in CHECKED_TYPES:
        return AccountReport('not active')
    report = AccountReport('continued')
    with budget.within(seconds_left() - FINISH_SECONDS):
        check_meetings(request.tenant_id, item, request.tick, request.after, request.asked, report, seconds_left)
    return report


def prove(tenant_id: str, item: AccountItem, now: datetime) -> str:
    """'working', 'broken' (marked, connection.broken announced) or 'failing' (retried at the next check)."""
    account = repository.account_of(item, tenant_id)
    log = {'tenant_id': tenant_id, 'account_id': item.account_id, 'type': item.type}
    try:
        provider_for(item.type).check(account)
    except tokens.ConnectionUnusable:
        # The provider refused the authorisation: tokens marked the account and announced it.
        logger.warning('health check: the account is broken', extra=log)
        return 'broken'
    except ProviderRejected as exc:
        if not exc.about_account:
            # A refusal that is not about the account (a limit, a request it did not like): marking the account
            # broken would move all its future meetings. It counts as a failing check, retried in an hour.
            logger.warning('health check refused for now', extra={**log, 'problem': str(exc)})
            _note_failing(tenant_id, item.account_id, str(exc), now)
            return 'failing'
        _mark_broken(tenant_id, item.account_id, str(exc))
        logger.warning('health check: the provider refused the account', extra={**log, 'problem': str(exc)})
        return 'broken'
    except (RetryLater, httpx2.HTTPError) as exc:
        # Only the type and a domain message: an HTTP error's text may carry a URL with a token in it.
        problem = str(exc) if isinstance(exc, RetryLater) else type(exc).__name__
        logger.warning('health check failed for now', extra={**log, 'problem': problem})
        _note_failing(tenant_id, item.account_id, problem, now)
        return 'failing'
    return 'working'


def _current(tenant_id: str, account_id: str) -> AccountItem | None:
    """The account as it is now (a check may have renewed its tokens), while it is still active."""
    item = repository.find_consistent(AccountItem, AccountItem.key(tenant_id, account_id))
    return item if item is not None and item.status == repository.ACTIVE else None


def _mark_broken(tenant_id: str, account_id: str, problem: str) -> None:
    item = _current(tenant_id, account_id)
    if item is not None:
        tokens.mark_broken(item, tenant_id, problem, CHECK_FAILED)


def _note_working(tenant_id: str, account_id: str, tick: datetime, now: datetime) -> None:
    item = _current(tenant_id, account_id)
    if item is None:
        return
    try:
        repository.update(item, [AccountItem.last_checked_at.set(now), AccountItem.checked_tick.set(tick),
                                 AccountItem.check_failing_since.remove(),
                                 AccountItem.expiring_announced.remove()])
    except Conflict:
        pass  # changed meanwhile (renewed, reconnected): the next check writes it


def _note_failing(tenant_id: str, account_id: str, problem: str, now: datetime) -> None:
    """Keeps when the failures began; past FAILING_BEFORE_EXPIRING, connection.expiring goes out once."""
    item = _current(tenant_id, account_id)
    if item is None:
        return
    since = item.check_failing_since or now
    try:
        if now - since < FAILING_BEFORE_EXPIRING or item.expiring_announced:
            if item.check_failing_since is None:
                repository.update(item, [AccountItem.check_failing_since.set(now)])
            return
        told = (f'the provider has not answered this account\'s health checks since {since:%Y-%m-%d %H:%M} UTC '
                f'({problem}); it may need to be connected again')
        outbox.update(tenant_id, item, [AccountItem.expiring_announced.set(True)],
                      events.connection_expiring(tenant_id, item, told, since, None))
    except Conflict:
        pass  # changed meanwhile: the next check looks again


# --- meetings ----------------------------------------------------------------------------------


def meetings_in_windows(tenant_id: str, account_id: str, tick: datetime, after: str = '') -> Iterator[MeetingItem]:
    """The live meetings the account hosts whose start is in one of the tick's windows, in the index's order,
    from the one after the index position `after` on."""
    for begin, end in WINDOWS:
        window_end = tick + end
        for meeting in repository.meetings_hosted_by(tenant_id, account_id, tick + begin):
            if meeting.start >= window_end:
                break
            if meeting.gsi1sk > after:
                yield meeting


def check_meetings(tenant_id: str, item: AccountItem, tick: datetime, after: str, asked: int, report: AccountReport,
                   seconds_left: Callable[[], float]) -> None:
    """Asks the provider for each meeting in the windows after `after` (MEETINGS_PER_ACCOUNT a tick at most, `asked`
    of them spent already); a missing one is sent to the meetings function to be made again. When too little of
    the invocation is left for another lookup, the rest goes on as a MeetingsCheck."""
    account = repository.account_of(item, tenant_id)
    provider = provider_for(item.type)
    log = {'tenant_id': tenant_id, 'account_id': item.account_id}
    last_asked = -SECONDS_BETWEEN_LOOKUPS
    for meeting in meetings_in_windows(tenant_id, item.account_id, tick, after):
        if meeting.status != 'scheduled' or not meeting.external_id:
            continue  # being made (its own claim finishes it), or started: people are in it
        if asked == MEETINGS_PER_ACCOUNT:
            logger.warning('health check: meetings left unchecked this tick', extra={**log, 'checked': asked})
            return
        if seconds_left() < LOOKUP_SECONDS + FINISH_SECONDS:
            _send([MeetingsCheck(tenant_id=tenant_id, account_id=item.account_id, tick=tick, after=after,
                                 asked=asked)])
            report.continued = True
            logger.info('health check: the meetings left go on in a message of their own', extra={**log, 'asked': asked})
            return
        time.sleep(max(0.0, last_asked + SECONDS_BETWEEN_LOOKUPS - time.monotonic()))
        last_asked = time.monotonic()
        asked += 1
        report.provider_calls += 1
        try:
            found = provider.exists(account, ProviderMeeting(external_id=meeting.external_id, join_url=''))
        except (RetryLater, ProviderRejected, tokens.ConnectionUnusable, httpx2.HTTPError) as exc:
            # The account's own check passed a moment ago; the meetings left are asked for at their next window
            # (a day-ahead one an hour before it starts; an hour-ahead one not again).
            logger.warning('health check: meetings not checked', extra={**log, 'problem': type(exc).__name__})
            return
        after = meeting.gsi1sk
        report.meetings_checked += 1
        if not found:
            request_rehome(tenant_id, meeting.meeting_key, item.account_id, meeting.external_id)
            report.missing.append(meeting.meeting_key)


def request_rehome(tenant_id: str, meeting_key: str, account_id: str, external_id: str) -> None:
    """meeting.rehome, straight to the meetings queue in the bus's shape (it is no event for anyone else). It names
    the provider's meeting found missing: a second request about it (a check run twice) finds the meeting made
    again already, under another id, and does nothing."""
    body = {'source': events.SOURCE, 'detail-type': events.MEETING_REHOME,
            'detail': {'tenant_id': tenant_id, 'meeting_key': meeting_key, 'account_id': account_id,
                       'reason': 'missing', 'external_id': external_id}}
    aws.client('sqs').send_message(QueueUrl=settings(MeetingsQueueSettings).meetings_queue_url, MessageBody=json.dumps(body))
    logger.warning('meeting missing at its provider: re-home requested', extra={
        'tenant_id': tenant_id, 'meeting_key': meeting_key, 'account_id': account_id})
