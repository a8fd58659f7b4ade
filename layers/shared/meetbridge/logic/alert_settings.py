"""A tenant's alert contacts: the addresses alerts are emailed to and the URL they are posted to, signed.

Setting them is all it takes (no opt-in step). The webhook URL is https, or plain http to this machine
when the local stack allows it (ALERT_WEBHOOK_ALLOW_HTTP_LOOPBACK); it never carries a user name or
password, and it never names an address inside a network (loopback, private, link-local such as the cloud's
metadata service, reserved): the function posting it must not become a way to reach those. Delivery checks
the URL again, and the addresses its host resolves to, then connects to one of those checked addresses (not
to the name, resolved again), so a URL saved under other rules, or a name that resolves inside a network at
either moment, is not posted to.
"""

import ipaddress
import socket

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


def _loopback_allowed(hostname: str) -> bool:
    return hostname in LOOPBACK_HOSTS and settings(AlertWebhookSettings).alert_webhook_allow_http_loopback


# NAT64's well-known prefix counts as global, but it reaches the IPv4 address in its last 32 bits (RFC 6052):
# 64:ff9b::a9fe:a9fe is the metadata service behind a NAT64 gateway.
NAT64 = ipaddress.ip_network('64:ff9b::/96')


def _public(address: str) -> bool:
    try:
        parsed = ipaddress.ip_address(address.split('%', 1)[0])
    except ValueError:
        return False
    if parsed.version == 6 and parsed in NAT64:
        parsed = ipaddress.IPv4Address(int(parsed) & 0xFFFFFFFF)
    return parsed.is_global


def checked_webhook_url(url: str) -> str:
    """The URL as given when it may be posted to; ValueError saying why not."""
    # Imported when a URL is checked: the admin function's other routes never pay for the HTTP client.
    import httpx2

    try:
        parts = urlsplit(url)
        parts.port  # raises on a port that is not a number
        httpx2.URL(url)  # what the client would refuse to send to
    except (ValueError, httpx2.InvalidURL):
        raise ValueError('must be an https URL') from None
    hostname = parts.hostname
    if not hostname or parts.username is not None or parts.password is not None or '@' in parts.netloc:
        raise ValueError('must be an https URL with a host and without a user name or password')
    if parts.scheme == 'http' and _loopback_allowed(hostname):
        return url
    if parts.scheme != 'https':
        raise ValueError('must be an https URL')
    if hostname in LOOPBACK_HOSTS or hostname.endswith('.localhost') or \
            (_is_address(hostname) and not _public(hostname)):
        raise ValueError('must name a public host, not an address inside a network')
    return url


def _is_address(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname.split('%', 1)[0])
    except ValueError:
        return False
    return True


def _connectable(address: str, loopback_allowed: bool) -> bool:
    if _public(address):
        return True
    return loopback_allowed and ipaddress.ip_address(address.split('%', 1)[0]).is_loopback


def checked_addresses(url: str) -> list[str]:
    """The addresses the URL's host resolves to, resolved once, when every one is public (or loopback the local
    stack allows); else none. The post connects to these and never resolves the host again: a DNS answer that
    changes between the check and the connection (rebinding) cannot point it inside a network. Names like
    0x7f000001, or one a DNS record points inside a network, are caught here, not by the text."""
    import httpx2  # as in checked_webhook_url

    host = httpx2.URL(url).raw_host.decode('ascii')  # the name as the client sends it (IDNA-encoded)
    loopback_allowed = _loopback_allowed(urlsplit(url).hostname or '')
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    addresses = list(dict.fromkeys(address[4][0] for address in found))
    if addresses and all(_connectable(address, loopback_allowed) for address in addresses):
        return addresses
    return []


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
