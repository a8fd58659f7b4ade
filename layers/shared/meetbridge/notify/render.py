"""Rendering tenant-written templates within bounds.

Tenants write these templates, so one tenant's template must neither read what it should not nor
stall the notifications of everyone else. A template is parsed and checked against an allow-list of
constructs (output, if, for, set, a list of filters, tests and string methods), its nesting is
bounded, and it runs in a jinja2 sandbox without constant folding (folding would evaluate at compile
time, outside every bound) where every value it computes is bounded in size, `%` formatting in width,
all loops together in iterations, the output in length and the whole render in time. The bracket
variables SimplyBook users know ([online_meeting_link]) are accepted alongside {{ name }}.
"""

import contextvars
import functools
import html
import operator
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from jinja2 import Template, TemplateError, TemplateSyntaxError, nodes
from jinja2.runtime import markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.visitor import NodeTransformer

from meetbridge.domain.templates import bracket_to_jinja, sample_variables
from meetbridge.errors import InvalidInput

MAX_TEMPLATE_CHARS = 50_000
# Bounds of one render (a message's subject and body together).
MAX_NESTING = 24  # depth of the parsed template: blocks in blocks, brackets, chains of operators and filters
MAX_VALUE_CHARS = 100_000  # any value the template computes, as text
MAX_OUTPUT_CHARS = 100_000  # what the subject or the body renders to
MAX_LOOP_ITERATIONS = 10_000  # all loops of the render together
# Two emails a record, ten records a batch: a batch of the slowest templates still ends in 10 s of its 20.
MAX_RENDER_SECONDS = 0.5
# At save time a template must render in a quarter of that, so a slower moment at send time has room.
SAVE_RENDER_SECONDS = MAX_RENDER_SECONDS / 4
MAX_FORMAT_WIDTH = 100  # width and precision in `%` formatting
MAX_INT_BITS = 4096
SUBJECT_CHARS = 250

_STATEMENTS = (nodes.Template, nodes.Output, nodes.TemplateData, nodes.If, nodes.For, nodes.Assign)
_EXPRESSIONS = (
    nodes.Name, nodes.Const, nodes.Tuple, nodes.List, nodes.Dict, nodes.Pair, nodes.Keyword, nodes.CondExpr,
    nodes.And, nodes.Or, nodes.Not, nodes.Neg, nodes.Pos, nodes.Compare, nodes.Operand, nodes.Concat,
    nodes.Add, nodes.Sub, nodes.Mul, nodes.Div, nodes.FloorDiv, nodes.Mod, nodes.Pow, nodes.Getattr,
    nodes.Getitem, nodes.Slice, nodes.Filter, nodes.Test, nodes.Call,
)
# How a refused construct is named to the tenant.
_CONSTRUCT_NAMES = {
    nodes.Macro: 'macro', nodes.CallBlock: 'call', nodes.Include: 'include', nodes.Extends: 'extends',
    nodes.Import: 'import', nodes.FromImport: 'import', nodes.Block: 'block', nodes.FilterBlock: 'filter block',
    nodes.AssignBlock: 'set block', nodes.With: 'with', nodes.ScopedEvalContextModifier: 'autoescape',
    nodes.EvalContextModifier: 'autoescape', nodes.Scope: 'autoescape', nodes.NSRef: 'namespace', nodes.ExprStmt: 'do',
}
# Filters whose result is at most a small multiple of their input, or whose growth is bounded below.
# Absent on purpose: safe (it would show a client's name as HTML), map/select/attr (they call any filter or
# attribute by name), sum, batch, slice, tojson, pprint, urlize, random.
FILTERS = (
    'abs', 'capitalize', 'center', 'count', 'd', 'default', 'e', 'escape', 'first', 'float', 'format', 'indent',
    'int', 'join', 'last', 'length', 'list', 'lower', 'max', 'min', 'replace', 'reverse', 'round', 'sort',
    'string', 'striptags', 'title', 'trim', 'truncate', 'unique', 'upper', 'urlencode', 'wordcount', 'wordwrap',
)
TESTS = (
    'boolean', 'defined', 'divisibleby', 'eq', 'equalto', 'even', 'false', 'float', 'ge', 'greaterthan', 'gt', 'in',
    'integer', 'iterable', 'le', 'lessthan', 'lower', 'lt', 'mapping', 'ne', 'none', 'number', 'odd', 'sequence',
    'string', 'true', 'undefined', 'upper', '==', '!=', '<', '<=', '>', '>=',
)
# Methods a template may call: none of them builds a value larger than its object.
METHODS = frozenset({'capitalize', 'cycle', 'endswith', 'get', 'items', 'keys', 'lower', 'lstrip', 'rstrip',
                     'split', 'startswith', 'strip', 'title', 'upper', 'values'})
GLOBALS = ('range',)

# printf-style conversions: width and precision, given inline or as `*`.
_CONVERSION = re.compile(r'%(?:\([^)]*\))?[#0 +-]*(\*|\d+)?(?:\.(\*|\d*))?[hlL]?(.)', re.DOTALL)


@dataclass
class _Budget:
    """What is left of one render's bounds."""

    seconds: float
    iterations: int = MAX_LOOP_ITERATIONS

    def __post_init__(self):
        self.deadline = time.monotonic() + self.seconds

    def tick(self) -> None:
        if time.monotonic() >= self.deadline:
            raise SecurityError(f'the template took longer than {self.seconds:g} s to render')


_budget: contextvars.ContextVar[_Budget] = contextvars.ContextVar('template_budget')


def _tick() -> None:
    _budget.get().tick()


def _text_size(value, limit: int = MAX_VALUE_CHARS) -> int:
    """About how many characters `value` is as text, counted only up to just past `limit`."""
    size, pending = 0, [value]
    while pending and size <= limit:
        item = pending.pop()
        if isinstance(item, str):
            size += len(item)
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
            size += 2 + 4 * len(item)
        elif isinstance(item, (list, tuple, set, frozenset)):
            pending.extend(item)
            size += 2 + 2 * len(item)
        elif isinstance(item, int) and not isinstance(item, bool):
            size += item.bit_length() // 3 + 1
        else:
            size += 24  # numbers, None, undefined, a loop or method shown by its name
    return size


def _bounded(value, what: str = 'a value'):
    if _text_size(value) > MAX_VALUE_CHARS:
        raise SecurityError(f'{what} in the template is longer than {MAX_VALUE_CHARS} characters')
    return value


def _percent(left: str, right):
    """`left % right`, refused before it runs when a width, a precision or the result would be too large."""
    conversions = 0
    for match in _CONVERSION.finditer(left):
        for number in match.group(1, 2):
            if number == '*' or (number and int(number) > MAX_FORMAT_WIDTH):
                raise SecurityError(f'a width or precision in % formatting is over {MAX_FORMAT_WIDTH}')
        conversions += 1
    # A mapping's value can be shown by many conversions: each may be the largest argument.
    values = right.values() if isinstance(right, dict) else right if isinstance(right, tuple) else (right,)
    largest = max((_text_size(value) for value in values), default=0)
    if len(left) + conversions * (largest + MAX_FORMAT_WIDTH) > MAX_VALUE_CHARS:
        raise SecurityError(f'% formatting would make a value longer than {MAX_VALUE_CHARS} characters')
    return operator.mod(left, right)


def _check_int(value) -> None:
    if isinstance(value, int) and value.bit_length() > MAX_INT_BITS:
        raise SecurityError(f'a number in the template is larger than 2**{MAX_INT_BITS}')


# Estimated result sizes of the filters that can grow their input, checked before they run.
def _estimate_center(value, width=80, *_args, **_kwargs) -> int:
    return max(_text_size(value), width if isinstance(width, int) else 0)


def _estimate_indent(value, width=4, *_args, **_kwargs) -> int:
    text = str(value)
    return len(text) + (text.count('\n') + 1) * (width if isinstance(width, int) else _text_size(width))


def _estimate_wordwrap(value, width=79, break_long_words=True, wrapstring=None, *_args, **_kwargs) -> int:
    text = str(value)
    lines = len(text) // max(width, 1) + 1 if isinstance(width, int) else len(text)
    return len(text) + lines * (_text_size(wrapstring) if wrapstring else 1)


def _estimate_join(value, d='', *_args, **_kwargs) -> int:
    items = list(value) if isinstance(value, Iterable) else [value]
    return _text_size(items) + len(items) * _text_size(d)


def _estimate_replace(value, old='', new='', count=None, *_args, **_kwargs) -> int:
    text, old, new = str(value), str(old), str(new)
    occurrences = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        occurrences = min(occurrences, count)
    return len(text) + occurrences * max(len(new) - len(old), 0)


_ESTIMATES = {'center': _estimate_center, 'indent': _estimate_indent, 'wordwrap': _estimate_wordwrap,
              'join': _estimate_join, 'replace': _estimate_replace}


def _format_filter(value, *args, **kwargs):
    """jinja2's `format`, through the same bounds as the `%` operator."""
    if args and kwargs:
        raise SecurityError("format takes either positional or keyword arguments, not both")
    return _percent(str(value), kwargs or args)


def _bounded_filter(name: str, filter_function):
    passes_context = getattr(filter_function, 'jinja_pass_arg', None) is not None
    estimate = _ESTIMATES.get(name)

    @functools.wraps(filter_function)
    def bounded(*args, **kwargs):
        _tick()
        arguments = args[1:] if passes_context else args
        for argument in (*arguments, *kwargs.values()):
            _bounded(argument, f'the input of the {name} filter')
        if estimate is not None and estimate(*arguments, **kwargs) > MAX_VALUE_CHARS:
            raise SecurityError(f'the {name} filter would make a value longer than {MAX_VALUE_CHARS} characters')
        return _bounded(filter_function(*args, **kwargs), f'the result of the {name} filter')

    return bounded


def _range(*args) -> range:
    numbers = range(*args)
    if len(numbers) > MAX_LOOP_ITERATIONS:
        raise SecurityError(f'range() is limited to {MAX_LOOP_ITERATIONS} numbers')
    return numbers


class TemplateSandbox(ImmutableSandboxedEnvironment):
    """Runs a checked template (see `_compiled`) within the bounds of the render in progress."""

    intercepted_binops = frozenset({'*', '**', '%', '+'})

    def __init__(self, autoescape: bool):
        # No constant folding: `'x'|center(10**9)` would otherwise run while compiling, outside every bound.
        super().__init__(autoescape=autoescape, optimized=False, finalize=self._finalize)
        filters = {name: self.filters[name] for name in FILTERS} | {'format': _format_filter}
        self.filters = {name: _bounded_filter(name, function) for name, function in filters.items()}
        self.tests = {name: self.tests[name] for name in TESTS}
        self.globals = {'range': _range}

    @staticmethod
    def _finalize(value):
        _tick()
        return _bounded(value, 'an output')

    def call_binop(self, context, operator_name, left, right):
        _tick()
        if operator_name == '%':
            return _percent(left, right) if isinstance(left, str) else operator.mod(left, right)
        if operator_name == '**':
            if isinstance(left, int) and isinstance(right, int) and right > 0:
                if max(left.bit_length(), 1) * right > MAX_INT_BITS:
                    raise SecurityError(f'a number in the template is larger than 2**{MAX_INT_BITS}')
            elif isinstance(right, (int, float)) and abs(right) > MAX_INT_BITS:
                raise SecurityError('exponent too large in a template')
            return operator.pow(left, right)
        if operator_name == '*':
            for sequence, count in ((left, right), (right, left)):
                if isinstance(sequence, (str, list, tuple)) and isinstance(count, int):
                    if _text_size(sequence) * count > MAX_VALUE_CHARS:
                        raise SecurityError(f'a value in the template is longer than {MAX_VALUE_CHARS} characters')
            product = operator.mul(left, right)
            _check_int(product)
            return product
        if _text_size(left) + _text_size(right) > MAX_VALUE_CHARS:
            raise SecurityError(f'a value in the template is longer than {MAX_VALUE_CHARS} characters')
        return operator.add(left, right)

    def concat(self, *parts) -> str:
        """`~`: every part as text, escaped in an HTML body as jinja2 itself escapes it."""
        _tick()
        if sum(_text_size(part) for part in parts) > MAX_VALUE_CHARS:
            raise SecurityError(f'a value in the template is longer than {MAX_VALUE_CHARS} characters')
        return (markup_join if self.autoescape else str_join)(parts)

    @staticmethod
    def counted(iterable) -> Iterator:
        """A loop's items, each one counted against the render's iterations."""
        budget = _budget.get()
        for item in iterable:
            budget.iterations -= 1
            if budget.iterations < 0:
                raise SecurityError(f'the template loops more than {MAX_LOOP_ITERATIONS} times')
            budget.tick()
            yield item


class _Refused(Exception):
    def __init__(self, message: str, lineno: int | None):
        super().__init__(message)
        self.lineno = lineno


def _check_construct(node: nodes.Node) -> None:
    if not isinstance(node, _STATEMENTS + _EXPRESSIONS):
        raise _Refused(f'{_CONSTRUCT_NAMES.get(type(node), type(node).__name__)} is not allowed in a template',
                       node.lineno)
    match node:
        case nodes.For(recursive=True):
            raise _Refused('recursive loops are not allowed in a template', node.lineno)
        case nodes.Filter(name=name) if name not in FILTERS:
            raise _Refused(f'the {name} filter is not allowed in a template', node.lineno)
        case nodes.Test(name=name) if name not in TESTS:
            raise _Refused(f'the {name} test is not allowed in a template', node.lineno)
        case nodes.Getattr(attr=attr) if attr.startswith('_'):
            raise _Refused(f'{attr} is not available in a template', node.lineno)
        case nodes.Call(dyn_args=dyn_args, dyn_kwargs=dyn_kwargs) if dyn_args or dyn_kwargs:
            raise _Refused('* and ** arguments are not allowed in a template', node.lineno)
        case nodes.Call(node=nodes.Name(name=name)) if name not in GLOBALS:
            raise _Refused(f'{name}() is not available in a template', node.lineno)
        case nodes.Call(node=nodes.Getattr(attr=attr)) if attr not in METHODS:
            raise _Refused(f'.{attr}() is not allowed in a template', node.lineno)
        case nodes.Call(node=callee) if not isinstance(callee, (nodes.Name, nodes.Getattr)):
            raise _Refused('only range() and string methods can be called in a template', node.lineno)


def _check_nesting(environment: TemplateSandbox, source: str) -> None:
    """Brackets and blocks, counted on the tokens: the parser recurses into each, so it must not see a deep one."""
    depth, previous = 0, None
    for lineno, kind, value in environment.lex(source):
        if (kind == 'operator' and value in '([{') or (previous == 'block_begin' and value in ('if', 'for')):
            depth += 1
            if depth > MAX_NESTING:
                raise _Refused(f'the template is nested more than {MAX_NESTING} levels deep', lineno)
        elif (kind == 'operator' and value in ')]}') or (previous == 'block_begin' and value in ('endif', 'endfor')):
            depth -= 1
        if kind != 'whitespace':
            previous = kind


def _checked(tree: nodes.Template) -> nodes.Template:
    """Walks the tree without recursion: every construct allowed, nesting bounded."""
    pending: list[tuple[nodes.Node, int]] = [(tree, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_NESTING:
            raise _Refused(f'the template is nested more than {MAX_NESTING} levels deep', node.lineno)
        _check_construct(node)
        pending.extend((child, depth + 1) for child in node.iter_child_nodes())
    return tree


def _environment_call(method: str, arguments: list[nodes.Expr], lineno: int) -> nodes.Call:
    return nodes.Call(nodes.EnvironmentAttribute(method), arguments, [], None, None, lineno=lineno)


class _Bounding(NodeTransformer):
    """Every loop counts its items and every `~` checks its size, through TemplateSandbox's own methods."""

    def visit_For(self, node: nodes.For) -> nodes.For:
        self.generic_visit(node)
        node.iter = _environment_call('counted', [node.iter], node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Call:
        self.generic_visit(node)
        return _environment_call('concat', node.nodes, node.lineno)


@functools.cache
def _environment(autoescape: bool) -> TemplateSandbox:
    return TemplateSandbox(autoescape)


# Compiling is bounded by the template's length (50,000 characters: about a second at worst), not by a
# render's budget; each template, and each refusal, is compiled once per container.
@functools.lru_cache(maxsize=64)
def _compiled_or_refusal(text: str, autoescape: bool) -> Template | TemplateSyntaxError:
    environment, source = _environment(autoescape), bracket_to_jinja(text)
    try:
        _check_nesting(environment, source)
        tree = _checked(environment.parse(source))
    except TemplateSyntaxError as refused:
        return refused
    except RecursionError:  # a long chain of unary operators: the parser recurses once for each
        return TemplateSyntaxError(f'the template is nested more than {MAX_NESTING} levels deep', 1)
    except _Refused as refused:
        return TemplateSyntaxError(str(refused), refused.lineno or 1)
    tree = _Bounding().visit(tree)
    tree.set_environment(environment)
    return environment.from_string(tree)


def _compiled(text: str, autoescape: bool) -> Template:
    """The template, checked; raises TemplateSyntaxError naming the line of what is wrong."""
    compiled = _compiled_or_refusal(text, autoescape)
    if isinstance(compiled, TemplateSyntaxError):
        raise compiled.with_traceback(None)
    return compiled


def _rendered(template: Template, variables: dict, what: str) -> str:
    chunks, length = [], 0  # counted as they stream: a template never builds more than the bound
    for chunk in template.generate(variables):
        length += len(chunk)
        if length > MAX_OUTPUT_CHARS:
            raise SecurityError(f'the {what} renders to more than {MAX_OUTPUT_CHARS} characters')
        chunks.append(chunk)
    return ''.join(chunks)


def render(subject: str, body: str, variables: dict[str, str], seconds: float | None = None) -> tuple[str, str]:
    """Returns (subject, html body), rendered within `seconds` (MAX_RENDER_SECONDS unless given). Any failure,
    a bound reached included, is raised as a jinja2 TemplateError."""
    rendered_subject, rendered_body = _render_parts(
        [(subject, False, 'subject'), (body, True, 'body')], variables, seconds)
    return ' '.join(rendered_subject.split())[:SUBJECT_CHARS], rendered_body


def render_text(body: str, variables: dict[str, str], seconds: float | None = None) -> str:
    """A plain-text body (an SMS): the same sandbox and bounds as `render`, without HTML escaping."""
    (rendered_body,) = _render_parts([(body, False, 'body')], variables, seconds)
    return rendered_body


def _render_parts(parts: list[tuple[str, bool, str]], variables: dict[str, str],
                  seconds: float | None) -> list[str]:
    """Each (text, autoescape, what) rendered within one budget of `seconds`."""
    templates = [(_compiled(text, autoescape), what) for text, autoescape, what in parts]
    token = _budget.set(_Budget(MAX_RENDER_SECONDS if seconds is None else seconds))
    try:
        return [_rendered(template, variables, what) for template, what in templates]
    except TemplateError:
        raise
    except Exception as exc:  # a tenant's expression can raise anything (1 / 0, a bad index, ...)
        raise TemplateError(f'{type(exc).__name__}: {exc}') from exc
    finally:
        _budget.reset(token)


def failure_reason(exc: TemplateError) -> str:
    """Why a render failed, without any value the template was given (a password, a link): the bound it
    reached or the construct refused, else only the kind of error."""
    if isinstance(exc.__cause__, Exception):
        return f'{type(exc.__cause__).__name__} while rendering'
    return exc.message or type(exc).__name__


def check(subject: str, body: str) -> None:
    """Refuses a template that is not allowed or cannot render, with the reason (and line)."""
    _check_parts([('subject', subject, False), ('body', body, True)])


def check_text(body: str) -> None:
    """`check` for a plain-text body (an SMS)."""
    _check_parts([('body', body, False)])


def _check_parts(parts: list[tuple[str, str, bool]]) -> None:
    for name, text, autoescape in parts:
        if len(text) > MAX_TEMPLATE_CHARS:
            raise InvalidInput(f'{name} is longer than {MAX_TEMPLATE_CHARS} characters', field=name)
        try:
            _compiled(text, autoescape)
        except TemplateSyntaxError as exc:
            raise InvalidInput(f'{name}: {exc.message} (line {exc.lineno})', field=name) from None
    for name, text, autoescape in parts:
        for example, variables in sample_variables().items():
            try:
                _render_parts([(text, autoescape, name)], variables, SAVE_RENDER_SECONDS)
            except TemplateError as exc:
                raise InvalidInput(f'{name}: the template cannot render (with {example}): {exc}', field=name) from None


_TAG = re.compile(r'<[^>]+>')
_BREAK = re.compile(r'<\s*(br|/p|/div|/li|/h\d)\s*/?>', re.IGNORECASE)


def text_alternative(html_body: str) -> str:
    """A plain-text part for mail clients that do not show HTML."""
    text = _TAG.sub('', _BREAK.sub('\n', html_body))
    return '\n'.join(line.strip() for line in html.unescape(text).splitlines() if line.strip())
