"""Hourly health checks: every active OAuth account proves it still works, and the meetings it hosts 24 hours
and 1 hour ahead are asked for at the provider (docs/architecture.md, "Health checks").

The tick lists the tenants (gsi1 `TENANTS`) and puts one message per tenant on the health queue; each message
checks one tenant: its accounts are one Query of its partition, the meetings of an account one Query of its
HOSTED index. Nothing scans, and the work grows with the tenants, spread over the queue's consumers.
"""

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx2

from meetbridge import aws, events, outbox
from meetbridge.config import HealthQueueSettings, MeetingsQueueSettings, settings
from meetbridge.errors import Conflict, RetryLater
from meetbridge.observability import logger
from meetbridge.providers import provider_for
from meetbridge.providers.base import CHECK_FAILED, ProviderMeeting, ProviderRejected
from meetbridge.store import repository, tokens
from meetbridge.store.models import AccountItem, MeetingItem, TenantItem, tenant_pk

CHECKED_TYPES = ('zoom', 'microsoft')
# A meeting is asked for when its start is in one of these windows after the tick: each is as wide as the
# period of the ticks, so every meeting is asked for once a day ahead and once an hour ahead.
WINDOWS = ((timedelta(hours=24), timedelta(hours=25)), (timedelta(hours=1), timedelta(hours=2)))
# Provider calls one run spends on one account's meetings at most, one after another and this far apart: Zoom's
# GET meeting is "Light", 4 a second on a free plan, shared by every app of the account.
MEETINGS_PER_ACCOUNT = 100
SECONDS_BETWEEN_LOOKUPS = 0.25
# How long an account's checks may fail for a transient reason before the admin is told it is expiring.
FAILING_BEFORE_EXPIRING = timedelta(hours=12)
# SendMessageBatch takes 10 messages at most.
BATCH = 10


# --- the tick ------------------------------------------------------------------------------------


def tenant_ids() -> Iterator[str]:
    """Every tenant, from the TENANTS index, page by page."""
    for tenant in TenantItem.gsi1.query('TENANTS', attributes_to_get=['tenant_id']):
        yield tenant.tenant_id


def fan_out(tick: datetime) -> int:
    """One check request per tenant on the health queue; returns how many were sent."""
    sent, batch = 0, []
    for tenant_id in tenant_ids():
        batch.append(tenant_id)
        if len(batch) == BATCH:
            sent += _send_checks(batch, tick)
            batch = []
    if batch:
        sent += _send_checks(batch, tick)
    return sent


def _send_checks(batch: list[str], tick: datetime) -> int:
    entries = [{'Id': str(index), 'MessageBody': json.dumps({'tenant_id': tenant_id, 'tick': tick.isoformat()})}
               for index, tenant_id in enumerate(batch)]
    result = aws.client('sqs').send_message_batch(QueueUrl=settings(HealthQueueSettings).health_queue_url,
                                                  Entries=entries)
    if result.get('Failed'):
        # The tick is retried whole; a tenant checked twice in an hour costs a call per account, nothing more.
        raise RetryLater(f'the health queue refused {len(result["Failed"])} check requests')
    return len(entries)


# --- one tenant --------------------------------------------------------------------------------


@dataclass
class TenantReport:
    accounts: int = 0
    working: int = 0
    broken: int = 0
    failing: int = 0
    meetings_checked: int = 0
    missing: list[str] = field(default_factory=list)
    provider_calls: int = 0


def check_tenant(tenant_id: str, tick: datetime, now: datetime) -> TenantReport:
    """Checks each active OAuth account of the tenant and, when it works, its meetings in the tick's windows."""
    report = TenantReport()
    for item in AccountItem.query(tenant_pk(tenant_id), AccountItem.sk.startswith('ACCOUNT#')):
        if item.type not in CHECKED_TYPES or item.status != repository.ACTIVE:
            continue
        report.accounts += 1
        report.provider_calls += 1
        outcome = check_account(tenant_id, item, now)
        if outcome == 'working':
            report.working += 1
            check_meetings(tenant_id, item, tick, report)
        elif outcome == 'broken':
            report.broken += 1
        else:
            report.failing += 1
    return report


def check_account(tenant_id: str, item: AccountItem, now: datetime) -> str:
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
    _note_working(tenant_id, item.account_id, now)
    return 'working'


def _current(tenant_id: str, account_id: str) -> AccountItem | None:
    """The account as it is now (the check may have renewed its tokens), while it is still active."""
    item = repository.find_consistent(AccountItem, AccountItem.key(tenant_id, account_id))
    return item if item is not None and item.status == repository.ACTIVE else None


def _mark_broken(tenant_id: str, account_id: str, problem: str) -> None:
    item = _current(tenant_id, account_id)
    if item is not None:
        tokens.mark_broken(item, tenant_id, problem, CHECK_FAILED)


def _note_working(tenant_id: str, account_id: str, now: datetime) -> None:
    item = _current(tenant_id, account_id)
    if item is None:
        return
    try:
        repository.update(item, [AccountItem.last_checked_at.set(now), AccountItem.check_failing_since.remove(),
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


def meetings_in_windows(tenant_id: str, account_id: str, tick: datetime) -> Iterator[MeetingItem]:
    """The live meetings the account hosts whose start is in one of the tick's windows."""
    for begin, end in WINDOWS:
        window_end = tick + end
        for meeting in repository.meetings_hosted_by(tenant_id, account_id, tick + begin):
            if meeting.start >= window_end:
                break
            yield meeting


def check_meetings(tenant_id: str, item: AccountItem, tick: datetime, report: TenantReport) -> None:
    """Asks the provider for each meeting in the windows (MEETINGS_PER_ACCOUNT at most); a missing one is sent to
    the meetings function to be made again."""
    account = repository.account_of(item, tenant_id)
    provider = provider_for(item.type)
    asked, last_asked = 0, -SECONDS_BETWEEN_LOOKUPS
    for meeting in meetings_in_windows(tenant_id, item.account_id, tick):
        if meeting.status != 'scheduled' or not meeting.external_id:
            continue  # being made (its own claim finishes it), or started: people are in it
        if asked == MEETINGS_PER_ACCOUNT:
            logger.warning('health check: meetings left unchecked this run', extra={
                'tenant_id': tenant_id, 'account_id': item.account_id, 'checked': asked})
            return
        time.sleep(max(0.0, last_asked + SECONDS_BETWEEN_LOOKUPS - time.monotonic()))
        last_asked = time.monotonic()
        asked += 1
        report.provider_calls += 1
        try:
            found = provider.exists(account, ProviderMeeting(external_id=meeting.external_id, join_url=''))
        except (RetryLater, ProviderRejected, tokens.ConnectionUnusable, httpx2.HTTPError) as exc:
            # The account's own check passed a moment ago; its meetings are asked for again in an hour.
            logger.warning('health check: meetings not checked', extra={
                'tenant_id': tenant_id, 'account_id': item.account_id, 'problem': type(exc).__name__})
            return
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


def tick_time(event: dict) -> datetime:
    """The scheduled event's own time: a late run still checks the windows of its tick."""
    return datetime.fromisoformat(event['time']).astimezone(UTC)
