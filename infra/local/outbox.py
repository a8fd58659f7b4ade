"""The emails moto's SES and the SMS moto's SNS have accepted, for ``GET /_local/outbox`` (JSON) and
``/_local/outbox.html``, and the recipients' SMS replies (``POST /_local/sms/reply``): STOP and START change the
account's opt-out list as SNS does."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import html
import json
from typing import Any

from .moto_patches import SMS_NUMBER
from .template import ACCOUNT_ID, REGION

SMS_REPLY_PATH = "/_local/sms/reply"
# The keywords SNS and End User Messaging SMS take as an opt-out or an opt-in, in any case, around any space.
STOP_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "ARRET", "STOPP"})
START_KEYWORDS = frozenset({"START", "UNSTOP"})
CHANNELS = ("email", "sms")
ORIGINATION_ATTRIBUTES = ("AWS.MM.SMS.OriginationNumber", "AWS.SNS.SMS.SenderID")


def _ses_backend() -> Any:
    from moto.ses.models import ses_backends

    return ses_backends[ACCOUNT_ID][REGION]


def _sns_backend() -> Any:
    from moto.sns.models import sns_backends

    return sns_backends[ACCOUNT_ID][REGION]


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
    """Every accepted email and SMS, oldest first (newest last)."""
    both = emails() + text_messages()
    both.sort(key=lambda entry: entry["sent_at"] or "")  # stable: an email moto's capture missed keeps its place
    return both


def text_messages() -> list[dict[str, Any]]:
    """Every SMS the local SNS delivered (one to an opted-out number is not), oldest first."""
    out = []
    for sms in list(_sns_backend().sms_message_objects.values()):
        attributes = getattr(sms, "local_attributes", {})
        out.append({
            "channel": "sms", "id": sms.message_id, "to": sms.phone_number, "body": sms.message,
            "sent_at": _iso(getattr(sms, "local_sent_at", None)),
            # Where it was sent from: the origination number, else the sender id (null: SNS's choice).
            "origination": next((attributes[name] for name in ORIGINATION_ATTRIBUTES if attributes.get(name)), None),
            "sms_type": attributes.get("AWS.SNS.SMS.SMSType"),
        })
    return out


def emails() -> list[dict[str, Any]]:
    """Every accepted email, oldest first."""
    out = []
    for message in list(_ses_backend().sent_messages):
        entry: dict[str, Any] = {
            "channel": "email",
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


def _recipients(entry: dict[str, Any]) -> str:
    if entry["channel"] == "sms":
        return entry["to"]
    return ", ".join(entry["to"] + entry["cc"] + entry["bcc"])


def _selected(query: dict[str, str]) -> list[dict[str, Any]]:
    """The messages ``?to=`` (part of a recipient) and ``?channel=`` (email or sms) ask for, oldest first."""
    items = messages()
    if query.get("to"):
        # A "+" left unencoded in the query string (?to=+447...) arrives as a space; no recipient has a space.
        wanted = query["to"].replace(" ", "+").lower()
        items = [m for m in items if wanted in _recipients(m).lower()]
    if query.get("channel"):
        items = [m for m in items if m["channel"] == query["channel"]]
    return items


def _json(status: int, body: Any) -> tuple[int, dict[str, str], bytes]:
    return status, {"content-type": "application/json", "cache-control": "no-store"}, json.dumps(body, indent=2).encode()


def json_endpoint(query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    if query.get("channel") not in (None, *CHANNELS):
        return _json(400, {"message": f"channel must be one of {', '.join(CHANNELS)}"})
    return _json(200, _selected(query))


def sms_reply(rest: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """``POST /_local/sms/reply`` ``{"from": "+4420...", "body": "STOP"}``: a recipient's reply. An opt-out keyword
    puts the number on the account's opt-out list, START or UNSTOP takes it off, as SNS does with replies to its
    numbers; any other reply changes nothing. Answers the number's state."""
    if rest:
        return _json(404, {"message": "Not Found"})
    try:
        reply = json.loads(body)
    except (ValueError, RecursionError):  # not UTF-8 or JSON, an integer over Python's 4300 digits, nesting too deep
        return _json(400, {"message": "the body must be JSON: {\"from\": \"+E.164 number\", \"body\": \"STOP\"}"})
    if not isinstance(reply, dict) or not isinstance(reply.get("from"), str) or not SMS_NUMBER.fullmatch(reply["from"]):
        return _json(400, {"message": "from must be the replying phone number in E.164, e.g. +447700900123"})
    if not isinstance(reply.get("body"), str):
        return _json(400, {"message": "body must be the reply's text"})
    number, keyword = reply["from"], reply["body"].strip().upper()
    backend = _sns_backend()
    if keyword in STOP_KEYWORDS and number not in backend.opt_out_numbers:
        backend.opt_out_numbers.append(number)
    elif keyword in START_KEYWORDS:
        backend.opt_in_phone_number(number)
    return _json(200, {"from": number, "opted_out": number in backend.opt_out_numbers})


def html_endpoint(query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    if query.get("channel") not in (None, *CHANNELS):
        return _json(400, {"message": f"channel must be one of {', '.join(CHANNELS)}"})
    items = _selected(query)
    items.reverse()
    cards = []
    for m in items:
        esc = html.escape
        recipients = _recipients(m)
        if m["channel"] == "sms":
            sender = m["origination"] or "(SNS's choice)"
            cards.append(
                f"""<article class="sms">
  <h2>SMS{f" ({esc(m['sms_type'])})" if m["sms_type"] else ""}</h2>
  <p class="meta"><b>to</b> {esc(recipients)} &middot; <b>from</b> {esc(sender)} &middot; {esc(m.get("sent_at") or "")}</p>
  <pre>{esc(m["body"])}</pre>
</article>"""
            )
            continue
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
 article.sms {{ border-left: 4px solid #2a7 }}
 h2 {{ font-size: 1.1rem; margin: 0 0 .3rem }}
 .meta {{ color: #555; margin: 0 0 .6rem; font-size: .9rem }}
 iframe {{ width: 100%; height: 22rem; border: 1px solid #eee; border-radius: 4px; background: #fff }}
 pre {{ white-space: pre-wrap; background: #f7f7f7; padding: .6rem; border-radius: 4px }}
</style></head>
<body><header><h1>Local outbox</h1>
<p>Emails accepted by the local (moto) SES and SMS by the local (moto) SNS, newest first. Nothing here was
sent anywhere.
This page exists only in the local stack. <a href="/_local/outbox.html">Refresh</a> &middot;
<a href="/_local/outbox">JSON</a></p></header>
{"".join(cards) or "<p>No messages yet.</p>"}
</body></html>"""
    return 200, {"content-type": "text/html; charset=utf-8", "cache-control": "no-store"}, page.encode()
