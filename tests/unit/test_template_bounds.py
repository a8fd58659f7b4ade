"""Templates are bounded: what a tenant's template may do, and how much of everything it may use."""

import re

import jinja2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from meetbridge.domain.templates import VARIABLES, sample_variables
from meetbridge.errors import InvalidInput
from meetbridge.notify import render as templates
from meetbridge.notify.render import (
    FILTERS,
    MAX_LOOP_ITERATIONS,
    MAX_NESTING,
    MAX_OUTPUT_CHARS,
    check,
    render,
)

VALUES = sample_variables()['an ordinary booking']


@pytest.fixture(autouse=True)
def unhurried(monkeypatch):
    """Each test shows one bound; a busy machine must not reach the time bound first."""
    monkeypatch.setattr(templates, 'MAX_RENDER_SECONDS', 60.0)
    monkeypatch.setattr(templates, 'SAVE_RENDER_SECONDS', 60.0)

# Each measured before these bounds existed: saved after 30 s at 4.1 GB, unbounded, a 5×10^8 loop saved
# after 34 s, a 10,000,000-character email, a 500 (RecursionError).
MEASURED = [
    pytest.param("{{ 'x'|center(1000000000) }}", 'center filter would make a value longer', id='center-1e9'),
    pytest.param('{{ "%0200000d" % 1 }}', 'width or precision in % formatting', id='percent-width'),
    pytest.param('{{ "a"|center(200000) }}', 'center filter would make a value longer', id='center-2e5'),
    pytest.param('{% for i in range(100000) %}{% for j in range(5000) %}{{ j }}{% endfor %}{% endfor %}',
                 'range() is limited', id='nested-range'),
    pytest.param('{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}',
                 f'loops more than {MAX_LOOP_ITERATIONS} times', id='nested-loops-1e8'),
    pytest.param("{{ 'x'|center(10**7) }}", 'center filter would make a value longer', id='center-1e7'),
    pytest.param('{{ ' + '(' * 90 + '1' + ')' * 90 + ' }}', 'nested more than', id='90-parentheses'),
]


@pytest.mark.parametrize(('body', 'reason'), MEASURED)
def test_the_measured_templates_are_refused_at_save_with_the_reason(body, reason):
    with pytest.raises(InvalidInput, match=re.escape(reason)) as refused:
        check('Subject', body)
    assert refused.value.field == 'body'


@pytest.mark.parametrize(('body', 'reason'), MEASURED)
def test_the_measured_templates_fail_as_template_errors_when_rendered(body, reason):
    with pytest.raises(jinja2.TemplateError, match=re.escape(reason)):
        render('Subject', body, VALUES)


@pytest.mark.parametrize('depth', [MAX_NESTING * 2, 200, 2000])
def test_deep_nesting_of_any_kind_is_a_clear_refusal(depth):
    for body in ('{{ ' + '(' * depth + '1' + ')' * depth + ' }}',
                 '{% if 1 %}' * depth + 'x' + '{% endif %}' * depth,
                 '{{ ' + ' + '.join(['1'] * depth) + ' }}',
                 '{{ client_name' + '|upper' * depth + ' }}',
                 '{{ ' + 'not ' * depth + '1 }}'):
        with pytest.raises(InvalidInput, match=f'nested more than {MAX_NESTING} levels'):
            check('Subject', body)


REFUSED_CONSTRUCTS = [
    ('{% macro m() %}x{% endmacro %}', 'macro is not allowed'),
    ('{% call range(1) %}x{% endcall %}', 'call is not allowed'),
    ('{% filter upper %}x{% endfilter %}', 'filter block is not allowed'),
    ('{% set x %}x{% endset %}', 'set block is not allowed'),
    ('{% with a = 1 %}{{ a }}{% endwith %}', 'with is not allowed'),
    ('{% autoescape false %}{{ client_name }}{% endautoescape %}', 'autoescape is not allowed'),
    ('{% set ns = namespace(a=1) %}{% set ns.a = 2 %}', 'namespace is not allowed'),
    ('{% for i in range(3) recursive %}{{ loop(i) }}{% endfor %}', 'recursive loops are not allowed'),
    ('{{ client_name|safe }}', 'the safe filter is not allowed'),
    ("{{ [client_name, 'x']|map('center', 10**9)|list }}", 'the map filter is not allowed'),
    ('{{ lipsum(100000) }}', 'lipsum() is not available'),
    ("{{ 'x'.center(10**9) }}", '.center() is not allowed'),
    ("{{ '{:>1000000000}'.format(1) }}", '.format() is not allowed'),
    ('{{ range(*[1, 2]) }}', '* and ** arguments are not allowed'),
    ('{{ client_name.__class__ }}', '__class__ is not available'),
]


@pytest.mark.parametrize(('body', 'reason'), REFUSED_CONSTRUCTS)
def test_only_allowed_constructs_are_saved(body, reason):
    with pytest.raises(InvalidInput, match=re.escape(reason)):
        check('Subject', body)


BOUNDED_AT_RUN_TIME = [
    "{% set a = 'x' * 60000 %}{{ a ~ a }}",
    "{% set a = 'x' * 60000 %}{{ a + a }}",
    "{{ '%(a)s' * 1000 % {'a': client_name * 100} }}",
    "{{ 'ab'|replace('', 'x' * 90000) }}",
    "{{ ('x\n' * 30000)|indent(100) }}",
    "{{ 'aaaa'|wordwrap(1, wrapstring='y' * 50000) }}",
    "{{ range(10000)|join('x' * 50) }}",
    "{{ ['x' * 50000] * 3 }}",
    '{{ (10 ** 64) ** 64 }}',
    '{{ 2 ** 100000000 }}',
    "{{ '%*d' % (1000000, 1) }}",
    "{{ '%s'|format('x' * 99990) ~ 'y' * 20 }}",
    '{% for i in range(9000) %}{% for c in client_name %}{% endfor %}{% endfor %}',
    "{% for i in range(5000) %}{{ 'x' * 50 }}{% endfor %}",
]


@pytest.mark.parametrize('body', BOUNDED_AT_RUN_TIME)
def test_values_loops_and_output_are_bounded_while_rendering(body):
    with pytest.raises(jinja2.TemplateError,
                       match='would make a value longer|is longer than|larger than|loops more than|over 100|renders to'):
        render('Subject', body, VALUES)


def test_the_output_is_counted_while_it_streams():
    body = '{% for i in range(9000) %}' + 'x' * 20 + '{% endfor %}'  # 180,000 characters from 9,000 iterations

    with pytest.raises(jinja2.TemplateError, match=f'the body renders to more than {MAX_OUTPUT_CHARS} characters'):
        render('Subject', body, VALUES)


def test_the_render_time_is_bounded():
    with pytest.raises(jinja2.TemplateError, match='took longer than 0 s'):
        render('Subject', '{{ client_name|upper }}', VALUES, seconds=0.0)


def test_loops_share_one_budget_across_subject_and_body():
    half = MAX_LOOP_ITERATIONS // 2 + 1
    loop = '{% for i in range(' + str(half) + ') %}{% endfor %}'

    render(loop, '', VALUES)
    with pytest.raises(jinja2.TemplateError, match='loops more than'):
        render(loop, loop, VALUES)


def test_ordinary_templates_still_work():
    body = ("{% for word in service_name.split() %}{{ loop.index }}:{{ word|upper }}{{ ', ' if not loop.last }}"
            "{% endfor %} {{ '%05.1f'|format(3.14159) }} {{ client_name ~ '!' }} {{ (start_date|truncate(6, true, ''))"
            "|center(10) }} {{ [1, 2, 3]|join('-') }} {% set greeting = 'Hi ' + client_name %}{{ greeting }}")

    check('[service_name]', body)
    assert render('[service_name]', body, {**VALUES, 'service_name': 'deep tissue massage'})[1] == (
        '1:DEEP, 2:TISSUE, 3:MASSAGE 003.1 Chris Client!   09 Mar   1-2-3 Hi Chris Client')


def test_a_value_in_a_sample_context_that_breaks_the_template_is_named():
    # Divides by zero for the sample with no provider name.
    with pytest.raises(InvalidInput, match='optional values missing'):
        check('Subject', '{{ 10 / provider_name|length }}')


def test_the_client_name_stays_escaped_whatever_the_template_does():
    name = '<script>alert(1)</script>'
    for body in ('{{ client_name }}', "{{ client_name ~ '' }}", "{{ '%s' % client_name }}", '{{ client_name|title }}',
                 "{{ [client_name, 1]|join }}", "{{ client_name|replace('x', 'y') }}"):
        assert '<script>' not in render('s', body, {'client_name': name})[1], body


# --- random templates from the grammar the allow-list accepts --------------------------------------------

_numbers = st.sampled_from([0, 1, 2, 3, 7, 100, 5000, 9999, 99999, 10**9, 2**64]).map(str)
_strings = st.sampled_from(["'x'", "'ab'", "''", "'%s'", "'%0100d'", "'%(a)s'", "'\\n'", "'a b c'"])
_names = st.sampled_from(list(VARIABLES) + ['i', 'x', 'loop.index', 'nothing'])


def _expressions() -> st.SearchStrategy[str]:
    atoms = st.one_of(_numbers, _strings, _names)

    def extend(inner):
        binary = st.tuples(inner, st.sampled_from(['*', '+', '~', '%', '**', '-', '//']), inner).map(
            lambda p: f'({p[0]} {p[1]} {p[2]})')
        filtered = st.tuples(inner, st.sampled_from(FILTERS), st.lists(st.one_of(_numbers, _strings), max_size=2)).map(
            lambda p: f'({p[0]}|{p[1]}({", ".join(p[2])}))' if p[2] else f'({p[0]}|{p[1]})')
        listed = st.lists(inner, min_size=2, max_size=3).map(lambda items: '[' + ', '.join(items) + ']')
        return st.one_of(binary, filtered, listed)

    return st.recursive(atoms, extend, max_leaves=8)


def _statements() -> st.SearchStrategy[str]:
    output = _expressions().map(lambda e: '{{ ' + e + ' }}')
    text = st.sampled_from(['<p>', 'Hello ', 'x' * 1000, '\n'])

    def extend(inner):
        body = st.lists(inner, min_size=1, max_size=3).map(''.join)
        iterable = st.one_of(_numbers.map(lambda n: f'range({n})'), _expressions())
        loop = st.tuples(iterable, body).map(lambda p: '{% for i in ' + p[0] + ' %}' + p[1] + '{% endfor %}')
        condition = st.tuples(_expressions(), body).map(lambda p: '{% if ' + p[0] + ' %}' + p[1] + '{% endif %}')
        assign = st.tuples(_expressions(), body).map(lambda p: '{% set x = ' + p[0] + ' %}' + p[1])
        return st.one_of(loop, condition, assign)

    return st.recursive(st.one_of(output, text), extend, max_leaves=6)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_statements(), min_size=1, max_size=3).map(''.join))
def test_random_templates_stay_within_the_bounds_or_fail_as_template_errors(body):
    try:  # with the time bound of a real send, which is one of the bounds under test here
        subject, html = render('Subject', body, {**VALUES, 'a': 'x'}, seconds=0.5)
    except jinja2.TemplateError:
        pass
    else:
        assert len(html) <= MAX_OUTPUT_CHARS and len(subject) <= 250

