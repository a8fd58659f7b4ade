"""``GET /_local/room/demo``: the room the demo tenant's custom link points at.

A custom link is a fixed room at a meeting service (Webex, Jitsi, ...), which the local stack
cannot run; this page stands in for it, so a browser that follows a demo join link lands on a page
served here instead of on a host that does not exist.
"""

from __future__ import annotations

PATH = "/_local/room/demo"

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo meeting room</title>
<style>
 body { font: 16px/1.5 system-ui, sans-serif; margin: 3rem auto; max-width: 38rem; padding: 0 1rem; color: #222 }
 .room { border: 1px solid #ddd; border-radius: 8px; padding: 1.5rem }
 .meta { color: #666; font-size: .9rem }
</style></head>
<body><main class="room">
<h1>Demo meeting room</h1>
<p>You are in the meeting. This is the room of the demo tenant's custom link, served by the local
stack in place of a Webex, Jitsi or Skype room.</p>
<p class="meta">This page exists only in the local stack. With a Zoom or Microsoft Teams account
connected, join links open the provider sandbox's meeting page instead.
<a href="/_local/outbox.html">Local outbox</a></p>
</main></body></html>
"""


def endpoint(query: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    return 200, {"content-type": "text/html; charset=utf-8", "cache-control": "no-store"}, _PAGE.encode()
