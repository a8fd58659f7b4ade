"""Re-homing: the future meetings of an account that went away are made again on the next account of their
chain, with the same join links (they name the meeting, not the account).

A connection event starts a reconciliation of the account (connection.disconnected: our DELETE, or a
replacement; connection.broken: a refused refresh, the app removed at the provider, a failed health check).
Its live meetings that have not ended are listed from the HOSTED index, recorded as `pending` on a
ReconciliationItem keyed by the event, and each becomes a `meeting.rehome` message of its own on the meetings
queue. One message per meeting rather than one invocation working through a list: the meetings are made in
parallel by as many invocations as the queue feeds, and each is retried on its own with the queue's growing
delay (a provider that is down), kept in the dead-letter queue after 40 receives and replayed from there, as
any booking event. A redelivered message, or one whose worker was killed, never makes a meeting twice: the
meeting is read again by key and made again only while it is still on the account that went away (the
meeting's versioned claim decides between two at once, and a claim left by a dead worker is taken over and
finds what it made by its reference).

The first attempt of each meeting takes its key out of `pending` and counts what it did; the attempt that
empties it sends the one `accounts.reconciled` summary, then revokes the tokens of an account let go on our
side: they were kept so that the old meetings could be deleted at the provider. A broken or deauthorized
account lets nothing in, so its old meetings stay there (the summary says so).

`meeting.rehome` with reason 'missing' (the health check found the meeting gone at the provider) makes the
meeting again on the first usable account of its chain, which may be the same one.
"""

import json
from datetime import datetime, timedelta
from typing import Any

import httpx2
from pynamodb.exceptions import PutError, UpdateError

from meetbridge import aws, events, outbox
from meetbridge.config import MeetingsQueueSettings, settings
from meetbridge.errors import Conflict, MeetbridgeError, RetryLater
from meetbridge.logic import accounts, bookings
from meetbridge.observability import logger
from meetbridge.providers import provider_for
from meetbridge.providers.base import ProviderMeeting, ProviderRejected
from meetbridge.store import repository, tokens
from meetbridge.store.models import (LIVE_MEETING_STATUSES, AccountItem, BookingItem, MeetingItem,
                                     ReconciliationItem)
from meetbridge.store.tokens import ConnectionUnusable

# Meetings that started this long before a reconciliation are not looked for: no booking lasts longer.
LONGEST_MEETING = timedelta(hours=24)
# A reconciliation's record is kept this long, for redeliveries and late retries of its meetings.
KEPT = timedelta(days=30)
# The reasons of an account let go on our side: its tokens still work until its reconciliation revokes them.
LET_GO = ('admin', 'replaced')
ACCOUNT_GONE = 'account_gone'
MISSING = 'missing'
# SQS takes at most 10 messages per SendMessageBatch.
SEND_BATCH = 10

_WHY = {
    'admin': 'was disconnected by the admin',
    'replaced': 'was replaced by another account',
    'refused': 'no longer accepts our authorisation',
    'deauthorized': 'had the app removed by its user',
    'check_failed': 'failed its health check',
}
_TYPES = {'zoom': 'Zoom', 'microsoft': 'Microsoft Teams', 'custom_link': 'custom link'}
NO_ACCOUNT = 'No account of its chain can host it: connect a company account or the provider\'s own account.'


# --- the reconciliation of an account ----------------------------------------------------------


def reconcile(detail: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Starts (or, redelivered, carries on) the reconciliation the connection event `detail` asks for."""
    tenant_id, account_id = detail['tenant_id'], detail['account_id']
    account = repository.find(AccountItem, AccountItem.key(tenant_id, account_id))
    if account is None or account.status == 'active':
        return {'outcome': 'ignored: the account is not gone'}
    reconciliation = _opened(detail, account, now)
    if reconciliation.pending:
        _send(tenant_id, account_id, detail['event_id'], sorted(reconciliation.pending))
    else:
        _conclude(reconciliation, now)
    logger.info('reconciliation under way', extra={'tenant_id': tenant_id, 'account_id': account_id,
                                                   'meetings': len(reconciliation.pending or ())})
    return {'outcome': 'reconciling', 'meetings': len(reconciliation.pending or ())}


def _opened(detail: dict[str, Any], account: AccountItem, now: datetime) -> ReconciliationItem:
    """The reconciliation's record: created with the meetings to re-home, or as a first delivery left it."""
    tenant_id, account_id = detail['tenant_id'], detail['account_id']
    key = ReconciliationItem.key(tenant_id, account_id, detail['event_id'])
    found = repository.find_consistent(ReconciliationItem, key)
    if found is not None:
        return found
    future, ended = set(), 0
    replaced = _reason(detail) == 'replaced'
    for listed in repository.meetings_hosted_by(tenant_id, account_id, now - LONGEST_MEETING):
        # A meeting under way on a replaced account (it still works) is left to end there: people are in it.
        if listed.end > now and not (replaced and listed.start <= now):
            future.add(listed.meeting_key)
        else:
            ended += 1
    item = ReconciliationItem(*key, account_id=account_id, holder=detail.get('holder'), type=account.type,
                              reason=_reason(detail), pending=future or None, ended_untouched=ended,
                              created_at=now, ttl=now + KEPT)
    try:
        item.save(condition=ReconciliationItem.pk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code != 'ConditionalCheckFailedException':
            raise
        return repository.find_consistent(ReconciliationItem, key)  # a concurrent delivery created it
    return item


def _reason(detail: dict[str, Any]) -> str:
    return detail.get('reason') or 'refused'


def _send(tenant_id: str, account_id: str, cause_id: str, meeting_keys: list[str]) -> None:
    sqs, queue_url = aws.client('sqs'), settings(MeetingsQueueSettings).meetings_queue_url
    for first in range(0, len(meeting_keys), SEND_BATCH):
        entries = [{'Id': str(n), 'MessageBody': json.dumps({
            'source': events.SOURCE, 'detail-type': events.MEETING_REHOME,
            'detail': {'tenant_id': tenant_id, 'meeting_key': meeting_key, 'account_id': account_id,
                       'reason': ACCOUNT_GONE, 'reconciliation': cause_id}})}
            for n, meeting_key in enumerate(meeting_keys[first:first + SEND_BATCH])]
        if sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get('Failed'):
            # The redelivery sends every meeting still pending again; those already made are not made twice.
            raise RetryLater('the meetings queue did not take every re-home message')


# --- one meeting ---------------------------------------------------------------------------------


def rehome(detail: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Makes one meeting again: off an account that went away (reason account_gone, one meeting of a
    reconciliation), or after it went missing at the provider (reason missing)."""
    tenant_id, meeting_key, account_id = detail['tenant_id'], detail['meeting_key'], detail['account_id']
    missing = detail.get('reason') == MISSING
    reconciliation = None
    if detail.get('reconciliation'):
        reconciliation = repository.find_consistent(
            ReconciliationItem, ReconciliationItem.key(tenant_id, account_id, detail['reconciliation']))
    meeting = repository.find_consistent(MeetingItem, MeetingItem.key(tenant_id, meeting_key))
    if not _to_make_again(meeting, account_id, now, detail.get('external_id')) or \
            (not missing and _reconnected(tenant_id, account_id)):
        remade_before = meeting is not None and meeting.status in LIVE_MEETING_STATUSES and meeting.end > now
        _record(reconciliation, meeting_key, 'rehomed' if remade_before else None, now)
        return {'outcome': 'nothing to do'}
    booking = _active_booking(tenant_id, meeting)
    if booking is None:
        _record(reconciliation, meeting_key, None, now)
        return {'outcome': 'nothing to do: the meeting has no active booking'}

    # What its people were sent, and the meeting to delete at the account that went away. A claim taken over
    # from a dead worker is on another account already: what it replaces is not known any more.
    leaving = meeting.account_id == account_id and meeting.status != 'creating'
    before = bookings.details_of(tenant_id, meeting) if leaving and meeting.details_sealed else None
    provider_before = meeting.provider_type
    reason = _fallback_reason(tenant_id, account_id, detail, reconciliation)
    deleting = before is not None and not missing and reconciliation is not None and reconciliation.reason in LET_GO
    if deleting and reconciliation.reason == 'admin':
        # A disconnected account's links answer 503: its meeting serves nobody, and it is deleted now, while the
        # tokens are kept (a meeting retried after the summary could no longer reach it).
        _delete_old(tenant_id, account_id, provider_before, before)
    try:
        remade = bookings.make_meeting_again(tenant_id, meeting, booking, reason, now)
        problem = None if remade is not None else NO_ACCOUNT
    except ProviderRejected as refusal:
        remade, problem = None, str(refusal)
    except Conflict:
        raise  # another change of the meeting won the write: the retry sees it, it is no failure to report
    except Exception as exc:
        why = str(exc) if isinstance(exc, MeetbridgeError) else type(exc).__name__
        _record(reconciliation, meeting_key, 'failed', now, _failure(meeting, f'{why}; retried until it succeeds'))
        raise
    if remade is None:
        _rehome_failed(tenant_id, meeting, account_id, problem)
        _record(reconciliation, meeting_key, 'failed', now, _failure(meeting, problem))
        return {'outcome': 'failed: ' + problem}

    if deleting and reconciliation.reason == 'replaced':
        _delete_old(tenant_id, account_id, provider_before, before)  # it served its people until now
    after = bookings.details_of(tenant_id, remade)
    if before is None or (before.password, before.description, provider_before) != \
            (after.password, after.description, remade.provider_type):
        outbox.announce(tenant_id, events.meeting_details_changed(tenant_id, meeting_key, remade.generation,
                                                                  remade.start))
    if missing:
        outbox.announce(tenant_id, events.booking_problem(
            tenant_id, meeting_key, _only(remade.booking_ids), account_id, 'remade',
            f'The meeting was missing at the provider and was made again. {reason}', f'g{remade.generation}'))
    _record(reconciliation, meeting_key, 'rehomed', now)
    logger.info('meeting made again', extra={'tenant_id': tenant_id, 'meeting_key': meeting_key,
                                             'from_account': account_id, 'account_id': remade.account_id,
                                             'reason': detail.get('reason')})
    return {'outcome': 'made again', 'account_id': remade.account_id}


def _to_make_again(meeting: MeetingItem | None, account_id: str, now: datetime, external_id: str | None) -> bool:
    """Still live, not ended, and still on the account (made again already: a redelivery). A claim left by a
    dead worker is carried on; one still held waits for its holder. `external_id`: the provider's meeting found
    missing; a meeting made again since has another, and is not made a second time."""
    if meeting is None or meeting.status not in LIVE_MEETING_STATUSES or meeting.end <= now:
        return False
    if meeting.status == 'creating':
        if not bookings._claim_expired(meeting, now):
            raise RetryLater('the meeting is being made by another invocation')
        return True
    if external_id is not None and meeting.external_id != external_id:
        return False
    return meeting.account_id == account_id


def _reconnected(tenant_id: str, account_id: str) -> bool:
    """The account works again (its user connected it again, which keeps its id): its meetings stay on it."""
    account = repository.find_consistent(AccountItem, AccountItem.key(tenant_id, account_id))
    return account is not None and account.status == repository.ACTIVE


def _active_booking(tenant_id: str, meeting: MeetingItem) -> BookingItem | None:
    for booking_id in sorted(meeting.booking_ids or set()):
        booking = repository.find(BookingItem, BookingItem.key(tenant_id, booking_id))
        if booking is not None and booking.status == 'active' and booking.meeting_key == meeting.meeting_key:
            return booking
    return None


def _fallback_reason(tenant_id: str, account_id: str, detail: dict[str, Any],
                     reconciliation: ReconciliationItem | None) -> str:
    """Shown to the admin on the booking: 'Re-homed: the provider's own Zoom account was disconnected by the admin'."""
    account = repository.find(AccountItem, AccountItem.key(tenant_id, account_id))
    kind = _TYPES.get(account.type, account.type) if account is not None else 'meeting'
    if detail.get('reason') == MISSING:
        return f'Made again: the meeting was missing at {kind}'
    holder = reconciliation.holder if reconciliation is not None else None
    whose = 'the company\'s' if holder == 'company' else 'the provider\'s own' if holder else 'its'
    why = _WHY.get(reconciliation.reason if reconciliation is not None else '', 'went away')
    return f'Re-homed: {whose} {kind} account {why}'


def _delete_old(tenant_id: str, account_id: str, provider_type: str, meeting: ProviderMeeting) -> None:
    """Deletes the replaced meeting at the account that went away, with the tokens kept for this; what the
    provider no longer allows is left there."""
    account = repository.account_of(repository.get_account(tenant_id, account_id), tenant_id)
    try:
        with tokens.letting_go(account_id):
            provider_for(provider_type).delete(account, meeting)
    except (ProviderRejected, ConnectionUnusable, RetryLater, httpx2.HTTPError) as refusal:
        # An HTTP error is named by its type only: its text may carry a URL.
        logger.warning('the old meeting could not be deleted at the provider', extra={
            'tenant_id': tenant_id, 'account_id': account_id,
            'reason': type(refusal).__name__ if isinstance(refusal, httpx2.HTTPError) else str(refusal)})


def _rehome_failed(tenant_id: str, meeting: MeetingItem, account_id: str, problem: str) -> None:
    """No account of the chain hosts the meeting: the admin sees it on each booking and is alerted."""
    # For lack of an account, in the words of a booking that failed so: connecting one makes it then
    # (logic/failed_bookings.py).
    shown = f'{bookings.NO_ACCOUNT} The meeting could not be re-homed.' if problem == NO_ACCOUNT else \
        f'The meeting could not be re-homed: {problem}'
    for booking_id in sorted(meeting.booking_ids or set()):
        booking = repository.find_consistent(BookingItem, BookingItem.key(tenant_id, booking_id))
        if booking is not None and booking.status == 'active' and booking.problem != shown:
            booking.problem = shown
            repository.save(booking)  # a save, so that the booking joins the index of failed bookings
    outbox.announce(tenant_id, events.booking_problem(
        tenant_id, meeting.meeting_key, _only(meeting.booking_ids), account_id, 'rehome_failed', shown,
        f'{account_id}/g{meeting.generation}'))


def _only(booking_ids: set[str] | None) -> str | None:
    """The booking a problem is about; None for a class session's meeting (it is about each of them)."""
    return next(iter(booking_ids)) if booking_ids and len(booking_ids) == 1 else None


def _failure(meeting: MeetingItem, problem: str) -> dict[str, Any]:
    return {'meeting_key': meeting.meeting_key, 'booking_ids': sorted(meeting.booking_ids or set()),
            'problem': problem}


# --- counting, and the summary ------------------------------------------------------------------


def _record(reconciliation: ReconciliationItem | None, meeting_key: str, outcome: str | None, now: datetime,
            failure: dict[str, Any] | None = None) -> None:
    """Counts the first attempt of a meeting (`outcome` rehomed | failed | None: nothing to count); later
    attempts count nothing. The attempt that empties `pending` concludes."""
    if reconciliation is None:
        return
    actions = [ReconciliationItem.pending.delete({meeting_key})]
    if outcome == 'rehomed':
        actions.append(ReconciliationItem.rehomed.add(1))
    elif outcome == 'failed':
        actions.append(ReconciliationItem.failed.add({json.dumps(failure, sort_keys=True)}))
    try:
        reconciliation.update(actions=actions, condition=ReconciliationItem.pending.contains(meeting_key))
    except UpdateError as exc:
        if exc.cause_response_code != 'ConditionalCheckFailedException':
            raise
        reconciliation.refresh(consistent_read=True)  # counted by an earlier attempt
    _conclude(reconciliation, now)


def _conclude(reconciliation: ReconciliationItem, now: datetime) -> None:
    """Once every meeting had its first attempt: the summary (the same event id on every try), then the
    tokens of an account let go on our side are revoked, whatever happened to its meetings."""
    if reconciliation.pending:
        return
    tenant_id = reconciliation.pk.removeprefix('TENANT#')
    if reconciliation.summarised_at is None:
        cause_id = reconciliation.sk.split('#', 2)[2]
        outbox.announce(tenant_id, events.accounts_reconciled(tenant_id, reconciliation.account_id, cause_id, {
            'holder': reconciliation.holder, 'type': reconciliation.type, 'reason': reconciliation.reason,
            'rehomed': reconciliation.rehomed,
            'failed': sorted((json.loads(failure) for failure in reconciliation.failed or ()),
                             key=lambda failure: failure['meeting_key']),
            'ended_untouched': reconciliation.ended_untouched,
            'old_meetings': _old_meetings(reconciliation),
        }))
        reconciliation.update(actions=[ReconciliationItem.summarised_at.set(now)])
        logger.info('reconciliation summarised', extra={
            'tenant_id': tenant_id, 'account_id': reconciliation.account_id, 'rehomed': reconciliation.rehomed,
            'failed': len(reconciliation.failed or ())})
    if reconciliation.reason in LET_GO:
        accounts.forget_authorisation(tenant_id, reconciliation.account_id)


def _old_meetings(reconciliation: ReconciliationItem) -> str:
    """What became of the re-homed meetings at the account that went away."""
    if reconciliation.type not in accounts.OAUTH_TYPES:
        return 'nothing to delete: a custom link makes no meeting at a provider'
    if reconciliation.reason in LET_GO:
        return 'deleted at the provider'
    return 'left at the provider: the account no longer lets meetbridge in to delete them'
