"""Our own join links: /j/<token>, the token unguessable and stored only as its digest.

The full URL is also kept sealed with the booking (client) or meeting (provider) so that
notifications and the admin API can show the same link again after a reschedule.
"""

import secrets as _random
from datetime import datetime, timedelta

from meetbridge.config import LinksSettings, settings
from meetbridge.security import secrets
from meetbridge.store import repository
from meetbridge.store.models import JoinLinkItem

# A link item outlives its meeting by this long, then DynamoDB's TTL removes it.
KEEP_AFTER_END = timedelta(days=30)


def mint(
    tenant_id: str, role: str, meeting_key: str, end: datetime, now: datetime,
    booking_id: str | None = None, client_id: str | None = None,
) -> tuple[str, bytes]:
    """Returns the URL and its sealed form; 192 random bits per token."""
    token = _random.token_urlsafe(24)
    JoinLinkItem(
        *JoinLinkItem.key(secrets.digest(token)),
        tenant_id=tenant_id,
        role=role,
        meeting_key=meeting_key,
        booking_id=booking_id,
        client_id=client_id,
        created_at=now,
        ttl=end + KEEP_AFTER_END,
    ).save(condition=JoinLinkItem.pk.does_not_exist())
    url = f'{settings(LinksSettings).public_base_url.rstrip("/")}/j/{token}'
    subject = booking_id if role == 'client' else meeting_key
    return url, repository.seal_json({'url': url}, tenant_id, f'{role}_link', subject)


def open_sealed(blob: bytes | None, tenant_id: str, role: str, subject: str) -> str | None:
    if not blob:
        return None
    return repository.unseal_json(blob, tenant_id, f'{role}_link', subject)['url']


def token_of(url: str) -> str:
    return url.rsplit('/', 1)[-1]


def set_status(url: str | None, status: str) -> None:
    if not url:
        return
    item = repository.find(JoinLinkItem, JoinLinkItem.key(secrets.digest(token_of(url))))
    if item and item.status != status:
        item.update(actions=[JoinLinkItem.status.set(status)])


def extend(url: str | None, end: datetime) -> None:
    """Keeps a link alive when its meeting moves later."""
    if not url:
        return
    item = repository.find(JoinLinkItem, JoinLinkItem.key(secrets.digest(token_of(url))))
    if item:
        item.update(actions=[JoinLinkItem.ttl.set(end + KEEP_AFTER_END)])
