"""Re-homing: the future meetings of an account that went away are made again on the next account of their
chain, with the same join links (they name the meeting, not the account).

A connection event starts a reconciliation of the account (connection.disconnected: our DELETE, or a
replacement; connection.broken: a refused refresh, the app removed at the provider, a failed health check).
Its live meetings that have not ended are listed from the HOSTED index a page (PAGE_SIZE) at a time; each page's
meeting keys are an item of their own, written with the reconciliation's cursor in one transaction, and become
`meeting.rehome` messages on the meetings queue (the page is marked sent once they all are). An account of
20,000 meetings is thus 200 small pages, never one item near DynamoDB's 400 KB, and an invocation that runs short
of time hands the listing on to a message of its own (the same connection event) instead of timing out. One
message per meeting rather than one invocation working through a list: the meetings are made in parallel by as
many invocations as the queue feeds, and each is retried on its own with the queue's growing delay (a provider
that is down), kept in the dead-letter queue after MEETINGS_QUEUE_RECEIVES receives and replayed from there, as
any booking event. A redelivered message, or one whose worker was killed, never makes a meeting twice: the
meeting is read again by key and made again only while it is still on the account that went away (the
meeting's versioned claim decides between two at once, and a claim left by a dead worker is taken over and
finds what it made by its reference).

Nothing owed for the meeting a re-homing replaces is lost with a killed worker: the claim of the new meeting (its
first write) carries `superseded` (MeetingItem): the old account, the room its people were sent (sealed), whether
the old meeting is still to be deleted there (a replaced account's: it served its people until now). Whatever
attempt finds the new meeting made with `superseded` still on it (the same attempt, or a redelivery, which
looks for it first) deletes the old meeting, announces `meeting.details_changed` when the room differs (its id
is the meeting's generation: a repeat is the same event), clears `superseded` by a versioned write, and only
then counts the meeting, so that the reconciliation cannot conclude and revoke the tokens before the deletion.
A deletion that fails for a while (a 503, a timeout) keeps `superseded` and the message is retried (counted
'retrying', below); one the provider refuses is logged and left. A meeting that could not be made again (no
account of its chain hosts it, or the provider refuses it) has `superseded` cleared with nothing deleted: the
old meeting of a replaced account still works, and its links still open it. An account the admin disconnected
has its old meeting deleted before the new one is made (its links answer 503: it serves nobody), best effort.

The first attempt of each meeting counts what it did on the reconciliation (one transaction with its page); the
attempt that brings `left` to zero once every page is listed sends the one `accounts.reconciled` summary: the
counts, `failed_count` and the first FAILURES_SHOWN failures (what an event of 256 KB holds; the alert says
how many more). A first attempt that fails for a retry is counted failed ('retried until it succeeds') and
put in its page's `retrying`; a later success, or a later attempt that finds nothing to do, takes it out. The
tokens of an account let go on our side (kept so that its old meetings can be deleted) are revoked once the
summary is out and no meeting is being retried any more. Bounded: a message's last receive
(MEETINGS_QUEUE_RECEIVES) that fails, whether its attempt failed or the meetings handler refused the record
before it (too little time left, an attempt in progress), gives the meeting up (give_up: counted failed, taken
out of `retrying`) before the message goes to the dead-letter queue; and any attempt or summary TOKENS_KEPT
after the summary revokes them whatever is still retried (the queue's whole retry span is about 34 hours). A
worker killed (a timeout) on the last receive gives nothing up: its meeting stays in `retrying` until
TOKENS_KEPT, and then only when another attempt or summary of the reconciliation comes (no scheduled job
looks). A meeting replayed from the dead-letter queue after that is made again, its old meeting left at the
provider (logged). A broken or deauthorized account lets nothing
in, so its old meetings stay there (the summary says so).

`meeting.rehome` with reason 'missing' (the health check found the meeting gone at the provider) makes the
meeting again on the first usable account of its chain, which may be the same one.
"""

import json
import random
import time
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from meetbridge import aws, budget, events, outbox
from meetbridge.config import MeetingsQueueSettings, settings
from meetbridge.domain.hosting import TYPE_NAMES
from meetbridge.errors import Conflict, MeetbridgeError, RetryLater
from meetbridge.logic import accounts, bookings
from meetbridge.observability import logger
from meetbridge.providers import provider_for
from meetbridge.providers.base import ProviderMeeting, ProviderRejected
from meetbridge.store import repository, tokens
from meetbridge.store.models import (LIVE_MEETING_STATUSES, AccountItem, BookingItem, MeetingItem,
                                     ReconciliationItem, ReconciliationPageItem, SupersededMeeting,
                                     hosted_by_key, index_time)
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
# Meetings listed into one page: its item stays far below 400 KB even when each of them failed.
PAGE_SIZE = 100
# A page is listed and sent in well under this; with less of the record's time left the listing is handed on.
PAGE_SECONDS = 5.0
# The failures a summary lists (the first ones); `failed_count` counts them all.
FAILURES_SHOWN = 100
PROBLEM_CHARS = 500
# The booking ids a failure names (a class session's meeting has many; `booking_count` counts them all): a page of
# failures stays far below 400 KB and a summary below 256 KB.
BOOKINGS_SHOWN = 10
# The meetings queue's maxReceiveCount (template.yaml): the receive after which a message is dead-lettered.
MEETINGS_QUEUE_RECEIVES = 40
# The tokens of an account let go are revoked this long after the summary at the latest, whatever is still
# retried: the meetings queue's whole retry span (functions/meetings: 40 receives, about 34 hours), and a margin.
TOKENS_KEPT = timedelta(hours=36)
# Concurrent first attempts count on the same reconciliation item: a transaction that lost to another is tried
# again after a short wait, longer at each try and jittered so that the attempts that collided do not collide again.
TALLY_TRIES = 5
TALLY_WAIT_SECONDS = (0.02, 0.1)

_WHY = {
    'admin': 'was disconnected by the admin',
    'replaced': 'was replaced by another account',
    'refused': 'no longer accepts our authorisation',
    'deauthorized': 'had the app removed by its user',
    'check_failed': 'failed its health check',
}
NO_ACCOUNT = 'No account of its chain can host it: connect a company account or the provider\'s own account.'


# --- the reconciliation of an account ----------------------------------------------------------


def reconcile(detail: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Starts (or, redelivered or handed on, carries on) the reconciliation the connection event `detail` asks
    for."""
    tenant_id, account_id = detail['tenant_id'], detail['account_id']
    account = repository.find(AccountItem, AccountItem.key(tenant_id, account_id))
    if account is None or account.status == 'active':
        return {'outcome': 'ignored: the account is not gone'}
    reconciliation = _opened(detail, account, now)
    while not (reconciliation.listed and reconciliation.sent == reconciliation.pages):
        if budget.left(PAGE_SECONDS) < PAGE_SECONDS:
            _hand_on(detail, reconciliation.reason)
            return {'outcome': 'reconciling: handed on', 'pages': reconciliation.pages}
        if reconciliation.sent < reconciliation.pages:
            _send_page(tenant_id, detail['event_id'], reconciliation)
        else:
            _list_page(tenant_id, detail['event_id'], reconciliation)
        reconciliation.refresh(consistent_read=True)
    _conclude(reconciliation, now)
    logger.info('reconciliation under way', extra={'tenant_id': tenant_id, 'account_id': account_id,
                                                   'meetings': reconciliation.left, 'pages': reconciliation.pages})
    return {'outcome': 'reconciling', 'meetings': reconciliation.left, 'pages': reconciliation.pages}


def _opened(detail: dict[str, Any], account: AccountItem, now: datetime) -> ReconciliationItem:
    """The reconciliation's record: created before any page is listed, or as an earlier delivery left it."""
    tenant_id, account_id = detail['tenant_id'], detail['account_id']
    key = ReconciliationItem.key(tenant_id, account_id, detail['event_id'])
    found = repository.find_consistent(ReconciliationItem, key)
    if found is not None:
        return found
    item = ReconciliationItem(*key, account_id=account_id, holder=detail.get('holder'), type=account.type,
                              reason=_reason(detail), cursor=index_time(now - LONGEST_MEETING), created_at=now,
                              ttl=now + KEPT)
    try:
        item.save(condition=ReconciliationItem.pk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code != 'ConditionalCheckFailedException':
            raise
        return repository.find_consistent(ReconciliationItem, key)  # a concurrent delivery created it
    return item


def _reason(detail: dict[str, Any]) -> str:
    return detail.get('reason') or 'refused'


def _list_page(tenant_id: str, cause_id: str, reconciliation: ReconciliationItem) -> None:
    """The next page of the account's meetings from the index, written with the cursor moved past it. A
    meeting under way on a replaced account (it still works) is left to end there: people are in it."""
    number, listed_at = reconciliation.pages, reconciliation.created_at
    replaced = reconciliation.reason == 'replaced'
    listed = list(MeetingItem.gsi1.query(hosted_by_key(tenant_id, reconciliation.account_id),
                                         MeetingItem.gsi1sk > reconciliation.cursor, limit=PAGE_SIZE,
                                         page_size=PAGE_SIZE))
    future = {meeting.meeting_key for meeting in listed
              if meeting.end > listed_at and not (replaced and meeting.start <= listed_at)}
    page = ReconciliationPageItem(*ReconciliationPageItem.key(tenant_id, reconciliation.account_id, cause_id,
                                                              number), pending=future or None, ttl=reconciliation.ttl)
    try:
        with TransactWrite(connection=ReconciliationItem._get_connection().connection) as transaction:
            transaction.save(page, condition=ReconciliationPageItem.pk.does_not_exist())
            transaction.update(reconciliation, condition=ReconciliationItem.pages == number, actions=[
                ReconciliationItem.cursor.set(listed[-1].gsi1sk if listed else reconciliation.cursor),
                ReconciliationItem.pages.set(number + 1),
                ReconciliationItem.listed.set(len(listed) < PAGE_SIZE),
                ReconciliationItem.left.add(len(future)),
                ReconciliationItem.ended_untouched.add(len(listed) - len(future))])
    except TransactWriteError as exc:
        if not _lost(exc):
            raise
        # Another delivery wrote this page first: the caller reads where it got to.


def _send_page(tenant_id: str, cause_id: str, reconciliation: ReconciliationItem) -> None:
    """The messages of the page written last, then the page marked sent. Sent again after a crash in between:
    a meeting is not made twice."""
    number = reconciliation.sent
    page = ReconciliationPageItem.get(*ReconciliationPageItem.key(tenant_id, reconciliation.account_id, cause_id,
                                                                  number), consistent_read=True)
    _send(tenant_id, reconciliation.account_id, cause_id, number, sorted(page.pending or ()))
    try:
        reconciliation.update(actions=[ReconciliationItem.sent.set(number + 1)],
                              condition=ReconciliationItem.sent == number)
    except UpdateError as exc:
        if exc.cause_response_code != 'ConditionalCheckFailedException':
            raise


def _send(tenant_id: str, account_id: str, cause_id: str, page: int, meeting_keys: list[str]) -> None:
    sqs, queue_url = aws.client('sqs'), settings(MeetingsQueueSettings).meetings_queue_url
    for first in range(0, len(meeting_keys), SEND_BATCH):
        entries = [{'Id': str(n), 'MessageBody': json.dumps({
            'source': events.SOURCE, 'detail-type': events.MEETING_REHOME,
            'detail': {'tenant_id': tenant_id, 'meeting_key': meeting_key, 'account_id': account_id,
                       'reason': ACCOUNT_GONE, 'reconciliation': cause_id, 'page': page}})}
            for n, meeting_key in enumerate(meeting_keys[first:first + SEND_BATCH])]
        if sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get('Failed'):
            # The redelivery sends the page again; the meetings already made are not made twice.
            raise RetryLater('the meetings queue did not take every re-home message')


def _hand_on(detail: dict[str, Any], reason: str) -> None:
    """The listing goes on in a message of its own (the same connection event): this one ran short of time."""
    detail_type = events.CONNECTION_DISCONNECTED if reason in LET_GO else events.CONNECTION_BROKEN
    aws.client('sqs').send_message(QueueUrl=settings(MeetingsQueueSettings).meetings_queue_url, MessageBody=json.dumps(
        {'source': events.SOURCE, 'detail-type': detail_type, 'detail': detail}))


def _lost(exc: TransactWriteError) -> bool:
    """A transaction that lost to another write: its condition failed, or the same item was being written."""
    return any(reason is not None and reason.code in ('ConditionalCheckFailed', 'TransactionConflict')
               for reason in exc.cancellation_reasons or ())


# --- one meeting ---------------------------------------------------------------------------------


def rehome(detail: dict[str, Any], now: datetime) -> dict[str, Any]:
    """Makes one meeting again: off an account that went away (reason account_gone, one meeting of a
    reconciliation), or after it went missing at the provider (reason missing). The message's last receive, when
    it fails, is given up by the meetings handler (give_up)."""
    return _rehome(detail, _Tally.of(detail), now)


def give_up(detail: dict[str, Any], now: datetime, why: str) -> None:
    """The meeting of a `meeting.rehome` whose last receive (MEETINGS_QUEUE_RECEIVES) failed, whatever failed
    (its attempt, or the handler refusing the record before it: too little time left, an attempt in progress),
    is given up before the message goes to the dead-letter queue: counted failed and taken out of `retrying`, so
    that the reconciliation concludes and the tokens it kept are revoked. Repeated, it counts nothing twice.
    `why`: safe to show (a domain error's message, or an exception's type)."""
    tally = _Tally.of(detail)
    if tally is None:
        return  # a missing meeting's (no reconciliation), or a reconciliation no longer kept
    tenant_id, meeting_key = detail['tenant_id'], detail['meeting_key']
    logger.error('a re-home gave up: its message goes to the dead-letter queue', extra={
        'tenant_id': tenant_id, 'meeting_key': meeting_key, 'reason': why})
    meeting = repository.find_consistent(MeetingItem, MeetingItem.key(tenant_id, meeting_key))
    tally.record(meeting_key, 'failed', now, _failure(
        meeting_key, meeting.booking_ids if meeting is not None else None,
        f'{why}; given up after {MEETINGS_QUEUE_RECEIVES} attempts'))


def _rehome(detail: dict[str, Any], tally: '_Tally | None', now: datetime) -> dict[str, Any]:
    tenant_id, meeting_key, account_id = detail['tenant_id'], detail['meeting_key'], detail['account_id']
    missing = detail.get('reason') == MISSING
    reconciliation = tally.reconciliation if tally is not None else None
    meeting = repository.find_consistent(MeetingItem, MeetingItem.key(tenant_id, meeting_key))
    if meeting is not None and meeting.superseded is not None and meeting.status != 'creating':
        meeting = _settle(tenant_id, meeting)  # an earlier attempt made it and was stopped before it settled
    if not _to_make_again(meeting, account_id, now, detail.get('external_id')) or \
            (not missing and _reconnected(tenant_id, account_id)):
        remade_before = meeting is not None and meeting.status in LIVE_MEETING_STATUSES and meeting.end > now
        _count(tally, meeting_key, 'rehomed' if remade_before else None, now)
        return {'outcome': 'nothing to do'}
    booking = _active_booking(tenant_id, meeting)
    if booking is None:
        _count(tally, meeting_key, None, now)
        return {'outcome': 'nothing to do: the meeting has no active booking'}

    reason = _fallback_reason(tenant_id, account_id, detail, reconciliation)
    if meeting.superseded is None:
        # What its people were sent, and the meeting to delete at the account that went away. A claim taken over
        # from a dead worker of before `superseded` is on another account already: what it replaces is not known.
        leaving = meeting.account_id == account_id and meeting.status != 'creating' and meeting.details_sealed
        let_go = leaving and not missing and reconciliation is not None and reconciliation.reason in LET_GO
        if let_go and reconciliation.reason == 'admin':
            # A disconnected account's links answer 503: its meeting serves nobody, and it is deleted now, while
            # the tokens are kept (a meeting retried after the summary could no longer reach it).
            _delete_old(tenant_id, account_id, meeting.provider_type, bookings.details_of(tenant_id, meeting))
        # Written with the claim of the new meeting (bookings._claim saves the item): a replaced account's
        # meeting served its people until now and is deleted once the new one is made.
        meeting.superseded = SupersededMeeting(
            account_id=meeting.account_id or account_id, provider_type=meeting.provider_type,
            details_sealed=meeting.details_sealed if leaving else None, missing=missing,
            delete=bool(let_go and reconciliation.reason == 'replaced'))
    try:
        remade = bookings.make_meeting_again(tenant_id, meeting, booking, reason, now)
        problem = None if remade is not None else NO_ACCOUNT
    except ProviderRejected as refusal:
        remade, problem = None, str(refusal)
    except Conflict:
        raise  # another change of the meeting won the write: the retry sees it, it is no failure to report
    except Exception as exc:
        _count(tally, meeting_key, 'retrying', now, _failure(
            meeting_key, meeting.booking_ids, f'{_shown(exc)}; retried until it succeeds'))
        raise
    if remade is None:
        # Nothing new to tell its people of, and nothing to delete: the meeting of a replaced account still works
        # and its links still open it, so it stays and serves them.
        unmade = repository.find_consistent(MeetingItem, MeetingItem.key(tenant_id, meeting_key))
        if unmade is not None and unmade.superseded is not None:
            _clear_superseded(tenant_id, unmade, unmade.superseded)
        _rehome_failed(tenant_id, meeting, account_id, problem)
        _count(tally, meeting_key, 'failed', now, _failure(meeting_key, meeting.booking_ids, problem))
        return {'outcome': 'failed: ' + problem}

    # Here rather than at the top: a meetings cold start that re-homes nothing (most) does not import the HTTP client.
    import httpx2

    try:
        _settle(tenant_id, remade)
    except (RetryLater, httpx2.HTTPError) as exc:
        # The old meeting is still to be deleted (`superseded` kept): the queue retries, and a redelivery settles.
        _count(tally, meeting_key, 'retrying', now, _failure(
            meeting_key, meeting.booking_ids,
            f'made again; its old meeting not yet deleted: {_shown(exc)}; retried until it succeeds'))
        raise
    _count(tally, meeting_key, 'rehomed', now)
    logger.info('meeting made again', extra={'tenant_id': tenant_id, 'meeting_key': meeting_key,
                                             'from_account': account_id, 'account_id': remade.account_id,
                                             'reason': detail.get('reason')})
    return {'outcome': 'made again', 'account_id': remade.account_id}


def _settle(tenant_id: str, meeting: MeetingItem) -> MeetingItem | None:
    """What the meeting's re-homing owes the meeting it replaced, once the new one is made: the old one deleted
    where it is still to be (a failure that may pass is raised, `superseded` kept for the retry), its people told
    when the room differs, the admin told of a missing meeting made again; then `superseded` cleared. Every step
    may be repeated: a deletion finds the meeting gone, an event goes out with the same id. Returns the meeting
    as written."""
    owed = meeting.superseded
    before = ProviderMeeting.from_dict(repository.unseal_json(owed.details_sealed, tenant_id, 'meeting',
                                                              meeting.meeting_key)) if owed.details_sealed else None
    if owed.delete and before is not None:
        _delete_old(tenant_id, owed.account_id, owed.provider_type, before, transient_raised=True)
    if meeting.status in LIVE_MEETING_STATUSES and meeting.status != 'creating' and meeting.details_sealed:
        after = bookings.details_of(tenant_id, meeting)
        if before is None or (before.password, before.description, owed.provider_type) != \
                (after.password, after.description, meeting.provider_type):
            outbox.announce(tenant_id, events.meeting_details_changed(tenant_id, meeting.meeting_key,
                                                                      meeting.generation, meeting.start))
        if owed.missing:
            outbox.announce(tenant_id, events.booking_problem(
                tenant_id, meeting.meeting_key, _only(meeting.booking_ids), owed.account_id, 'remade',
                f'The meeting was missing at the provider and was made again. {meeting.fallback_reason}',
                f'g{meeting.generation}'))
    return _clear_superseded(tenant_id, meeting, owed)


def _clear_superseded(tenant_id: str, meeting: MeetingItem, owed: SupersededMeeting) -> MeetingItem | None:
    """`superseded` removed by a versioned write. Returns the meeting as written."""
    for _ in range(3):  # a booking of the session changing meanwhile moves the version on
        try:
            repository.update(meeting, actions=[MeetingItem.superseded.remove()])
            return meeting
        except Conflict:
            meeting = repository.find_consistent(MeetingItem, MeetingItem.key(tenant_id, meeting.meeting_key))
        if meeting is None or meeting.superseded is None or meeting.superseded.account_id != owed.account_id:
            return meeting  # settled by another attempt
    raise RetryLater('the meeting kept changing while its re-homing was settled')


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
    kind = TYPE_NAMES.get(account.type, account.type) if account is not None else 'meeting'
    if detail.get('reason') == MISSING:
        return f'Made again: the meeting was missing at {kind}'
    holder = reconciliation.holder if reconciliation is not None else None
    whose = 'the company\'s' if holder == 'company' else 'the provider\'s own' if holder else 'its'
    why = _WHY.get(reconciliation.reason if reconciliation is not None else '', 'went away')
    return f'Re-homed: {whose} {kind} account {why}'


def _delete_old(tenant_id: str, account_id: str, provider_type: str, meeting: ProviderMeeting,
                transient_raised: bool = False) -> None:
    """Deletes the replaced meeting at the account that went away, with the tokens kept for this; what the
    provider no longer allows is left there. `transient_raised`: a failure that may pass (RetryLater, an HTTP
    error: a 503, a timeout) is raised, for the queue to retry, rather than leaving the meeting live (settling a
    replaced account's meeting); an admin-disconnected account's deletion, before the new meeting is made, is
    best effort."""
    import httpx2  # as in _rehome

    account = repository.account_of(repository.get_account(tenant_id, account_id), tenant_id)
    try:
        with tokens.letting_go(account_id):
            provider_for(provider_type).delete(account, meeting)
    except (RetryLater, httpx2.HTTPError) as failure:
        if transient_raised:
            raise
        _not_deleted(tenant_id, account_id, failure)
    except (ProviderRejected, ConnectionUnusable) as refusal:
        _not_deleted(tenant_id, account_id, refusal)


def _not_deleted(tenant_id: str, account_id: str, refusal: Exception) -> None:
    logger.warning('the old meeting could not be deleted at the provider', extra={
        'tenant_id': tenant_id, 'account_id': account_id, 'reason': _shown(refusal)})


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


def _failure(meeting_key: str, booking_ids: set[str] | None, problem: str) -> dict[str, Any]:
    """A failure as the summary lists it: the first BOOKINGS_SHOWN of its bookings, and how many there are."""
    return {'meeting_key': meeting_key, 'booking_ids': sorted(booking_ids or set())[:BOOKINGS_SHOWN],
            'booking_count': len(booking_ids or ()), 'problem': problem[:PROBLEM_CHARS]}


def _shown(exc: Exception) -> str:
    """An error as the admin may see it: a domain error's message; anything else by its type only (an HTTP
    error's text may carry a URL)."""
    return str(exc) if isinstance(exc, MeetbridgeError) else type(exc).__name__


# --- counting, and the summary ------------------------------------------------------------------


class _Tally:
    """Where the attempts of one meeting of a reconciliation are counted: its page and the reconciliation."""

    def __init__(self, reconciliation: ReconciliationItem, page_key: tuple[str, str], page: int):
        self.reconciliation, self.page_key, self.page = reconciliation, page_key, page

    @classmethod
    def of(cls, detail: dict[str, Any]) -> '_Tally | None':
        if not detail.get('reconciliation'):
            return None
        tenant_id, account_id, cause_id = detail['tenant_id'], detail['account_id'], detail['reconciliation']
        reconciliation = repository.find_consistent(ReconciliationItem,
                                                    ReconciliationItem.key(tenant_id, account_id, cause_id))
        if reconciliation is None:
            return None
        page = int(detail.get('page') or 0)
        return cls(reconciliation, ReconciliationPageItem.key(tenant_id, account_id, cause_id, page), page)

    def record(self, meeting_key: str, outcome: str | None, now: datetime,
               failure: dict[str, Any] | None = None) -> None:
        """Counts the first attempt of a meeting (`outcome` rehomed | failed | retrying: failed, and retried by
        the queue | None: nothing to count); a later attempt that is final (any outcome but retrying) takes the
        meeting out of `retrying`. Then concludes, when it was the last."""
        on_page = [ReconciliationPageItem.pending.delete({meeting_key})]
        counts = [ReconciliationItem.left.add(-1)]
        if outcome == 'rehomed':
            counts.append(ReconciliationItem.rehomed.add(1))
        elif outcome in ('failed', 'retrying'):
            on_page.append(ReconciliationPageItem.failed.add({json.dumps(failure, sort_keys=True)}))
            counts += [ReconciliationItem.failed_count.add(1), ReconciliationItem.failed_pages.add({self.page})]
        if outcome == 'retrying':
            on_page.append(ReconciliationPageItem.retrying.add({meeting_key}))
            counts.append(ReconciliationItem.retrying.add(1))
        first = self._apply(on_page, ReconciliationPageItem.pending.contains(meeting_key), counts)
        if not first and outcome != 'retrying':
            self._apply([ReconciliationPageItem.retrying.delete({meeting_key})],
                        ReconciliationPageItem.retrying.contains(meeting_key), [ReconciliationItem.retrying.add(-1)])
        self.reconciliation.refresh(consistent_read=True)
        _conclude(self.reconciliation, now)

    def _apply(self, on_page: list, condition, counts: list) -> bool:
        """The page's change (under `condition`) and the reconciliation's counts in one transaction; False when
        the condition does not hold (an earlier attempt counted)."""
        page = ReconciliationPageItem(*self.page_key)
        for attempt in range(TALLY_TRIES):
            try:
                with TransactWrite(connection=ReconciliationItem._get_connection().connection) as transaction:
                    transaction.update(page, actions=on_page, condition=condition)
                    transaction.update(self.reconciliation, actions=counts)
                return True
            except TransactWriteError as exc:
                reasons = exc.cancellation_reasons or ()
                if reasons and reasons[0] is not None and reasons[0].code == 'ConditionalCheckFailed':
                    return False
                if not _lost(exc):
                    raise
            time.sleep(random.uniform(*TALLY_WAIT_SECONDS) * (attempt + 1))
        raise RetryLater('the reconciliation was counted on by too many attempts at once')


def _count(tally: _Tally | None, meeting_key: str, outcome: str | None, now: datetime,
           failure: dict[str, Any] | None = None) -> None:
    if tally is not None:
        tally.record(meeting_key, outcome, now, failure)


def _conclude(reconciliation: ReconciliationItem, now: datetime) -> None:
    """Once every meeting listed had its first attempt: the summary (the same event id on every try). Then the
    tokens of an account let go on our side are revoked, once no meeting is retried any more or TOKENS_KEPT
    after the summary, whatever happened to its meetings."""
    if not reconciliation.listed or reconciliation.left > 0:
        return
    tenant_id = reconciliation.pk.removeprefix('TENANT#')
    if reconciliation.summarised_at is None:
        cause_id = reconciliation.sk.split('#', 2)[2]
        summary = events.accounts_reconciled(tenant_id, reconciliation.account_id, cause_id, {
            'holder': reconciliation.holder, 'type': reconciliation.type, 'reason': reconciliation.reason,
            'rehomed': reconciliation.rehomed,
            'failed': _failures_shown(tenant_id, cause_id, reconciliation),
            'failed_count': reconciliation.failed_count,
            'ended_untouched': reconciliation.ended_untouched,
            'old_meetings': _old_meetings(reconciliation),
        })
        # The summary and its mark are one write, under the condition that no other attempt made them: the last
        # meeting's attempt and the listing's end (or a redelivery) may conclude at the same moment.
        try:
            outbox.update(tenant_id, reconciliation, [ReconciliationItem.summarised_at.set(now)], summary,
                          condition=ReconciliationItem.summarised_at.does_not_exist())
        except Conflict:
            reconciliation.refresh(consistent_read=True)
            if reconciliation.summarised_at is None:  # not another summary: a tally written at the same moment
                raise RetryLater('the reconciliation was being counted on while it was summarised') from None
        else:
            reconciliation.summarised_at = now
            logger.info('reconciliation summarised', extra={
            'tenant_id': tenant_id, 'account_id': reconciliation.account_id, 'rehomed': reconciliation.rehomed,
            'failed': reconciliation.failed_count, 'retrying': reconciliation.retrying})
    if reconciliation.reason in LET_GO and \
            (not reconciliation.retrying or now >= reconciliation.summarised_at + TOKENS_KEPT):
        accounts.forget_authorisation(tenant_id, reconciliation.account_id)


def _failures_shown(tenant_id: str, cause_id: str, reconciliation: ReconciliationItem) -> list[dict[str, Any]]:
    """The first FAILURES_SHOWN failures, read a page at a time (each page holds a hundred at most)."""
    shown: list[dict[str, Any]] = []
    for page in sorted(int(number) for number in reconciliation.failed_pages or ()):
        if len(shown) >= FAILURES_SHOWN:
            break
        item = repository.find_consistent(ReconciliationPageItem, ReconciliationPageItem.key(
            tenant_id, reconciliation.account_id, cause_id, page))
        failures = [json.loads(failure) for failure in item.failed or ()] if item is not None else []
        shown += sorted(failures, key=lambda failure: failure['meeting_key'])
    return sorted(shown[:FAILURES_SHOWN], key=lambda failure: failure['meeting_key'])


def _old_meetings(reconciliation: ReconciliationItem) -> str:
    """What became of the re-homed meetings at the account that went away."""
    if reconciliation.type not in accounts.OAUTH_TYPES:
        return 'nothing to delete: a custom link makes no meeting at a provider'
    if reconciliation.reason == 'admin':
        return 'deleted at the provider, except where it refused the deletion (logged)'
    if reconciliation.reason == 'replaced':
        return 'deleted at the provider, except where it refused the deletion (logged) and those of the meetings ' \
               'that failed (see failed), which still serve their people'
    return 'left at the provider: the account no longer lets meetbridge in to delete them'
