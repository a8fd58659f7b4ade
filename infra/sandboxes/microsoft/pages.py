"""The HTML a person sees: Microsoft's sign-in error page, the consent page ("Permissions requested"),
the form_post hand-back, the Teams join landing and the index."""

from __future__ import annotations

from html import escape
from typing import Any, Iterable

from ..pages import control_section

STYLE = """
body{font-family:'Segoe UI','Segoe UI Web (West European)',-apple-system,Helvetica,Arial,sans-serif;
background:#f2f2f2;color:#1b1b1b;margin:0}
.card{max-width:440px;margin:48px auto;background:#fff;box-shadow:0 2px 6px rgba(0,0,0,.2);padding:44px}
.wide{max-width:1100px}
.logo{display:inline-grid;grid-template-columns:10px 10px;gap:1px;vertical-align:middle;margin-right:8px}
.logo i{width:10px;height:10px;display:block}
.brand{font-size:15px;color:#5e5e5e;font-weight:600}
h1{font-size:24px;font-weight:600;margin:16px 0 8px} h2{font-size:17px;font-weight:600}
.muted{color:#616161;font-size:13px} code{background:#f3f3f3;padding:1px 4px;font-size:12px}
ul.perms{padding-left:18px} ul.perms li{margin:6px 0}
button{min-width:108px;padding:6px 12px;font-size:15px;border:1px solid #8c8c8c;cursor:pointer;margin-left:8px}
.accept{background:#0067b8;border-color:#0067b8;color:#fff} .cancel{background:#ccc;color:#1b1b1b;border-color:#ccc}
.buttons{text-align:right;margin-top:24px} select{font-size:15px;padding:4px;width:100%}
.error h1{color:#1b1b1b} .details{font-family:Consolas,monospace;font-size:12px;color:#616161;margin-top:18px}
table{border-collapse:collapse;width:100%;font-size:13px} td,th{border-bottom:1px solid #e5e5e5;padding:4px;text-align:left}
"""

LOGO = ('<span class="logo"><i style="background:#f25022"></i><i style="background:#7fba00"></i>'
        '<i style="background:#00a4ef"></i><i style="background:#ffb900"></i></span>')

SCOPE_TEXT = {
    'OnlineMeetings.ReadWrite': 'Read and create your online meetings',
    'User.Read': 'Sign you in and read your profile',
    'Calendars.ReadWrite': 'Have full access to your calendars',
    'openid': 'Sign you in',
    'profile': 'View your basic profile',
    'email': 'View your email address',
    'offline_access': 'Maintain access to data you have given it access to',
}


def page(title: str, body: str, *, wide: bool = False) -> str:
    width = ' wide' if wide else ''
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<style>{STYLE}</style></head><body><div class="card{width}">'
            f'<div>{LOGO}<span class="brand">Microsoft</span> <span class="muted">sandbox</span></div>'
            f'{body}</div></body></html>')


def sign_in_error(code: int, message: str, *, request_id: str, correlation_id: str, timestamp: str) -> str:
    """Entra's "Sorry, but we're having trouble signing you in." page with its AADSTS message."""
    return page('Sign in to your account', (
        '<div class="error"><h1>Sorry, but we\u2019re having trouble signing you in.</h1>'
        f'<p>AADSTS{code}: {escape(message)}</p>'
        '<div class="details">'
        f'<div>Request Id: {escape(request_id)}</div><div>Correlation Id: {escape(correlation_id)}</div>'
        f'<div>Timestamp: {escape(timestamp)}</div><div>Message: AADSTS{code}: {escape(message)}</div>'
        '</div></div>'))


def consent(*, app_name: str, action: str, users: Iterable[dict[str, Any]], selected: str | None,
            hidden: dict[str, str], scopes: Iterable[str], redirect_uri: str) -> str:
    def label(user: dict[str, Any]) -> str:
        kind = 'personal account' if user['personal'] else 'work or school account'
        name = user['display_name'] or user['email']
        return f'{name} &lt;{escape(user["email"])}&gt; ({kind})'

    options = ''.join(
        f'<option value="{escape(u["id"])}"{" selected" if u["id"] == selected else ""}>{label(u)}</option>'
        for u in users)
    fields = ''.join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in hidden.items())
    items = ''.join(f'<li>{escape(SCOPE_TEXT.get(s, s))} <span class="muted">(<code>{escape(s)}</code>)</span></li>'
                    for s in scopes)
    return page('Permissions requested', (
        f'<form method="post" action="{escape(action)}">{fields}'
        '<p><label class="muted">Pick an account<br><select name="user_id">'
        f'{options}</select></label></p>'
        '<h1>Permissions requested</h1>'
        f'<p><b>{escape(app_name)}</b><br><span class="muted">unverified</span></p>'
        f'<p>This app would like to:</p><ul class="perms">{items}</ul>'
        '<p class="muted">Accepting these permissions means that you allow this app to use your data as specified '
        'in their terms of service and privacy statement. You can change these permissions at '
        'https://myapps.microsoft.com.</p>'
        f'<p class="muted">You will be sent back to <code>{escape(redirect_uri)}</code></p>'
        '<div class="buttons"><button class="cancel" type="submit" name="decision" value="cancel">Cancel</button>'
        '<button class="accept" type="submit" name="decision" value="accept">Accept</button></div></form>'))


def form_post(action: str, fields: dict[str, str]) -> str:
    """response_mode=form_post: the browser POSTs the answer to the redirect URI by itself."""
    inputs = ''.join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())
    return ('<!doctype html><html><head><title>Working...</title></head><body onload="document.forms[0].submit()">'
            f'<form method="POST" name="hiddenform" action="{escape(action)}">{inputs}'
            '<noscript><p>Script is disabled. Click Submit to continue.</p><input type="submit" value="Submit">'
            '</noscript></form></body></html>')


def notice(title: str, message: str) -> str:
    return page(title, f'<h1>{escape(title)}</h1><p>{escape(message)}</p>')


def index(*, url: str, authority: str, client_id: str, redirect_uris: list[str], users: list[dict],
          meetings: list[dict], now: str, personal_on_organizations: bool) -> str:
    user_rows = ''.join(
        f'<tr><td><code>{escape(u["id"])}</code></td><td>{escape(u["email"])}</td>'
        f'<td>{escape(u["display_name"])}</td><td><code>{escape(u["tenant_id"])}</code></td>'
        f'<td>{"personal" if u["personal"] else ("licensed" if u["licensed"] else "no Teams licence")}</td></tr>'
        for u in users)
    meeting_rows = ''.join(
        f'<tr><td><code>{escape(m["id"][:24])}…</code></td><td>{escape(m.get("subject") or "")}</td>'
        f'<td><code>{escape(m["participants"]["organizer"]["identity"]["user"]["id"])}</code></td>'
        f'<td>{escape(m["startDateTime"])}</td><td>{escape(m["endDateTime"])}</td>'
        f'<td><a href="{escape(m["joinWebUrl"])}">join</a></td></tr>' for m in meetings) or (
        '<tr><td colspan="6" class="muted">No meetings yet.</td></tr>')
    uris = ''.join(f'<li><code>{escape(u)}</code></li>' for u in redirect_uris) or (
        '<li class="muted">None yet (POST /_sandbox/redirect-uris {"uri": ...}).</li>')
    return page('Microsoft sandbox', (
        f'<h1>Microsoft sandbox</h1><p class="muted">Sandbox clock: {escape(now)}. Authority '
        f'<code>{escape(authority)}</code> (its host maps to <code>{escape(url)}</code>); discovery at '
        f'<code>{escape(url)}/organizations/v2.0/.well-known/openid-configuration</code>; Graph at '
        f'<code>{escape(url)}/v1.0</code>; client_id <code>{escape(client_id)}</code>. Personal accounts on '
        f'<code>organizations</code>: {"allowed (sandbox switch)" if personal_on_organizations else "refused"}.</p>'
        f'<h2>Redirect URIs</h2><ul>{uris}</ul>'
        '<h2>Users</h2><table><tr><th>object id</th><th>email</th><th>name</th><th>tenant</th><th></th></tr>'
        f'{user_rows}</table>'
        '<h2>Online meetings</h2><table>'
        '<tr><th>id</th><th>subject</th><th>organizer</th><th>start (UTC)</th><th>end (UTC)</th><th></th></tr>'
        f'{meeting_rows}</table>'
        + control_section('POST /_sandbox/revoke {user_id}',
                          'POST /_sandbox/users {user_id, email, display_name?, tenant_id?, licensed?}',
                          'POST /_sandbox/settings {allow_personal_accounts_on_organizations}')), wide=True)
