"""Rendering tenant-written templates safely.

Tenants write these templates, so they run in a jinja2 sandbox, HTML-escaped, with no access to
other templates and with arithmetic that cannot build huge values; the bracket variables
SimplyBook users know ([online_meeting_link]) are accepted alongside {{ name }}.
"""

import functools
import html
import operator
import re

from jinja2 import TemplateError, TemplateSyntaxError, nodes
from jinja2.sandbox import SandboxedEnvironment, SecurityError

from meetbridge.domain.templates import VARIABLES, bracket_to_jinja
from meetbridge.errors import InvalidInput

MAX_TEMPLATE_CHARS = 50_000
# Bounds for values a template computes: a repeated string, or a power.
MAX_COMPUTED_LENGTH = 100_000
MAX_EXPONENT = 64

# Templates are stand-alone: no loader exists, so these could only fail when rendered.
_REFERENCES_OTHER_TEMPLATES = (nodes.Include, nodes.Extends, nodes.Import, nodes.FromImport)


class TemplateSandbox(SandboxedEnvironment):
    intercepted_binops = frozenset({'*', '**'})

    def call_binop(self, context, operator_name, left, right):
        if operator_name == '**':
            if isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
                raise SecurityError('exponent too large in a template')
            return operator.pow(left, right)
        for sequence, count in ((left, right), (right, left)):
            if isinstance(sequence, (str, list, tuple)) and isinstance(count, int):
                if len(sequence) * count > MAX_COMPUTED_LENGTH:
                    raise SecurityError('value too large in a template')
        return operator.mul(left, right)


@functools.cache
def _environment(autoescape: bool) -> TemplateSandbox:
    return TemplateSandbox(autoescape=autoescape)


def check(subject: str, body: str) -> None:
    """Refuses a template that cannot render, with the reason and line."""
    for field, text, autoescape in (('subject', subject, False), ('body', body, True)):
        if len(text) > MAX_TEMPLATE_CHARS:
            raise InvalidInput(f'{field} is longer than {MAX_TEMPLATE_CHARS} characters', field=field)
        try:
            tree = _environment(autoescape).parse(bracket_to_jinja(text))
        except TemplateSyntaxError as exc:
            raise InvalidInput(f'{field}: {exc.message} (line {exc.lineno})', field=field) from None
        for node in tree.find_all(_REFERENCES_OTHER_TEMPLATES):
            raise InvalidInput(f'{field}: templates cannot include, extend or import other templates '
                               f'(line {node.lineno})', field=field)
    sample = {name: 'sample' for name in VARIABLES}
    for field, text in (('subject', subject), ('body', body)):
        try:
            render(text if field == 'subject' else '', text if field == 'body' else '', sample)
        except TemplateError as exc:
            raise InvalidInput(f'{field}: the template cannot render: {exc}', field=field) from None


def render(subject: str, body: str, variables: dict[str, str]) -> tuple[str, str]:
    """Returns (subject, html body). Any failure while rendering is raised as a jinja2 TemplateError."""
    try:
        rendered_subject = _environment(False).from_string(bracket_to_jinja(subject)).render(variables)
        rendered_body = _environment(True).from_string(bracket_to_jinja(body)).render(variables)
    except TemplateError:
        raise
    except Exception as exc:  # a tenant's expression can raise anything (1 / 0, a bad index, ...)
        raise TemplateError(f'{type(exc).__name__}: {exc}') from exc
    return ' '.join(rendered_subject.split())[:250], rendered_body


_TAG = re.compile(r'<[^>]+>')
_BREAK = re.compile(r'<\s*(br|/p|/div|/li|/h\d)\s*/?>', re.IGNORECASE)


def text_alternative(html_body: str) -> str:
    """A plain-text part for mail clients that do not show HTML."""
    text = _TAG.sub('', _BREAK.sub('\n', html_body))
    return '\n'.join(line.strip() for line in html.unescape(text).splitlines() if line.strip())
