"""HTML pages a person reads: the join waiting page, and every reason a link does not open."""

import functools
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

# Join links carry their token in the URL: keep it out of referrers, caches and search engines.
PAGE_HEADERS = {
    'Content-Type': 'text/html; charset=utf-8',
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
    'X-Robots-Tag': 'noindex',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
}


@functools.cache
def _environment() -> Environment:
    return Environment(loader=FileSystemLoader(Path(__file__).parent), autoescape=select_autoescape(['html']))


def render_page(title: str, *paragraphs: str, **details) -> str:
    return _environment().get_template('page.html').render(title=title, paragraphs=paragraphs, **details)


def page_response(status: int, title: str, *paragraphs: str, **details) -> dict:
    return {'statusCode': status, 'headers': dict(PAGE_HEADERS), 'body': render_page(title, *paragraphs, **details)}


def redirect_response(location: str) -> dict:
    return {'statusCode': 302, 'headers': {'Location': location, 'Cache-Control': 'no-store',
                                           'Referrer-Policy': 'no-referrer'}, 'body': ''}
