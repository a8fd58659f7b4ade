"""Alerts to a tenant's admin contacts: grouped, so a group hears at most once an hour.

An alert is one of the events AlertEventsRule routes to the alerts queue (connection.broken,
connection.expiring, meeting.failed, booking.problem, accounts.reconciled). Its group is the account it
is about (`account_id`), else 'tenant'. The first alert of a group with no open window is sent at once
and opens a window of WINDOW; the alerts that arrive while it is open are kept on the group's item and
sent as one digest when it ends (a one-time schedule puts `alerts.flush_due` on the alerts queue then).
A digest that sent something opens the next window; one with nothing to send closes it.

Nothing is sent twice and nothing is lost: the group's item is written with a version condition (a lost
race reads it again), an alert it already recorded is not recorded again (`recent_ids`), and the message a
write decided (`outgoing`) is sent again by whatever redelivery finds it, the handler's idempotency per
(message id, recipient) keeping that to one send each. The group's item is written before anything is
sent, so an alert kept for a digest is in that digest.

Email goes to each alert address through the tenant's `alert_<kind>` templates (a digest mixing kinds
uses its first alert's); the signed webhook is a message on the alert webhook queue, posted from there
with retries (post_webhook).
"""

import functools
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
from jinja2 import TemplateError

from meetbridge import aws, events, scheduling
from meetbridge.config import AlertQueuesSettings, settings
from meetbridge.errors import Conflict, NotFound, RetryLater
from meetbridge.logic import alert_settings, notification_settings, tenants
from meetbridge.logic.templates import TemplateBook
from meetbridge.notify import render
from meetbridge.notify.defaults import DEFAULT_TEMPLATES
from meetbridge.observability import logger
from meetbridge.security.signatures import hmac_sha256_hex
from meetbridge.store import repository
from meetbridge.store.models import AccountItem, AlertGroupItem, TenantItem

WINDOW = timedelta(hours=1)
MAX_KEPT = 50  # alerts a digest lists; those past it are counted
MAX_RECENT_IDS = 200  # far more than a window's alerts are redelivered across
MAX_PROBLEM_CHARS = 1000
QUIET_GROUP_KEPT = timedelta(days=7)
# A window whose schedule was never made (a worker stopped between the write and the schedule) ends this
# soon after a redelivery finds it past its end.
LATE_FLUSH = timedelta(minutes=1)
TENANT_GROUP = 'tenant'
KINDS = {
    events.CONNECTION_BROKEN: 'connection_broken',
    events.CONNECTION_EXPIRING: 'connection_expiring',
    events.MEETING_FAILED: 'meeting_failed',
    events.BOOKING_PROBLEM: 'booking_problem',
    events.ACCOUNTS_RECONCILED: 'accounts_reconciled',
}
# The alert webhook queue's messages are in the bus's shape, so the dead-letter tools name their tenant.
ALERT_WEBHOOK = 'alert.webhook'
SIGNATURE_HEADER = 'X-Meetbridge-Signature'
WEBHOOK_TIMEOUT = httpx2.Timeout(5.0, connect=2.0)
# A host's addresses tried in turn when one refuses the connection; more would outlast the function's timeout.
MAX_ADDRESSES_TRIED = 3


@dataclass(frozen=True)
class Alert:
    alert_id: str  # the event's id: the same on every delivery of one event
    kind: str
    at: str  # ISO UTC
    account_id: str | None
    booking_id: str | None
    problem: str

    def as_map(self) -> dict[str, Any]:
        return {'id': self.alert_id, 'kind': self.kind, 'at': self.at, 'account_id': self.account_id,
                'booking_id': self.booking_id, 'problem': self.problem}


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    html: str


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace('+00:00', 'Z')


def _problem_of(detail_type: str, detail: dict[str, Any]) -> str:
    if detail_type == events.ACCOUNTS_RECONCILED:
        failed = detail.get('failed') or []
        # `failed` lists the first failures only; `failed_count` counts them all.
        text = (f"{detail.get('rehomed', 0)} future meetings moved, {detail.get('failed_count', len(failed))} failed, "
                f"{detail.get('ended_untouched', 0)} ended and left as they were")
        reasons = '; '.join(dict.fromkeys(str(failure.get('problem', '')) for failure in failed[:5] if failure))
        return f'{text} ({reasons})' if reasons else text
    problem = str(detail.get('problem') or '')
    if detail_type == events.BOOKING_PROBLEM and detail.get('kind'):
        problem = f"{detail['kind'].replace('_', ' ')}: {problem}"
    if detail_type == events.CONNECTION_EXPIRING and detail.get('expires_at'):
        problem = f"{problem} (expires {detail['expires_at']})"
    return problem


def alert_of(detail_type: str, detail: dict[str, Any], at: datetime) -> Alert:
    """The alert an event is; `at` is when it happened (the bus's time)."""
    alert_id = detail.get('event_id') or detail.get('notice_id') or hashlib.sha256(
        json.dumps(detail, sort_keys=True, default=str).encode()).hexdigest()
    return Alert(alert_id=str(alert_id), kind=KINDS[detail_type], at=_iso(at),
                 account_id=detail.get('account_id') or None, booking_id=detail.get('booking_id') or None,
                 problem=_problem_of(detail_type, detail)[:MAX_PROBLEM_CHARS])


def group_of(alert: Alert) -> str:
    return alert.account_id or TENANT_GROUP


def _message_id(tenant_id: str, group: str, what: str) -> str:
    return 'alr_' + hashlib.sha256(f'{tenant_id}|{group}|{what}'.encode()).hexdigest()[:32]


def _message(tenant_id: str, group: str, what: str, alerts: list[dict], more: int, closes: str, now: datetime) -> dict:
    return {'message_id': _message_id(tenant_id, group, what), 'group': group, 'alerts': alerts, 'more': more,
            'closes': closes, 'decided_at': _iso(now)}


def _group(tenant_id: str, group: str) -> AlertGroupItem:
    found = repository.find_consistent(AlertGroupItem, AlertGroupItem.key(tenant_id, group))
    return found or AlertGroupItem(*AlertGroupItem.key(tenant_id, group), group=group)


def _saved(item: AlertGroupItem, now: datetime) -> bool:
    """Whether the versioned write went through (False: another consumer wrote first; read it again)."""
    item.ttl = now + QUIET_GROUP_KEPT
    try:
        repository.save(item)
    except Conflict:
        return False
    return True


def _has_contacts(tenant: TenantItem) -> bool:
    return bool(tenant.alert_emails or tenant.alert_webhook_url)


def take(tenant_id: str, alert: Alert, now: datetime) -> dict | None:
    """Records an alert in its group; returns the message to send now (None: kept for the window's digest,
    already recorded, or nobody to tell)."""
    if not _has_contacts(repository.get_tenant(tenant_id)):
        logger.info('alert not sent: the tenant has no alert contacts', extra={'tenant_id': tenant_id, 'kind': alert.kind})
        return None
    group = group_of(alert)
    while True:
        item = _group(tenant_id, group)
        if alert.alert_id in item.recent_ids:
            outgoing = item.outgoing
            # The write that decided to send it was made; the send may not have been: send it again.
            if outgoing and any(kept['id'] == alert.alert_id for kept in outgoing['alerts']):
                _end_window_later(tenant_id, item, now)
                return outgoing
            return None
        item.recent_ids = [*item.recent_ids, alert.alert_id][-MAX_RECENT_IDS:]
        if item.window_until is not None and now < item.window_until:
            if len(item.pending) < MAX_KEPT:
                item.pending = [*item.pending, alert.as_map()]
            else:
                item.pending_overflow += 1
            message = None
        else:
            # A window that ended without its digest yet (Scheduler fires within the minute after) is sent now.
            pending = item.pending
            message = _message(tenant_id, group, f'alert|{alert.alert_id}', [*pending, alert.as_map()][:MAX_KEPT],
                               item.pending_overflow + max(len(pending) + 1 - MAX_KEPT, 0), '', now)
            item.pending, item.pending_overflow, item.window_until, item.outgoing = [], 0, now + WINDOW, message
        if _saved(item, now):
            break
    if message is not None:
        _end_window_later(tenant_id, item, now)
    return message


def flush(tenant_id: str, group: str, window_until: str, now: datetime) -> dict | None:
    """The end of a group's window: returns its digest to send (None: nothing was kept, or the window was
    already ended), and opens the next window when there is one."""
    while True:
        item = repository.find_consistent(AlertGroupItem, AlertGroupItem.key(tenant_id, group))
        if item is None:
            return None
        if item.window_until is not None and _iso(item.window_until) == window_until:
            if item.pending:
                message = _message(tenant_id, group, f'digest|{window_until}', item.pending,
                                   item.pending_overflow, window_until, now)
                item.pending, item.pending_overflow, item.window_until, item.outgoing = [], 0, now + WINDOW, message
            else:
                message, item.window_until = None, None
            if _saved(item, now):
                break
            continue
        outgoing = item.outgoing
        if outgoing and outgoing['closes'] == window_until:
            message = outgoing  # this window's digest was decided; its send may not have been made
            break
        return None  # a window already ended by an alert that came after it
    if message is not None:
        _end_window_later(tenant_id, item, now)
    return message


def _end_window_later(tenant_id: str, item: AlertGroupItem, now: datetime) -> None:
    """The schedule that ends the group's open window (made once per window, whatever calls this)."""
    if item.window_until is not None:
        scheduling.put_alert_flush(tenant_id, item.group, item.window_until, max(item.window_until, now + LATE_FLUSH))


# --- the messages -----------------------------------------------------------------------------------


def _account_variables(tenant_id: str, group: str) -> dict[str, str]:
    account = None if group == TENANT_GROUP else repository.find(AccountItem, AccountItem.key(tenant_id, group))
    if account is None:
        return {'account_type': '', 'account_connected_as': '', 'account_slot': ''}
    # Only who an OAuth account is connected as: a custom link's URL can be a room's key.
    return {'account_type': account.type, 'account_connected_as': repository.settings_of(account).get('email') or '',
            'account_slot': account.holder or ''}


def _time_label(at: str) -> str:
    return datetime.fromisoformat(at).astimezone(UTC).strftime('%Y-%m-%d %H:%M UTC')


def emails(tenant: TenantItem, message: dict) -> list[Email]:
    """The alert's email to each alert address, from the template of its first alert's kind."""
    contacts = alert_settings.contacts_of(tenant)
    name = f"alert_{message['alerts'][0]['kind']}"
    # Written to the admin: the tenant level's text in the tenant's own language, else the built-in English.
    default_locale = notification_settings.of(tenant).default_locale
    template = TemplateBook.read(tenant.tenant_id, [name], ['email'], None, None, [None], default_locale).choose(
        name, 'email', None)
    if not contacts.emails or not template.enabled:
        return []
    alerts = [{'kind': alert['kind'].replace('_', ' '), 'time': _time_label(alert['at']),
               'booking_id': alert.get('booking_id') or '', 'problem': alert.get('problem') or ''}
              for alert in message['alerts']]
    variables = {
        'company_name': tenant.name, **_account_variables(tenant.tenant_id, message['group']),
        'alerts': alerts, 'more_alerts': int(message['more']),
        'alerts_text': '\n'.join(f"{alert['time']} {alert['kind']}"
                                 + (f", booking {alert['booking_id']}" if alert['booking_id'] else '')
                                 + (f": {alert['problem']}" if alert['problem'] else '') for alert in alerts),
    }
    try:
        subject, html = render.render(template.subject, template.body, variables)
    except TemplateError as exc:
        if template.is_default:
            raise
        logger.warning('tenant alert template failed; sending the default',
                       extra={'tenant_id': tenant.tenant_id, 'template': name, 'error': render.failure_reason(exc)})
        subject, html = render.render(*DEFAULT_TEMPLATES[name], variables)
    return [Email(address, subject, html) for address in contacts.emails]


def webhook_message(tenant: TenantItem, message: dict) -> dict | None:
    """What the alert webhook queue carries for a message (None without a webhook URL): the body to post,
    the same on every retry. The URL is read again when it is posted, so none is kept in a queue."""
    if not tenant.alert_webhook_url:
        return None
    body = {'id': message['message_id'], 'type': 'alert', 'tenant_id': tenant.tenant_id, 'group': message['group'],
            'alerts': [{'kind': alert['kind'], 'at': alert['at'], 'account_id': alert.get('account_id'),
                        'booking_id': alert.get('booking_id'), 'problem': alert.get('problem') or ''}
                       for alert in message['alerts']],
            'more_alerts': int(message['more']), 'sent_at': message['decided_at']}
    return {'source': events.SOURCE, 'detail-type': ALERT_WEBHOOK,
            'detail': {'tenant_id': tenant.tenant_id, 'event_id': message['message_id'], 'body': body}}


def queue_webhook(webhook: dict) -> None:
    aws.client('sqs').send_message(QueueUrl=settings(AlertQueuesSettings).alert_webhook_queue_url,
                                   MessageBody=json.dumps(webhook, separators=(',', ':')))


# --- the signed webhook -------------------------------------------------------------------------------


@functools.cache
def _http() -> httpx2.Client:
    """One per container. Redirects are not followed: the signed body goes to the URL the admin set and nowhere
    else. No connection is kept for the next post: the pool knows a connection by its address, and one whose
    certificate was checked for one tenant's host must not carry another host's alert that shares the address."""
    return httpx2.Client(timeout=WEBHOOK_TIMEOUT, follow_redirects=False,
                         limits=httpx2.Limits(max_keepalive_connections=0))


def signature(secret: bytes, timestamp: int, raw: bytes) -> str:
    """The inbound generic webhook's scheme: `t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>`."""
    return f't={timestamp},v1={hmac_sha256_hex(secret, str(timestamp).encode() + b"." + raw)}'


def post_webhook(detail: dict, now: datetime) -> str:
    """Posts an alert to the tenant's webhook URL, signed with its webhook secret. RetryLater when the
    receiver does not answer 2xx; the message says neither the URL nor the secret."""
    try:
        tenant = repository.get_tenant(detail['tenant_id'])
    except NotFound:
        return 'dropped: no such tenant'
    url = tenant.alert_webhook_url
    if not url:
        return 'dropped: the tenant has no alert webhook any more'
    try:
        alert_settings.checked_webhook_url(url)
    except ValueError:
        return 'dropped: the alert webhook URL may not be posted to'
    addresses = alert_settings.checked_addresses(url)
    if not addresses:
        # A name that does not resolve, or resolves inside a network; a DNS answer may change, so it is retried.
        raise RetryLater('the alert webhook host does not resolve to a public address')
    raw = json.dumps(detail['body'], separators=(',', ':')).encode()
    timestamp = int(now.timestamp())
    secret = tenants.webhook_secrets(tenant, now)[0]  # the current secret
    headers = {'Content-Type': 'application/json', SIGNATURE_HEADER: signature(secret, timestamp, raw),
               'User-Agent': 'meetbridge-alerts'}
    try:
        status = post_to_checked_address(url, addresses[:MAX_ADDRESSES_TRIED], raw, headers)
    except httpx2.HTTPError as exc:
        raise RetryLater(f'the alert webhook did not answer ({type(exc).__name__})') from None
    if not 200 <= status < 300:
        raise RetryLater(f'the alert webhook answered {status}')
    return f'delivered: {status}'


def post_to_checked_address(url: str, addresses: list[str], raw: bytes, headers: dict[str, str]) -> int:
    """Posts to the URL at one of the addresses its host was checked to resolve to, in the resolver's order, and
    answers the status. The request names the address, so the name is not resolved again; TLS still verifies the
    certificate for the host's name (sni_hostname) and the Host header names it. An address that could not be
    connected to is passed over: nothing was sent to it."""
    url = httpx2.URL(url)
    headers = {**headers, 'Host': url.netloc.decode('ascii')}
    extensions = {'sni_hostname': url.raw_host.decode('ascii')}

    def post(address: str) -> int:
        # Streamed and never read: only the status counts, and a receiver that drips a body holds nothing.
        with _http().stream('POST', url.copy_with(host=address), content=raw, headers=headers,
                            extensions=extensions) as response:
            return response.status_code

    for address in addresses[:-1]:
        try:
            return post(address)
        except (httpx2.ConnectError, httpx2.ConnectTimeout):
            continue
    return post(addresses[-1])
