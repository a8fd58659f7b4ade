"""A tenant's alert contacts: the addresses alerts are emailed to and the URL they are posted to, signed.

Setting them is all it takes (no opt-in step). The webhook URL is https, or plain http to this machine
when the local stack allows it (ALERT_WEBHOOK_ALLOW_HTTP_LOOPBACK); it never carries a user name or
password. Delivery checks the URL again, so a URL saved under other rules is not posted to.
"""

from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from meetbridge.config import AlertWebhookSettings, settings
from meetbridge.domain.model import Email
from meetbridge.store import repository
from meetbridge.store.models import TenantItem

MAX_EMAILS = 10
MAX_URL_CHARS = 2048
LOOPBACK_HOSTS = ('127.0.0.1', 'localhost', '::1')


def checked_webhook_url(url: str) -> str:
    """The URL as given when it may be posted to; ValueError saying why not."""
    try:
        parts = urlsplit(url)
        parts.port  # raises on a port that is not a number
    except ValueError:
        raise ValueError('must be an https URL') from None
    if not parts.hostname or parts.username is not None or parts.password is not None or '@' in parts.netloc:
        raise ValueError('must be an https URL with a host and without a user name or password')
    if parts.scheme == 'https':
        return url
    if parts.scheme == 'http' and parts.hostname in LOOPBACK_HOSTS \
            and settings(AlertWebhookSettings).alert_webhook_allow_http_loopback:
        return url
    raise ValueError('must be an https URL')


def _distinct(emails: list[str]) -> list[str]:
    folded = [email.lower() for email in emails]
    for email in folded:
        if folded.count(email) > 1:
            raise ValueError(f'{email} is given twice')
    return emails


class AlertContacts(BaseModel):
    """Who is told when a meeting account breaks or is about to, a meeting fails, a booking fell back or
    was re-made, or an account's future meetings were moved: up to 10 addresses, and a URL that gets each
    alert as a signed JSON POST (null: none)."""

    model_config = ConfigDict(extra='forbid')

    emails: Annotated[list[Email], Field(max_length=MAX_EMAILS), AfterValidator(_distinct)]
    webhook_url: Annotated[str, Field(min_length=1, max_length=MAX_URL_CHARS), AfterValidator(checked_webhook_url)] | None = None


def contacts_of(tenant: TenantItem) -> AlertContacts:
    return AlertContacts.model_construct(emails=list(tenant.alert_emails or ()), webhook_url=tenant.alert_webhook_url)


def get_contacts(tenant_id: str) -> AlertContacts:
    return contacts_of(repository.get_tenant(tenant_id))


def put_contacts(tenant_id: str, body: AlertContacts) -> AlertContacts:
    tenant = repository.get_tenant(tenant_id)
    tenant.update(actions=[
        TenantItem.alert_emails.set(body.emails) if body.emails else TenantItem.alert_emails.remove(),
        TenantItem.alert_webhook_url.set(body.webhook_url) if body.webhook_url else TenantItem.alert_webhook_url.remove(),
    ])
    return body
