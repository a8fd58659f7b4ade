"""HTML pages a person reads: the join waiting page, the join button, and every reason a link does not open."""

import base64
import functools
import hashlib
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

# The waiting page's one script, allowed by its hash: no other script runs on our pages. It may fetch
# from our own origin only (the link's /state).
COUNTDOWN_SCRIPT = (Path(__file__).parent / 'countdown.js').read_text()
_COUNTDOWN_HASH = base64.b64encode(hashlib.sha256(COUNTDOWN_SCRIPT.encode()).digest()).decode()

# Join links carry their token in the URL: keep it out of referrers, caches and search engines.
PAGE_HEADERS = {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'X-Robots-Tag': 'noindex',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': f"default-src 'none'; script-src 'sha256-{_COUNTDOWN_HASH}'; "
                               "connect-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'",
}


@functools.cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(Path(__file__).parent), autoescape=select_autoescape(['html']))


def render_page(title: str, *paragraphs: str, **details) -> str:
    return _environment().get_template('page.html').render(title=title, paragraphs=paragraphs,
                                                           countdown_script=Markup(COUNTDOWN_SCRIPT), **details)


def page_response(status: int, title: str, *paragraphs: str, **details) -> dict:
    return {'statusCode': status, 'headers': dict(PAGE_HEADERS), 'body': render_page(title, *paragraphs, **details)}


def redirect_response(location: str, status: int = 302) -> dict:
    """302 for a GET; 303 after a form's POST, so that the browser GETs the location."""
    return {'statusCode': status, 'headers': {'Location': location, 'Cache-Control': 'no-store',
                                           'Referrer-Policy': 'no-referrer'}, 'body': ''}
