"""The emails moto's SES has accepted, for ``GET /_local/outbox`` (JSON) and ``/_local/outbox.html``."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import html
import json
from typing import Any

from .template import ACCOUNT_ID, REGION


def _ses_backend() -> Any:
    from moto.ses.models import ses_backends

    return ses_backends[ACCOUNT_ID][REGION]


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _from_raw(raw: str) -> dict[str, Any]:
    msg = email.message_from_string(raw, policy=email.policy.default)
    html_part = msg.get_body(preferencelist=("html",))
    text_part = msg.get_body(preferencelist=("plain",))
    return {
        "subject": str(msg.get("subject", "")),
        "to": [str(a) for a in (msg.get_all("to") or [])],
        "cc": [str(a) for a in (msg.get_all("cc") or [])],
        "html": html_part.get_content() if html_part is not None else None,
        "text": text_part.get_content() if text_part is not None else None,
    }


def messages() -> list[dict[str, Any]]:
    """Every accepted email, oldest first (newest last)."""
    out = []
    for message in list(_ses_backend().sent_messages):
        entry: dict[str, Any] = {
            "id": getattr(message, "id", None) or ",".join(getattr(message, "ids", []) or []),
            "from": message.source,
            "sent_at": _iso(getattr(message, "local_sent_at", None)),
        }
        parts = getattr(message, "local_parts", None) or {}
        if hasattr(message, "raw_data"):
            raw = _from_raw(message.raw_data)
            entry.update(
                to=list(message.destinations), cc=raw["cc"], bcc=[], subject=raw["subject"], html=raw["html"],
                text=raw["text"], kind="raw",
            )
        elif hasattr(message, "template"):
            dest = message.destinations if isinstance(message.destinations, dict) else {}
            entry.update(
                to=list(dest.get("ToAddresses", [])), cc=list(dest.get("CcAddresses", [])),
                bcc=list(dest.get("BccAddresses", [])), subject=f"(SES template {message.template})",
                html=None, text=message.template_data, kind="template",
            )
        else:
            dest = message.destinations or {}
            body = message.body
            html_body = parts.get("html") if parts else None
            text_body = parts.get("text") if parts else None
            if not parts:  # not captured: moto's body is the HTML part if there was one
                looks_html = "<" in (body or "") and ">" in (body or "")
                html_body, text_body = (body, None) if looks_html else (None, body)
            entry.update(
                to=list(dest.get("ToAddresses", [])), cc=list(dest.get("CcAddresses", [])),
                bcc=list(dest.get("BccAddresses", [])), subject=message.subject, html=html_body, text=text_body,
                kind="simple",
            )
        entry["reply_to"] = list(parts.get("reply_to") or []) if parts else []
        out.append(entry)
    return out


def json_endpoint(query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    items = messages()
    if query.get("to"):
        items = [m for m in items if query["to"].lower() in " ".join(m["to"] + m["cc"] + m["bcc"]).lower()]
    body = json.dumps(items, indent=2).encode()
    return 200, {"content-type": "application/json", "cache-control": "no-store"}, body


def html_endpoint(query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    items = messages()
    if query.get("to"):
        items = [m for m in items if query["to"].lower() in " ".join(m["to"] + m["cc"] + m["bcc"]).lower()]
    items.reverse()
    cards = []
    for m in items:
        esc = html.escape
        recipients = ", ".join(m["to"] + m["cc"] + m["bcc"])
        parts = []
        if m.get("html"):
            # No scripts; links open in a new tab, outside the sandbox.
            doc = '<base target="_blank">' + m["html"]
            parts.append(
                f'<iframe sandbox="allow-popups allow-popups-to-escape-sandbox" '
                f'srcdoc="{esc(doc, quote=True)}" title="HTML part"></iframe>'
            )
        if m.get("text"):
            parts.append(f"<details{' open' if not m.get('html') else ''}><summary>text part</summary>"
                         f"<pre>{esc(m['text'])}</pre></details>")
        cards.append(
            f"""<article>
  <h2>{esc(m.get("subject") or "(no subject)")}</h2>
  <p class="meta"><b>to</b> {esc(recipients)} &middot; <b>from</b> {esc(m.get("from") or "")}
   &middot; {esc(m.get("sent_at") or "")}</p>
  {"".join(parts)}
</article>"""
        )
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>meetbridge local outbox ({len(items)})</title>
<style>
 body {{ font: 15px/1.4 system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; padding: 0 1rem; color: #222 }}
 header p {{ color: #666 }}
 article {{ border: 1px solid #ddd; border-radius: 8px; padding: 1rem; margin: 1rem 0 }}
 h2 {{ font-size: 1.1rem; margin: 0 0 .3rem }}
 .meta {{ color: #555; margin: 0 0 .6rem; font-size: .9rem }}
 iframe {{ width: 100%; height: 22rem; border: 1px solid #eee; border-radius: 4px; background: #fff }}
 pre {{ white-space: pre-wrap; background: #f7f7f7; padding: .6rem; border-radius: 4px }}
</style></head>
<body><header><h1>Local outbox</h1>
<p>Emails accepted by the local (moto) SES, newest first. Nothing here was sent anywhere.
This page exists only in the local stack. <a href="/_local/outbox.html">Refresh</a> &middot;
<a href="/_local/outbox">JSON</a></p></header>
{"".join(cards) or "<p>No emails yet.</p>"}
</body></html>"""
    return 200, {"content-type": "text/html; charset=utf-8", "cache-control": "no-store"}, page.encode()
