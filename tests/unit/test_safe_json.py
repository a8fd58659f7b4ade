"""The one loader for outside JSON: what JSON allows comes back as json.loads gives it; anything
hostile is an InvalidInput naming the problem, never another exception."""

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from meetbridge import safe_json
from meetbridge.errors import InvalidInput

# JSON documents within the loader's limits: depth at most 5, integers of at most 18 digits.
documents = st.recursive(
    st.none() | st.booleans() | st.integers(-10**18, 10**18) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


@given(documents)
def test_what_json_allows_comes_back_as_json_loads_gives_it(document):
    text = json.dumps(document)
    assert safe_json.loads(text) == json.loads(text)
    assert safe_json.loads(text.encode()) == json.loads(text)


@settings(max_examples=300)
@given(st.binary(max_size=400))
def test_any_bytes_parse_or_raise_invalid_input(body):
    try:
        safe_json.loads(body)
    except InvalidInput as exc:
        assert str(exc).startswith('the body ')


@settings(max_examples=200)
@given(st.text(alphabet='[]{}"\\:,0123456789 a', max_size=300))
def test_any_bracket_soup_parses_or_raises_invalid_input(text):
    try:
        safe_json.loads(text)
    except InvalidInput as exc:
        assert str(exc).startswith('the body ')


@pytest.mark.parametrize('body, problem', [
    ('[' * 3000 + ']' * 3000, 'deeper than 64 levels'),
    ('{"a":' * 65 + '1' + '}' * 65, 'deeper than 64 levels'),
    ('{"a": ' + '9' * 5000 + '}', 'integer longer than 100 digits'),
    ('[-' + '9' * 101 + ']', 'integer longer than 100 digits'),
    ('[1e400]', 'too large to represent'),
    ('[Infinity]', 'Infinity, which is not a JSON number'),
    ('{"a": "\\udc00"}', 'unpaired surrogate'),
    ('{"\\ud800": 1}', 'unpaired surrogate'),
    (b'\xef\xbb\xbf{}', 'not valid JSON'),  # a BOM: JSON text does not start with one
    (b'{"a": "\xc3"}', 'not UTF-8 text (invalid byte at offset 7)'),
    ('', 'not valid JSON'),
])
def test_hostile_bodies_name_their_problem(body, problem):
    with pytest.raises(InvalidInput, match=problem.replace('(', r'\(').replace(')', r'\)')):
        safe_json.loads(body)


def test_depth_limit_is_exact_and_brackets_inside_strings_do_not_count():
    assert safe_json.loads('[' * 64 + ']' * 64) is not None
    assert safe_json.loads('["' + '[' * 1000 + '"]') == ['[' * 1000]
    assert safe_json.loads(r'["\"[[[[", "\\"]') == ['"[[[[', '\\']
    assert safe_json.loads('[' + '9' * 100 + ']') == [int('9' * 100)]
    assert safe_json.loads('["\\ud83d\\ude00"]') == ['\N{GRINNING FACE}']  # a surrogate pair is one character


def test_an_unterminated_string_full_of_escapes_is_refused_in_one_pass():
    # Each escaped quote could start a string that never ends; a scan restarting at each would take minutes.
    with pytest.raises(InvalidInput, match='not valid JSON'):
        safe_json.loads('"' + '\\"' * 100_000)


@pytest.mark.parametrize('body', ['[]', '"x"', '3', 'null'])
def test_loads_object_wants_an_object(body):
    with pytest.raises(InvalidInput, match='must be a JSON object'):
        safe_json.loads_object(body)
    assert safe_json.loads_object('{"a": [1]}') == {'a': [1]}
