"""The demo tenant: created through the shared package, then configured through the admin API.

With the provider sandboxes running, the seed also asks the admin API for a connect link per
provider: Zoom as the company account (it replaces the demo custom link once someone clicks Allow) and
Microsoft Teams as the demo provider's own account (a provider's own account hosts their bookings before
the company's), so that both kinds of account can be tried; Google Meet as the own account of a second
demo provider, ``prov-google``, so that connecting it moves neither of the others.
"""

from __future__ import annotations

import json
import shlex
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Iterable

from . import room

SERVICE_ID = "svc-demo"
PROVIDER_ID = "prov-demo"
GOOGLE_PROVIDER_ID = "prov-google"

DEMO_SERVICE = {"name": "Online consultation", "online": True, "kind": "appointment"}
DEMO_PROVIDER = {"name": "Dana Demo", "email": "dana@example.com", "timezone": "Europe/Berlin"}
# Whose account each provider's seeded connect link connects: None is the company account.
DEMO_CONNECTIONS: dict[str, str | None] = {"zoom": None, "microsoft": PROVIDER_ID, "google": GOOGLE_PROVIDER_ID}
# Providers that exist only to hold a seeded connection, created just before their link is asked for.
CONNECTION_PROVIDERS = {
    GOOGLE_PROVIDER_ID: {"name": "Gus Google", "email": "gus@example.com", "timezone": "America/New_York"},
}


# What create_tenant reads: the seed runs it in the stack's own process, as an operator's CLI would.
OPERATOR_VARIABLES = ("TABLE_NAME", "KMS_KEY_ID")


class SeedError(Exception):
    pass


def operator_environment(environments: list[dict[str, str]]) -> dict[str, str]:
    """The variables the seed needs, taken from the first function that has each."""
    found: dict[str, str] = {}
    for env in environments:
        for key in OPERATOR_VARIABLES:
            if key in env:
                found.setdefault(key, env[key])
    return found


@dataclass
class ConnectLink:
    provider_type: str
    provider_id: str | None  # None: the company account
    url: str
    expires_at: str


@dataclass
class DemoTenant:
    tenant_id: str
    name: str
    api_key: str
    webhook_secret: str
    service_id: str = SERVICE_ID
    provider_id: str = PROVIDER_ID
    connect_links: dict[str, ConnectLink] = field(default_factory=dict)  # by provider type


def admin_call(api_url: str, api_key: str, method: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        api_url + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our loopback gateway
            text = response.read().decode() or "null"
    except urllib.error.HTTPError as exc:
        raise SeedError(f"{method} {path} -> {exc.code}: {exc.read().decode(errors='replace')[:500]}") from None
    try:
        return json.loads(text)
    except ValueError:
        return text


def admin_put(api_url: str, api_key: str, path: str, body: dict[str, Any]) -> Any:
    return admin_call(api_url, api_key, "PUT", path, body)


def demo_account(api_url: str) -> dict[str, str]:
    """The company account the demo starts with: a custom link to the room page this stack serves."""
    return {"type": "custom_link", "url": api_url + room.PATH, "password": "demo-pass", "description": "Demo room"}


def seed_demo(api_url: str, *, name: str = "Demo clinic", connect: Iterable[str] = ()) -> DemoTenant:
    """The demo tenant; ``connect`` names the providers (zoom, microsoft, google) to ask a connect link for."""
    try:
        from meetbridge import config
        from meetbridge.cli import ConsoleSettings
        from meetbridge.logic.tenants import create_tenant
    except ImportError as exc:
        raise SeedError(f"cannot import meetbridge.logic.tenants.create_tenant: {exc}") from exc
    # Written straight to the table, as the console command does.
    with config.using(ConsoleSettings):
        created = create_tenant(name)
    tenant = DemoTenant(
        tenant_id=str(created.tenant_id),
        name=str(created.name),
        api_key=str(created.api_key),
        webhook_secret=str(created.webhook_secret),
    )
    base = f"/v1/tenants/{tenant.tenant_id}"
    admin_put(api_url, tenant.api_key, f"{base}/services/{SERVICE_ID}", DEMO_SERVICE)
    admin_put(api_url, tenant.api_key, f"{base}/providers/{PROVIDER_ID}", DEMO_PROVIDER)
    admin_put(api_url, tenant.api_key, f"{base}/accounts/default", demo_account(api_url))
    for provider_type in connect:
        provider_id = DEMO_CONNECTIONS.get(provider_type)
        if provider_id in CONNECTION_PROVIDERS:
            admin_put(api_url, tenant.api_key, f"{base}/providers/{provider_id}", CONNECTION_PROVIDERS[provider_id])
        link = admin_call(api_url, tenant.api_key, "POST", f"{base}/connections/{provider_type}/connect-link",
                          {"provider_id": provider_id, "return_url": None})
        tenant.connect_links[provider_type] = ConnectLink(provider_type, provider_id, link["url"], link["expires_at"])
    return tenant


def webhook_urls(api_url: str, tenant: DemoTenant) -> dict[str, str]:
    """Per booking source, the URL its webhooks for the demo tenant go to (what a business pastes into its platform)."""
    from meetbridge.logic.sources import webhook_url
    from meetbridge.sources import SOURCE_NAMES

    return {source: webhook_url(api_url, source, tenant.tenant_id) for source in SOURCE_NAMES}


def connect_link_command(api_url: str, tenant: DemoTenant, provider_type: str, provider_id: str | None) -> str:
    """A curl command asking for a new connect link (each lasts 15 minutes, and works once)."""
    q = shlex.quote
    body = json.dumps({"provider_id": provider_id, "return_url": None}, separators=(",", ":"))
    return (f"curl -sS -X POST -H {q('Authorization: Bearer ' + tenant.api_key)} -H 'Content-Type: application/json' "
            f"-d {q(body)} {q(f'{api_url}/v1/tenants/{tenant.tenant_id}/connections/{provider_type}/connect-link')}")


def own_account_command(api_url: str, tenant: DemoTenant, method: str, provider_id: str) -> str:
    """A curl command reading (GET) or disconnecting (DELETE) a provider's own meeting account."""
    q = shlex.quote
    return (f"curl -sS -X {method} -H {q('Authorization: Bearer ' + tenant.api_key)} "
            f"{q(f'{api_url}/v1/tenants/{tenant.tenant_id}/providers/{provider_id}/account')}")


def booking_snippet(api_url: str, tenant: DemoTenant) -> str:
    """A shell snippet posting a signed booking that starts MINUTES (default 2) after it is pasted."""
    q = shlex.quote
    booking = (
        '{"event_id":"evt-%s","type":"booking.created","booking":{"id":"bk-%s",'
        f'"service_id":"{tenant.service_id}","provider_id":"{tenant.provider_id}",'
        '"start":"%s","end":"%s","timezone":"Europe/Berlin","session_id":null,'
        '"payment":{"required":false,"status":"pending"},'
        '"client":{"id":"cl-%s","name":"Chris Client","email":"chris@example.com","timezone":"Europe/London"}}}'
    )
    return f"""\
API={q(api_url)}; TENANT={q(tenant.tenant_id)}; KEY={q(tenant.api_key)}; SECRET={q(tenant.webhook_secret)}
N=$(date +%s); S=$((N + ${{MINUTES:-2}} * 60)); E=$((S + 1800))
iso() {{ date -u -d "@$1" +%Y-%m-%dT%H:%M:%S+00:00 2>/dev/null || date -u -r "$1" +%Y-%m-%dT%H:%M:%S+00:00; }}
BODY=$(printf '{booking}' "$N" "$N" "$(iso $S)" "$(iso $E)" "$N")
T=$(date +%s)
SIG=$(printf '%s.%s' "$T" "$BODY" | openssl dgst -sha256 -hmac "$SECRET" | sed 's/^.* //')
curl -sS -w ' HTTP %{{http_code}}\\n' -X POST "$API/webhooks/generic/$TENANT" \\
  -H 'Content-Type: application/json' -H "X-Meetbridge-Signature: t=$T,v1=$SIG" --data-binary "$BODY"
echo "booking bk-$N: curl -sS -H \\"Authorization: Bearer $KEY\\" $API/v1/tenants/$TENANT/bookings/bk-$N"
echo "emails: $API/_local/outbox.html"
"""
