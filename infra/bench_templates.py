"""How fast hostile templates are refused, and how long the heaviest templates take to render.

    .venv/bin/python -m infra.bench_templates

For each template: what saving it answers (accepted, or refused with the reason), how long the check
took and the peak memory it allocated (measured in a second, traced run: tracing slows Python down);
then, at send time, the first render in a container (which compiles the template, once) and the slowest
of a few more (a refused template's render fails, which is what the notifications function meets if one
was stored before these bounds). Runs in well under a minute.
"""

import sys
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / 'layers' / 'shared'))

from jinja2 import TemplateError  # noqa: E402

from meetbridge.domain.templates import sample_variables  # noqa: E402
from meetbridge.errors import InvalidInput  # noqa: E402
from meetbridge.notify import render  # noqa: E402
from meetbridge.notify.defaults import DEFAULT_TEMPLATES  # noqa: E402

RENDERS = 5

HOSTILE = {
    "'x'|center(1000000000)": "{{ 'x'|center(1000000000) }}",
    '"%0200000d" % 1': '{{ "%0200000d" % 1 }}',
    '"a"|center(200000)': '{{ "a"|center(200000) }}',
    "'x'|center(10**7)": "{{ 'x'|center(10**7) }}",
    'nested range loops, 5x10^8': '{% for i in range(100000) %}{% for j in range(5000) %}{{ j }}{% endfor %}{% endfor %}',
    'nested loops, 10^8': '{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}',
    '90 nested parentheses': '{{ ' + '(' * 90 + '1' + ')' * 90 + ' }}',
    '2,000 chained +': '{{ ' + ' + '.join(['1'] * 2000) + ' }}',
    "'%(a)s' * 1000 % {'a': 99,000 chars}": "{{ '%(a)s' * 1000 % {'a': 'x' * 99000} }}",
}

# Allowed constructs, as heavy as the bounds let them be: the time bound is what stops them.
HEAVY = {
    'default client_created': DEFAULT_TEMPLATES['client_created'][1],
    '9,999 iterations, each replacing in 99,000 chars':
        "{% set big = 'x' * 99000 %}{% for i in range(9999) %}{{ big|replace('x', 'y')|length }}{% endfor %}",
    '9,999 iterations, each centering 99,000 chars':
        "{% for i in range(9999) %}{{ ('x'|center(99000))|length }}{% endfor %}",
    '100,000 characters of output': "{% for i in range(9999) %}{{ 'x' * 10 }}{% endfor %}",
    '2,000 iterations of a filter on a 200-character name': '{% for i in range(2000) %}{{ client_name|upper }}{% endfor %}',
    '50,000 characters: 2,000 outputs with a filter': '{{ client_name|upper }}' * 2000,
    '9,999 iterations of 8 filters':
        '{% for i in range(9999) %}{{ client_name|upper|lower|title|trim|replace("a", "b")|truncate(9)|length }}'
        '{% endfor %}',
}


def _check(body: str) -> str:
    try:
        render.check('Subject', body)
        return 'accepted'
    except InvalidInput as refused:
        return f'refused: {refused}'


def _save(body: str) -> tuple[str, float, float]:
    started = time.perf_counter()
    outcome = _check(body)
    elapsed = time.perf_counter() - started
    tracemalloc.start()
    _check(body)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return outcome, elapsed, peak / 1e6


def _timed_render(body: str) -> tuple[float, str]:
    started = time.perf_counter()
    try:
        render.render('Subject', body, sample_variables()['the longest values'])
        outcome = 'rendered'
    except TemplateError as failed:
        outcome = f'failed: {render.failure_reason(failed)}'
    return time.perf_counter() - started, outcome


def _renders(body: str) -> tuple[float, float, str]:
    """The first render in a container (it compiles the template), and the slowest of the next ones."""
    render._compiled_or_refusal.cache_clear()
    first, _ = _timed_render(body)
    timed = [_timed_render(body) for _ in range(RENDERS)]
    return first, max(seconds for seconds, _ in timed), timed[-1][1]


def main() -> None:
    print(f'bounds: {render.MAX_VALUE_CHARS} chars a value, {render.MAX_OUTPUT_CHARS} chars of output, '
          f'{render.MAX_LOOP_ITERATIONS} loop iterations, {render.MAX_RENDER_SECONDS:g} s a render at send time '
          f'({render.SAVE_RENDER_SECONDS:g} s at save), nesting {render.MAX_NESTING}')
    for title, templates in (('hostile templates', HOSTILE), ('heaviest allowed constructs', HEAVY)):
        print(f'\n{title}:')
        for name, body in templates.items():
            render._compiled_or_refusal.cache_clear()
            outcome, save_seconds, peak_mb = _save(body)
            first, slowest, rendered = _renders(body)
            print(f'  {name}\n    save: {save_seconds * 1000:8.1f} ms, peak {peak_mb:6.1f} MB, {outcome[:110]}'
                  f'\n    send: first {first * 1000:8.2f} ms, then the slowest of {RENDERS} {slowest * 1000:8.2f} ms, '
                  f'{rendered[:90]}')


if __name__ == '__main__':
    main()
