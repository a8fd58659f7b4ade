"""The few HTML pages a person sees: consent, OAuth errors, join/start landings, the index."""

from __future__ import annotations

from html import escape
from typing import Any, Iterable
from urllib.parse import urlencode

from ..pages import control_section

STYLE = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;background:#f7f9fa;color:#232333;margin:0}
header{background:#fff;border-bottom:1px solid #ededf4;padding:14px 32px;font-weight:700;color:#0b5cff;font-size:22px}
main{max-width:640px;margin:32px auto;background:#fff;border:1px solid #ededf4;border-radius:12px;padding:28px 32px}
h1{font-size:20px;margin-top:0} .muted{color:#6e7680;font-size:13px} code{background:#f1f4f6;padding:1px 4px}
button{border-radius:8px;padding:9px 22px;font-size:15px;border:1px solid #0b5cff;cursor:pointer;margin-right:8px}
.allow{background:#0b5cff;color:#fff} .deny{background:#fff;color:#0b5cff}
.error{border-left:4px solid #e02828;padding-left:12px} select{font-size:15px;padding:4px}
table{border-collapse:collapse;width:100%;font-size:13px}
td,th{border-bottom:1px solid #ededf4;padding:4px;text-align:left}
"""


def page(title: str, body: str, *, wide: bool = False) -> str:
    width = ' style="max-width:1100px"' if wide else ''
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f'<style>{STYLE}</style></head><body><header>zoom <span class="muted">sandbox</span></header>'
            f'<main{width}>{body}</main></body></html>')


def oauth_error(code: int, message: str, detail: str = '') -> str:
    extra = f'<p class="muted">{escape(detail)}</p>' if detail else ''
    return page(f'Zoom OAuth error {code}', (
        f'<div class="error"><h1>{escape(message)}</h1><p>Error code: <b>{code}</b></p>{extra}</div>'
        '<p class="muted">The app that sent you here is misconfigured. Nothing was authorized.</p>'))


def consent(*, app_name: str, users: Iterable[dict[str, Any]], hidden: dict[str, str], scopes: Iterable[str],
            redirect_uri: str) -> str:
    options = ''.join(
        f'<option value="{escape(u["id"])}">{escape(u["first_name"] + " " + u["last_name"]).strip()} '
        f'&lt;{escape(u["email"])}&gt; ({escape(u["role"])}, {escape(u["account_id"])})</option>'
        for u in users)
    fields = ''.join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in hidden.items())
    scope_items = ''.join(f'<li><code>{escape(s)}</code></li>' for s in scopes)
    return page(f'Authorize {app_name}', (
        f'<h1>{escape(app_name)} would like to access your Zoom account</h1>'
        f'<form method="post" action="/oauth/authorize/decision">{fields}'
        f'<p><label>Sign in as <select name="user_id">{options}</select></label></p>'
        f'<p>The app will be able to:</p><ul>{scope_items}</ul>'
        '<p><label><input type="checkbox" name="shared_access" value="on" checked> '
        'Allow this app to use my shared access permissions</label></p>'
        f'<p class="muted">You will be sent back to <code>{escape(redirect_uri)}</code></p>'
        '<p><button class="allow" type="submit" name="decision" value="allow">Allow</button>'
        '<button class="deny" type="submit" name="decision" value="deny">Deny</button></p></form>'))


def meeting_notice(title: str, message: str) -> str:
    return page(title, f'<h1>{escape(title)}</h1><p>{escape(message)}</p>')


def index(*, url: str, client_id: str, redirect_uris: list[str], users: list[dict], meetings: list[dict],
          now: str) -> str:
    user_rows = ''.join(
        f'<tr><td><code>{escape(u["id"])}</code></td><td>{escape(u["email"])}</td><td>{escape(u["role"])}</td>'
        f'<td>{escape(u["account_id"])}</td><td>{escape(u["timezone"])}</td></tr>' for u in users)
    meeting_rows = ''.join(
        f'<tr><td><code>{m["id"]}</code></td><td>{escape(m["topic"])}</td><td>{escape(m["host_id"])}</td>'
        f'<td>{escape(m.get("start_time") or "")}</td><td>{m["duration"]}</td>'
        f'<td><a href="{escape(m["join_url"])}">join</a></td></tr>' for m in meetings) or (
        '<tr><td colspan="6" class="muted">No meetings yet.</td></tr>')
    def start_link(uri: str) -> str:
        query = urlencode({'response_type': 'code', 'client_id': client_id, 'redirect_uri': uri, 'state': 'from-index'})
        return f'<li><a href="/oauth/authorize?{escape(query)}">authorize for {escape(uri)}</a></li>'

    authorize = ''.join(start_link(uri) for uri in redirect_uris) or (
        '<li class="muted">No redirect URI is allowed yet (POST /_sandbox/redirect-uris {"uri": ...}).</li>')
    return page('Zoom sandbox', (
        f'<h1>Zoom sandbox</h1><p class="muted">Sandbox clock: {escape(now)}. '
        f'OAuth at <code>{escape(url)}/oauth/…</code>, '
        f'REST at <code>{escape(url)}/v2</code>, client_id <code>{escape(client_id)}</code>.</p>'
        f'<h2>OAuth</h2><ul>{authorize}</ul>'
        '<h2>Users</h2><table><tr><th>id</th><th>email</th><th>role</th><th>account</th><th>timezone</th></tr>'
        f'{user_rows}</table>'
        '<h2>Meetings</h2><table>'
        '<tr><th>id</th><th>topic</th><th>host</th><th>start (UTC)</th><th>min</th><th></th></tr>'
        f'{meeting_rows}</table>'
        + control_section('POST /_sandbox/webhooks/send '
                          '{target_url, event: "endpoint.url_validation" | "app_deauthorized" | {...}, user_id?}')),
        wide=True)
