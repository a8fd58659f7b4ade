"""The one JSON loader for bodies that come from outside (webhooks, provider events, the admin API).

`json.loads` alone turns hostile input into a 500: nesting a thousand levels deep overflows the
decoder's recursion (RecursionError), an integer of 4,301+ digits hits Python's int-string limit
(ValueError), and bytes that are not UTF-8 fail before parsing. Here each of these is an
InvalidInput naming the problem, found before the decoder recurses or converts anything large.
"""

import json
import math
import re
from typing import Any

from meetbridge.errors import InvalidInput

# Deeper than any body this API takes (the deepest is 4 levels), far below the decoder's recursion limit.
MAX_DEPTH = 64
# No field here is a number anywhere near this long; Python's own limit is 4,300 digits.
MAX_INTEGER_DIGITS = 100

# A string, or an unterminated one up to the end: each quote starts at most one scan, so the scan is linear.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*(?:"|\\?\Z)', re.DOTALL)
_BRACKET = re.compile(r'[\[\]{}]')


def loads(body: bytes | str) -> Any:
    """The parsed document. Raises InvalidInput saying what is wrong with the body."""
    if isinstance(body, bytes):
        body = utf8_text(body)
    if _depth_exceeds(body, MAX_DEPTH):
        raise InvalidInput(f'the body nests JSON arrays or objects deeper than {MAX_DEPTH} levels')
    try:
        document = json.loads(body, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f'the body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})') from None
    _check_text(document)
    return document


def loads_object(body: bytes | str) -> dict[str, Any]:
    """A body that must be one JSON object."""
    document = loads(body)
    if not isinstance(document, dict):
        raise InvalidInput('the body must be a JSON object')
    return document


def utf8_text(body: bytes) -> str:
    try:
        return body.decode('utf-8')
    except UnicodeDecodeError as exc:
        raise InvalidInput(f'the body is not UTF-8 text (invalid byte at offset {exc.start})') from None


def _depth_exceeds(text: str, limit: int) -> bool:
    depth = 0
    for bracket in _BRACKET.findall(_STRING.sub('', text)):
        depth += 1 if bracket in '[{' else -1
        if depth > limit:
            return True
    return False


def _integer(digits: str) -> int:
    if len(digits.lstrip('-')) > MAX_INTEGER_DIGITS:
        raise InvalidInput(f'the body has an integer longer than {MAX_INTEGER_DIGITS} digits')
    return int(digits)


def _float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise InvalidInput(f'the body has a number too large to represent ({text[:20]}...)')
    return number


def _constant(name: str) -> float:
    raise InvalidInput(f'the body has {name}, which is not a JSON number')


def _check_text(value: Any) -> None:
    """Strings must be Unicode text: a lone surrogate escape (\\ud800) decodes but cannot be stored or sent."""
    if isinstance(value, str):
        try:
            value.encode('utf-8')
        except UnicodeEncodeError:
            raise InvalidInput('the body has a string with an unpaired surrogate escape (\\ud800-\\udfff)') from None
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list):
        for item in value:
            _check_text(item)
