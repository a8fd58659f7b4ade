"""The HTML a person sees: Google's authorization error page, the consent page (with the calendar
permission's own checkbox: granular consent), the Meet landing and the index."""

from __future__ import annotations

from html import escape
from typing import Any, Iterable

from ..pages import control_section

STYLE = """
body{font-family:'Google Sans',Roboto,Arial,sans-serif;background:#fff;color:#202124;margin:0}
.card{max-width:450px;margin:48px auto;border:1px solid #dadce0;border-radius:8px;padding:40px}
.wide{max-width:1100px}
.brand{font-size:15px;color:#5f6368;font-weight:500}
.brand b{color:#4285f4}
h1{font-size:24px;font-weight:400;margin:16px 0 8px} h2{font-size:17px;font-weight:500}
.muted{color:#5f6368;font-size:13px} code{background:#f1f3f4;padding:1px 4px;font-size:12px}
ul.perms{list-style:none;padding-left:0} ul.perms li{margin:10px 0}
button{min-width:96px;padding:8px 16px;font-size:14px;border-radius:4px;border:1px solid #dadce0;cursor:pointer;margin-left:8px}
.allow{background:#1a73e8;border-color:#1a73e8;color:#fff} .cancel{background:#fff;color:#1a73e8}
.buttons{text-align:right;margin-top:24px} select{font-size:15px;padding:4px;width:100%}
.error h1{font-size:22px} .details{font-size:13px;color:#5f6368;margin-top:18px}
table{border-collapse:collapse;width:100%;font-size:13px} td,th{border-bottom:1px solid #e8eaed;padding:4px;text-align:left}
"""

SCOPE_TEXT = {
    'openid': 'Associate you with your personal info on Google',
    'email': 'See your primary Google Account email address',
    'profile': 'See your personal info, including any personal info you\u2019ve made publicly available',
    'https://www.googleapis.com/auth/calendar.events.owned':
        'See, create, change, and delete events on Google calendars you own',
    'https://www.googleapis.com/auth/calendar.events': 'View and edit events on all your calendars',
    'https://www.googleapis.com/auth/calendar':
        'See, edit, share, and permanently delete all the calendars you can access using Google Calendar',
}


def page(title: str, body: str, *, wide: bool = False) -> str:
    width = ' wide' if wide else ''
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<style>{STYLE}</style></head><body><div class="card{width}">'
            '<div class="brand"><b>G</b> Sign in with Google <span class="muted">(sandbox)</span></div>'
            f'{body}</div></body></html>')


def error_page(status: int, error: str, message: str, details: str) -> str:
    """Google's "Access blocked" page: what went wrong, and ``Error 400: redirect_uri_mismatch``."""
    title = ('Access blocked: This app\u2019s request is invalid' if error == 'redirect_uri_mismatch'
             else 'Access blocked: Authorization Error')
    return page(title, (
        f'<div class="error"><h1>{escape(title)}</h1><p>{escape(message)}</p>'
        f'<p><b>Error {status}: {escape(error)}</b></p>'
        f'<div class="details">Request details: {escape(details)}</div></div>'))


def consent(*, app_name: str, action: str, users: Iterable[dict[str, Any]], selected: str | None, request: str,
            scopes: Iterable[str], calendar_scopes: Iterable[str], redirect_uri: str) -> str:
    """The consent screen: pick an account; the sign-in scopes are listed, the calendar permission has a
    checkbox of its own, ticked (Google's granular consent lets the user untick it)."""
    options = ''.join(
        f'<option value="{escape(u["id"])}"{" selected" if u["id"] == selected else ""}>'
        f'{escape(u["name"] or u["email"])} &lt;{escape(u["email"])}&gt;</option>' for u in users)
    listed = ''.join(f'<li>{escape(SCOPE_TEXT.get(s, s))}</li>' for s in scopes)
    calendar_scopes = list(calendar_scopes)
    box = ('<li><label><input type="checkbox" name="grant_calendar" value="on" checked> '
           + '; '.join(f'{escape(SCOPE_TEXT.get(s, s))} <span class="muted">(<code>{escape(s)}</code>)</span>'
                       for s in calendar_scopes) + '</label></li>') if calendar_scopes else ''
    return page('Sign in - Google Accounts', (
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="request" value="{escape(request)}">'
        '<p><label class="muted">Choose an account<br><select name="user_id">'
        f'{options}</select></label></p>'
        f'<h1>{escape(app_name)} wants access to your Google Account</h1>'
        f'<ul class="perms">{listed}{box}</ul>'
        f'<p class="muted">Make sure you trust {escape(app_name)}. You will be sent back to '
        f'<code>{escape(redirect_uri)}</code></p>'
        '<div class="buttons"><button class="cancel" type="submit" name="decision" value="cancel">Cancel</button>'
        '<button class="allow" type="submit" name="decision" value="allow">Allow</button></div></form>'))


def notice(title: str, message: str) -> str:
    return page(title, f'<h1>{escape(title)}</h1><p>{escape(message)}</p>')


def index(*, url: str, client_id: str, redirect_uris: list[str], users: list[dict], events: list[dict],
          now: str) -> str:
    user_rows = ''.join(
        f'<tr><td><code>{escape(u["id"])}</code></td><td>{escape(u["email"])}</td><td>{escape(u["name"])}</td>'
        f'<td>{"Meet on" if u["meet_enabled"] else "Meet off"}</td></tr>' for u in users)
    event_rows = ''.join(
        f'<tr><td><code>{escape(e["id"][:24])}</code></td><td>{escape(e.get("summary") or "")}</td>'
        f'<td>{escape(e["owner"])}</td><td>{escape(e["status"])}</td>'
        f'<td>{escape(str(e["start"].get("dateTime") or e["start"].get("date")))}</td>'
        f'<td>{_link(e.get("hangoutLink"))}</td></tr>' for e in events) or (
        '<tr><td colspan="6" class="muted">No events yet.</td></tr>')
    uris = ''.join(f'<li><code>{escape(u)}</code></li>' for u in redirect_uris) or (
        '<li class="muted">None yet (POST /_sandbox/redirect-uris {"uri": ...}).</li>')
    return page('Google sandbox', (
        f'<h1>Google sandbox</h1><p class="muted">Sandbox clock: {escape(now)}. Authorize at '
        f'<code>{escape(url)}/o/oauth2/v2/auth</code>, token <code>{escape(url)}/token</code>, revoke '
        f'<code>{escape(url)}/revoke</code>, Calendar at <code>{escape(url)}/calendar/v3</code>; client_id '
        f'<code>{escape(client_id)}</code>.</p>'
        f'<h2>Redirect URIs</h2><ul>{uris}</ul>'
        '<h2>Users</h2><table><tr><th>sub</th><th>email</th><th>name</th><th></th></tr>'
        f'{user_rows}</table>'
        '<h2>Events</h2><table>'
        '<tr><th>id</th><th>summary</th><th>owner</th><th>status</th><th>start</th><th>Meet</th></tr>'
        f'{event_rows}</table>'
        + control_section('POST /_sandbox/users {user_id, email, name?, meet_enabled?}',
                          'POST /_sandbox/fail {operation, status, body?, headers?, times?, after?}',
                          'POST /_sandbox/rate-limit {operation, times?, retry_after?, status?}',
                          'POST /_sandbox/reset-calls',
                          'POST /_sandbox/revoke-grants {user_id}',
                          'POST /_sandbox/remove-event {event_id}',
                          'POST /_sandbox/conference-pending {reads}')), wide=True)


def _link(uri: str | None) -> str:
    return f'<a href="{escape(uri)}">{escape(uri.rsplit("/", 1)[-1])}</a>' if uri else ''
