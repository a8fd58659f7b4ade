"""HTML pages a person reads: the join waiting page, the join button, and every reason a link does not open."""

import base64
import functools
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from markupsafe import Markup

if TYPE_CHECKING:
    from jinja2 import Environment

# The waiting page's script and a link page's opening script, allowed by their hashes: no other script runs
# on our pages. They may fetch from our own origin only (the link's /state and /opened).
COUNTDOWN_SCRIPT = (Path(__file__).parent / 'countdown.js').read_text()
OPENED_SCRIPT = (Path(__file__).parent / 'opened.js').read_text()


def _script_hash(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


# Join links carry their token in the URL: keep it out of referrers, caches and search engines.
PAGE_HEADERS = {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'X-Robots-Tag': 'noindex',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': f"default-src 'none'; "
                               f"script-src {_script_hash(COUNTDOWN_SCRIPT)} {_script_hash(OPENED_SCRIPT)}; "
                               "connect-src 'self'; style-src 'unsafe-inline'; frame-ancestors 'none'",
}


@functools.cache
def _environment() -> 'Environment':
    # Imported with the first page: the functions that answer JSON only (the webhook's) never pay for jinja2.
    from jinja2 import Environment, FileSystemLoader, select_autoescape

    return Environment(loader=FileSystemLoader(Path(__file__).parent), autoescape=select_autoescape(['html']))


def render_page(title: str, *paragraphs: str, **details) -> str:
    return _environment().get_template('page.html').render(title=title, paragraphs=paragraphs,
                                                           countdown_script=Markup(COUNTDOWN_SCRIPT),
                                                           opened_script=Markup(OPENED_SCRIPT), **details)


def page_response(status: int, title: str, *paragraphs: str, **details) -> dict:
    return {'statusCode': status, 'headers': dict(PAGE_HEADERS), 'body': render_page(title, *paragraphs, **details)}


def redirect_response(location: str, status: int = 302) -> dict:
    """302 for a GET; 303 after a form's POST, so that the browser GETs the location."""
    return {'statusCode': status, 'headers': {'Location': location, 'Cache-Control': 'no-store',
                                           'Referrer-Policy': 'no-referrer'}, 'body': ''}
