"""A list's cursor names a position of the list it was handed out for, and nothing else gets past it."""

import base64
import json

import pytest

from meetbridge.errors import InvalidInput
from meetbridge.logic.listing import decode_cursor, encode_cursor

POSITION = {'pk': 'TENANT#t_1', 'sk': 'SERVICE#svc'}
FILTERS = {'status': 'active'}


def _ours(position: dict) -> bool:
    return set(position) == {'pk', 'sk'} and position['pk'] == 'TENANT#t_1' and position['sk'].startswith('SERVICE#')


def _edited(token: str, **changes) -> str:
    document = json.loads(base64.urlsafe_b64decode(token + '=' * (-len(token) % 4)))
    document.update(changes)
    return base64.urlsafe_b64encode(json.dumps(document).encode()).decode()


def test_a_cursor_answers_its_position_to_the_list_and_filters_it_was_handed_out_for():
    token = encode_cursor('t_1', 'services', FILTERS, POSITION)
    assert set(token) <= set('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_')
    assert decode_cursor(token, 't_1', 'services', FILTERS, _ours) == POSITION


@pytest.mark.parametrize('tampered, why', [
    (lambda token: _edited(token, t='t_2'), "another list's"),
    (lambda token: _edited(token, l='providers'), "another list's"),
    (lambda token: _edited(token, f={'status': 'cancelled'}), 'other filters'),
    (lambda token: _edited(token, k={'pk': 'TENANT#t_2', 'sk': 'SERVICE#svc'}), 'not a cursor'),
    (lambda token: _edited(token, k={'pk': 'TENANT#t_1', 'sk': 'KEY#abc'}), 'not a cursor'),
    (lambda token: _edited(token, k={'pk': 'TENANT#t_1', 'sk': 'SERVICE#svc', 'x': 'y'}), 'not a cursor'),
    (lambda token: _edited(token, k={'pk': 'TENANT#t_1', 'sk': 7}), 'not a cursor'),
    (lambda token: _edited(token, k=['TENANT#t_1']), 'not a cursor'),
    (lambda token: _edited(token, extra=1), 'not a cursor'),
    (lambda token: token[:-3], 'not a cursor'),
    (lambda token: '!' + token, 'not a cursor'),
    (lambda token: base64.urlsafe_b64encode(b'[1, 2]').decode(), 'not a cursor'),
    (lambda token: base64.urlsafe_b64encode(b'\xff\xfe').decode(), 'not a cursor'),
    (lambda token: 'A' * 5000, 'not a cursor'),
])
def test_a_changed_or_foreign_cursor_is_refused_naming_next(tampered, why):
    token = tampered(encode_cursor('t_1', 'services', FILTERS, POSITION))
    with pytest.raises(InvalidInput) as refused:
        decode_cursor(token, 't_1', 'services', FILTERS, _ours)
    assert refused.value.field == 'next' and why in str(refused.value)
