import jinja2
import pytest

from meetbridge.errors import InvalidInput
from meetbridge.notify.render import MAX_TEMPLATE_CHARS, check, render, text_alternative

HOSTILE_NAME = '<script>alert(1)</script>'


def test_variables_are_html_escaped_in_the_body_but_the_subject_is_plain_text():
    subject, body = render('Booked: [client_name]', '<p>Hello [client_name]</p>', {'client_name': HOSTILE_NAME})

    assert body == '<p>Hello &lt;script&gt;alert(1)&lt;/script&gt;</p>'
    assert '<script>' not in body
    assert subject == f'Booked: {HOSTILE_NAME}'


def test_bracket_and_jinja_forms_render_the_same_value():
    _, body = render('s', '[client_name]|{{ client_name }}|{{client_name}}|[note]', {'client_name': 'Ann'})

    assert body == 'Ann|Ann|Ann|[note]'


def test_template_logic_works_in_the_sandbox():
    template = '{% if online_meeting_password %}Password: [online_meeting_password]{% else %}none{% endif %}'

    assert render('s', template, {'online_meeting_password': 'pw 1'})[1] == 'Password: pw 1'
    assert render('s', template, {'online_meeting_password': ''})[1] == 'none'


def test_missing_variables_render_empty():
    assert render('[service_name]!', '<p>[service_name]</p>', {}) == ('!', '<p></p>')


def test_subject_is_one_line_of_at_most_250_characters():
    subject, _ = render('Hi [client_name]\n  again', '', {'client_name': 'Ann\r\nBcc: victim@example.com'})

    assert subject == 'Hi Ann Bcc: victim@example.com again'
    assert '\n' not in subject and '\r' not in subject
    assert len(render('x' * 1000, '', {})[0]) == 250


@pytest.mark.parametrize(
    'template',
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        '{{ cycler.__init__.__globals__ }}',
        '{{ cycler.__init__.__globals__.os.popen("id").read() }}',
        '{{ joiner.__init__.__globals__ }}',
        "{{ [].__class__.__base__.__subclasses__() }}",
    ],
)
@pytest.mark.parametrize('part', ['subject', 'body'])
def test_access_to_python_internals_is_refused(template, part):
    subject, body = (template, '') if part == 'subject' else ('', template)

    with pytest.raises(jinja2.TemplateError, match='is not (available|allowed) in a template'):
        render(subject, body, {})
    with pytest.raises(InvalidInput, match=part):
        check(subject or 's', body or 'b')


def test_the_template_context_cannot_be_reached_through_self():
    with pytest.raises(jinja2.TemplateSyntaxError, match='_TemplateReference__context is not available'):
        render('s', '[{{ self._TemplateReference__context }}]', {'online_meeting_provider_link': 'https://host'})


def test_check_accepts_a_valid_template():
    check('Your meeting [service_name]', '<p>{% if online_meeting_link %}[online_meeting_link]{% endif %}</p>')


def test_check_rejects_a_syntax_error_naming_the_line():
    with pytest.raises(InvalidInput, match=r'\(line 3\)') as exc_info:
        check('ok', '<p>one</p>\n<p>two</p>\n{% if %}')

    assert exc_info.value.field == 'body'
    assert str(exc_info.value).startswith('body: ')


def test_check_rejects_a_syntax_error_in_the_subject():
    with pytest.raises(InvalidInput, match=r'line 1') as exc_info:
        check('Hi {{ client_name ', '<p>fine</p>')

    assert exc_info.value.field == 'subject'


def test_check_rejects_a_template_longer_than_the_limit():
    with pytest.raises(InvalidInput, match=str(MAX_TEMPLATE_CHARS)) as exc_info:
        check('s', 'x' * (MAX_TEMPLATE_CHARS + 1))

    assert exc_info.value.field == 'body'
    check('s', 'x' * MAX_TEMPLATE_CHARS)


CANNOT_RENDER = [
    pytest.param("{% include 'footer.html' %}", id='include'),
    pytest.param("{% extends 'base.html' %}", id='extends'),
    pytest.param("{% import 'macros.html' as m %}", id='import'),
    pytest.param('{{ 1 / 0 }}', id='division-by-zero'),
]

@pytest.mark.parametrize('body', CANNOT_RENDER)
def test_check_refuses_a_template_that_cannot_render(body):
    with pytest.raises(InvalidInput):
        check('Subject', body)


@pytest.mark.parametrize('body', CANNOT_RENDER)
def test_render_failures_are_jinja2_errors(body):
    with pytest.raises(jinja2.TemplateError):
        render('Subject', body, {})


@pytest.mark.parametrize('body', ["{{ 'a' * 10**9 }}", '{{ 2 ** 100000000 }}', "{{ [1] * 1000000 }}"])
def test_templates_cannot_build_huge_values(body):
    with pytest.raises(jinja2.TemplateError):
        render('Subject', body, {})
    with pytest.raises(InvalidInput):
        check('Subject', body)


def test_bounded_arithmetic_still_works():
    assert render('{{ 2 ** 10 }}', "{{ '-' * 3 }}", {}) == ('1024', '---')


def test_text_alternative_strips_tags_and_keeps_line_breaks():
    html = ('<p>Hello <b>Ann</b>,</p><p>Join: <a href="https://meet.test/j/abc">link</a><br>'
            'https://meet.test/j/abc<br />Password: 1234</p><ul><li>one</li><li>two</li></ul>')

    assert text_alternative(html) == 'Hello Ann,\nJoin: link\nhttps://meet.test/j/abc\nPassword: 1234\none\ntwo'


def test_text_alternative_unescapes_entities_once_and_drops_blank_lines():
    assert text_alternative('<p>Tom &amp; Jerry &lt;3</p>\n\n<p>  </p><div>end</div>') == 'Tom & Jerry <3\nend'


def test_rendered_escaped_name_reads_naturally_in_the_text_part():
    _, body = render('s', '<p>Hello [client_name]</p>', {'client_name': 'A & B <co>'})

    assert text_alternative(body) == 'Hello A & B <co>'
