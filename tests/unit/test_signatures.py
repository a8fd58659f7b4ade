import json

import pytest

from helpers import sign
from meetbridge.security.signatures import SignatureError, verify_timestamped

SECRET = 'whsec_unit-test-secret'
NOW = 1_800_000_000
BODY = b'{"event_id": "evt-1", "type": "booking.created"}'


def verify(header, body=BODY, now=NOW, secret=SECRET):
    return verify_timestamped([secret.encode()], header, body, now, 300)


def test_valid_signature_returns_its_timestamp():
    assert verify(sign(SECRET, BODY, NOW - 42)) == NOW - 42


def test_wrong_secret_fails_and_the_message_does_not_carry_a_secret():
    with pytest.raises(SignatureError, match='does not match') as exc_info:
        verify(sign('whsec_someone-else', BODY, NOW))

    assert SECRET not in str(exc_info.value)
    assert 'someone-else' not in str(exc_info.value)


def test_one_tampered_byte_fails():
    tampered = bytearray(BODY)
    tampered[BODY.index(b'created')] ^= 0x01

    with pytest.raises(SignatureError, match='does not match'):
        verify(sign(SECRET, BODY, NOW), body=bytes(tampered))


def test_reserialised_json_fails_because_the_raw_bytes_are_signed():
    reserialised = json.dumps(json.loads(BODY), separators=(',', ':')).encode()
    assert reserialised != BODY and json.loads(reserialised) == json.loads(BODY)

    with pytest.raises(SignatureError):
        verify(sign(SECRET, BODY, NOW), body=reserialised)


@pytest.mark.parametrize('age', [300, -300, 0])
def test_timestamps_within_five_minutes_either_way_are_accepted(age):
    assert verify(sign(SECRET, BODY, NOW - age)) == NOW - age


@pytest.mark.parametrize('age', [301, -301, 86_400, -86_400])
def test_stale_or_future_timestamps_fail_even_with_a_correct_signature(age):
    with pytest.raises(SignatureError, match='outside the allowed window'):
        verify(sign(SECRET, BODY, NOW - age))


@pytest.mark.parametrize('header', [None, ''])
def test_missing_header_fails(header):
    with pytest.raises(SignatureError, match='missing'):
        verify(header)


_GOOD_V1 = sign(SECRET, BODY, NOW).split(',v1=')[1]

MALFORMED = [
    't=abc',
    f't=abc,v1={_GOOD_V1}',
    f't={NOW}',  # no v1
    f'v1={_GOOD_V1}',  # no t
    'garbage',
    ',,,',
    '=',
    f't={NOW},v1=é',  # non-ASCII signature value
    f't={NOW},v1=\udc80',  # a lone surrogate, as a lenient header decoder can produce
    f't={NOW},v1=',
    f't={"9" * 13},v1={_GOOD_V1}',  # huge t
    f't={"9" * 5000},v1={_GOOD_V1}',  # int() refuses more than 4300 digits with ValueError
    f't=1e9,v1={_GOOD_V1}',
    f't=-{NOW},v1={_GOOD_V1}',
    f't=１８００００００００,v1={_GOOD_V1}',  # full-width digits pass str.isdigit
    f't=¹²³,v1={_GOOD_V1}',  # superscripts pass str.isdigit but not int()
    f't= {NOW},v1={_GOOD_V1}',
    f't={NOW}.5,v1={_GOOD_V1}',
    f't={NOW},v1={_GOOD_V1.upper()}',
    f't={NOW},v2={_GOOD_V1}',
    f't={NOW};v1={_GOOD_V1}',
]


@pytest.mark.parametrize('header', MALFORMED)
def test_malformed_headers_raise_signature_error_and_nothing_else(header):
    # pytest.raises(SignatureError) lets any other exception type fail the test.
    with pytest.raises(SignatureError):
        verify(header)


def test_malformed_timestamp_is_named_in_the_message():
    with pytest.raises(SignatureError, match='malformed signature timestamp'):
        verify('t=abc,v1=00')


def test_several_v1_values_during_rotation_pass_when_one_matches():
    old = sign('whsec_old', BODY, NOW).split(',v1=')[1]
    new = sign(SECRET, BODY, NOW).split(',v1=')[1]

    assert verify(f't={NOW},v1={old},v1={new}') == NOW
    assert verify(f't={NOW}, v1={new}, v1={old}') == NOW


def test_several_v1_values_fail_when_none_matches():
    first = sign('whsec_a', BODY, NOW).split(',v1=')[1]
    second = sign('whsec_b', BODY, NOW).split(',v1=')[1]

    with pytest.raises(SignatureError, match='does not match'):
        verify(f't={NOW},v1={first},v1={second}')


def test_signature_is_bound_to_its_timestamp():
    # A valid v1 replayed with a fresher t does not verify.
    v1 = sign(SECRET, BODY, NOW - 1000).split(',v1=')[1]

    with pytest.raises(SignatureError, match='does not match'):
        verify(f't={NOW},v1={v1}')


def test_during_a_rotation_either_secret_verifies_and_no_other():
    secrets = [b'whsec_new', SECRET.encode()]

    assert verify_timestamped(secrets, sign('whsec_new', BODY, NOW), BODY, NOW, 300) == NOW
    assert verify_timestamped(secrets, sign(SECRET, BODY, NOW), BODY, NOW, 300) == NOW
    with pytest.raises(SignatureError, match='does not match'):
        verify_timestamped(secrets, sign('whsec_other', BODY, NOW), BODY, NOW, 300)
