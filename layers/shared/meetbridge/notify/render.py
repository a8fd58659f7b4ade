"""Rendering tenant-written templates safely.

Tenants write these templates, so they run in jinja2's sandbox, HTML-escaped, and the bracket
variables SimplyBook users know ([online_meeting_link]) are accepted alongside {{ name }}.
"""

import functools
import html
import re

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from meetbridge.domain.templates import bracket_to_jinja
from meetbridge.errors import InvalidInput

MAX_TEMPLATE_CHARS = 50_000


@functools.cache
def _environment(autoescape: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(autoescape=autoescape)


def check(subject: str, body: str) -> None:
    """Refuses a template that cannot render, with the reason and line."""
    for field, text, autoescape in (('subject', subject, False), ('body', body, True)):
        if len(text) > MAX_TEMPLATE_CHARS:
            raise InvalidInput(f'{field} is longer than {MAX_TEMPLATE_CHARS} characters', field=field)
        try:
            _environment(autoescape).parse(bracket_to_jinja(text))
        except TemplateSyntaxError as exc:
            raise InvalidInput(f'{field}: {exc.message} (line {exc.lineno})', field=field) from None


def render(subject: str, body: str, variables: dict[str, str]) -> tuple[str, str]:
    """Returns (subject, html body). Raises jinja2 errors (incl. SecurityError) to the caller."""
    rendered_subject = _environment(False).from_string(bracket_to_jinja(subject)).render(variables)
    rendered_body = _environment(True).from_string(bracket_to_jinja(body)).render(variables)
    return ' '.join(rendered_subject.split())[:250], rendered_body


_TAG = re.compile(r'<[^>]+>')
_BREAK = re.compile(r'<\s*(br|/p|/div|/li|/h\d)\s*/?>', re.IGNORECASE)


def text_alternative(html_body: str) -> str:
    """A plain-text part for mail clients that do not show HTML."""
    text = _TAG.sub('', _BREAK.sub('\n', html_body))
    return '\n'.join(line.strip() for line in html.unescape(text).splitlines() if line.strip())
