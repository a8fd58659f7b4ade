"""The client's phone (E.164) and locale (BCP 47): strict in the generic contract (a 400 naming the field),
normalised or left out when a platform sends them (never failing the booking)."""

import json
import logging
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from helpers import sign
from meetbridge.domain.model import Client
from meetbridge.errors import InvalidInput
from meetbridge.notify.locales import normalize
from meetbridge.observability import logger
from meetbridge.sources.base import WebhookRequest, platform_locale, platform_phone
from meetbridge.sources.generic import SIGNATURE_HEADER, GenericSource

from .payloads import booking_payload, webhook_payload

SECRET = 'whsec_phone-unit'
NOW = 1_800_000_000
CLIENT = {'id': 'cl-42', 'name': 'Ann Lee', 'email': 'ann@example.com'}
E164 = re.compile(r'^\+[1-9][0-9]{6,14}$')


def translate_client(**fields) -> Client:
    """The client of a generic webhook whose client has `fields` added."""
    document = webhook_payload(booking=booking_payload(client={**CLIENT, **fields}))
    raw = json.dumps(document).encode()
    request = WebhookRequest(tenant_id='tenant-1', headers={SIGNATURE_HEADER: sign(SECRET, raw, NOW)}, body=raw,
                             received_at=NOW)
    [event] = GenericSource().translate(request, [SECRET.encode()], lambda external_id: None).events
    return event.booking.client


# --- the generic contract ---


def test_a_client_without_phone_or_locale_has_neither():
    client = translate_client()
    assert (client.phone, client.locale) == (None, None)


@pytest.mark.parametrize('phone', ['+447700900123', '+15550100', '+861012345678901'])
def test_an_e164_phone_is_kept_as_sent(phone):
    assert translate_client(phone=phone).phone == phone


@pytest.mark.parametrize('phone', ['447700900123', '+44 7700 900123', '+0447700900123', '+441234', '+1234567890123456',
                                   '00447700900123', '', 447700900123, ['+447700900123']])
def test_a_phone_that_is_not_e164_is_invalid_input_naming_the_field(phone):
    with pytest.raises(InvalidInput) as refused:
        translate_client(phone=phone)
    assert refused.value.field == 'booking.client.phone'


@pytest.mark.parametrize(('locale', 'held'), [('fr', 'fr'), ('fr_ca', 'fr-CA'), ('FR-ca', 'fr-CA'), ('uk', 'uk'),
                                              ('da-DK', 'da-DK'), ('zh-hant-tw', 'zh-Hant-TW'), ('es-419', 'es-419')])
def test_a_locale_is_held_normalised(locale, held):
    assert translate_client(locale=locale).locale == held


@pytest.mark.parametrize('locale', ['', 'f', 'french!', 'fr--CA', 'fr-', '-fr', 'fr CA', 'en-' + 'a' * 33, 'françai', 7])
def test_a_locale_that_is_not_a_language_tag_is_invalid_input_naming_the_field(locale):
    with pytest.raises(InvalidInput) as refused:
        translate_client(locale=locale)
    assert refused.value.field == 'booking.client.locale'


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=40), st.from_regex(r'\+[0-9]{0,20}', fullmatch=True), st.integers(), st.none(),
                 st.floats(allow_nan=False, allow_infinity=False), st.booleans()))
def test_any_phone_is_kept_when_e164_and_otherwise_a_400_naming_it(phone):
    """Nothing a sender puts in `booking.client.phone` raises anything but InvalidInput (the 400 of the error
    map), so no phone is ever a 5xx."""
    try:
        client = translate_client(phone=phone)
    except InvalidInput as refused:
        assert refused.field == 'booking.client.phone'
        assert not (isinstance(phone, str) and E164.match(phone))
    else:
        assert client.phone == phone or (phone is None and client.phone is None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=50), st.from_regex(r'[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}', fullmatch=True),
                 st.integers(), st.none()))
def test_any_locale_is_held_normalised_or_a_400_naming_it(locale):
    try:
        client = translate_client(locale=locale)
    except InvalidInput as refused:
        assert refused.field == 'booking.client.locale'
    else:
        assert client.locale is None if locale is None else client.locale == normalize(locale)


# --- the model itself ---


def test_the_model_refuses_what_the_contract_refuses():
    with pytest.raises(ValidationError):
        Client(**CLIENT, phone='07700 900123')
    with pytest.raises(ValidationError):
        Client(**CLIENT, locale='not a tag')
    assert Client(**CLIENT, phone='+447700900123', locale='en_gb').model_dump() == {
        **CLIENT, 'timezone': None, 'phone': '+447700900123', 'locale': 'en-GB'}


# --- what platforms send ---


@pytest.mark.parametrize(('sent', 'kept'), [
    ('+44 20 7946 0958', '+442079460958'),
    ('+44-20-7946-0958', '+442079460958'),
    ('+1 (415) 555.0132', '+14155550132'),
    ('0044 20 7946 0958', '+442079460958'),
    ('\t+33 1 23 45 67 89\n', '+33123456789'),
    # A "(0)" trunk prefix is dialled only inside the country: not part of the international number.
    ('+44 (0)20 7946 0000', '+442079460000'),
    ('+33 (0)1 23 45 67 89', '+33123456789'),
    ('0033 ( 0 ) 1 23 45 67 89', '+33123456789'),
    ('020 7946 0958', None),  # national: which country is not said
    ('+44 20 7946 0958 ext. 12', None),
    ('call me', None),
    ('+', None),
    ('', None),
    (None, None),
])
def test_a_platforms_phone_is_normalised_to_e164_or_left_out(sent, kept):
    assert platform_phone(sent, 'wix') == kept


def test_a_phone_left_out_is_logged_without_the_number(caplog):
    caplog.set_level(logging.INFO, logger=logger.name)

    assert platform_phone('020 7946 0958', 'acuity') is None

    [record] = [record for record in caplog.records if 'phone' in record.getMessage()]
    assert record.source == 'acuity'
    assert '7946' not in caplog.text and '7946' not in repr(vars(record))


@pytest.mark.parametrize(('sent', 'kept'), [('es', 'es'), ('pt_br', 'pt-BR'), ('EN-us', 'en-US'), ('', None),
                                            (None, None), ('english please', None), ('x' * 36, None)])
def test_a_platforms_locale_is_normalised_or_left_out(sent, kept):
    assert platform_locale(sent, 'calcom') == kept


def test_normalize_says_why_a_tag_is_refused():
    with pytest.raises(ValueError, match='at most 35'):
        normalize('en-' + 'abcdefgh-' * 4)
    with pytest.raises(ValueError, match='BCP 47'):
        normalize('en_')
