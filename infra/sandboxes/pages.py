"""HTML pieces every sandbox's index page shows the same way."""

from __future__ import annotations

from html import escape


def control_section(*provider_items: str) -> str:
    """The index's list of ``/_sandbox/`` endpoints: those every sandbox has, then ``provider_items``
    (plain text, one endpoint each)."""
    items = ''.join(f'<li>{escape(item, quote=False)}</li>' for item in provider_items)
    return ('<h2>Control</h2><ul>'
            '<li><a href="/_sandbox/calls">GET /_sandbox/calls</a> (DELETE clears)</li>'
            '<li><a href="/_sandbox/faults">GET /_sandbox/faults</a>; '
            'POST {operation, status, body?, headers?, times?, after?}; DELETE clears</li>'
            '<li><a href="/_sandbox/state">GET /_sandbox/state</a></li>'
            '<li>POST /_sandbox/advance {seconds}</li>'
            '<li>POST /_sandbox/expire-access-tokens</li>'
            f'<li>POST /_sandbox/redirect-uris {{uri}}</li>{items}</ul>')
