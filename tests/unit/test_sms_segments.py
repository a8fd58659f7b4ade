"""SMS segments as the tenant's limit counts them: GSM-7 (with its extension table) or UCS-2."""

import math

from hypothesis import assume, given
from hypothesis import strategies as st

from meetbridge.domain.sms import GSM7_BASIC, GSM7_EXTENSION, segments

BASIC = ''.join(sorted(GSM7_BASIC))
EXTENSION = ''.join(sorted(GSM7_EXTENSION))
gsm_text = st.text(alphabet=BASIC + EXTENSION, max_size=1200)
basic_text = st.text(alphabet=BASIC, max_size=1200)
# Not GSM-7: accents outside it, Cyrillic, CJK, emoji (outside the BMP: a surrogate pair each).
OTHERS = 'êâïœЖжДіїєґ中文😀🎉👍🏽'
any_text = st.text(alphabet=BASIC + EXTENSION + OTHERS, max_size=600)


def _utf16_units(text: str) -> int:
    return len(text.encode('utf-16-le')) // 2


def test_an_empty_text_is_no_segment():
    assert segments('').segments == 0


def test_accents_of_the_gsm_alphabet_keep_it_and_others_do_not():
    for accent in 'éèùìòÇØÅÆßÑÜà':
        assert segments(f'Caf{accent} at 9:30').encoding == 'GSM-7', accent
    for accent in 'êâï':
        assert segments(f'Caf{accent} at 9:30').encoding == 'UCS-2', accent
    # One character outside the alphabet turns the whole text to UCS-2: 70 to a segment, not 160.
    assert segments('é' * 160).segments == 1
    assert segments('é' * 159 + 'ê').segments == 3


@given(basic_text)
def test_a_basic_gsm_text_costs_a_septet_a_character(text):
    count = segments(text)
    assert (count.encoding, count.units) == ('GSM-7', len(text))
    expected = 0 if not text else 1 if len(text) <= 160 else math.ceil(len(text) / 153)
    assert count.segments == expected


@given(st.integers(min_value=0, max_value=159), st.sampled_from(EXTENSION))
def test_an_extension_character_takes_two_septets_at_the_single_segment_edge(padding, extension):
    text = 'a' * padding + extension
    assert segments(text).units == padding + 2
    assert segments(text).segments == (1 if padding + 2 <= 160 else 2)


@given(st.integers(min_value=1, max_value=8), st.integers(min_value=0, max_value=200), st.sampled_from(EXTENSION))
def test_an_extension_character_is_never_split_across_parts(parts_before, tail, extension):
    # The escape and its character travel together: with one septet left in a part, both go to the next.
    text = 'a' * (153 * parts_before - 1) + extension + 'a' * tail
    assume(len(text) + 1 > 160)  # concatenated: one message of 160 has no parts
    assert segments(text).segments == parts_before + math.ceil((2 + tail) / 153)


@given(st.integers(min_value=0, max_value=400))
def test_cyrillic_is_ucs2(length):
    count = segments('Ж' * length)
    assert (count.encoding, count.units) == ('UCS-2' if length else 'GSM-7', length)
    assert count.segments == (0 if not length else 1 if length <= 70 else math.ceil(length / 67))


@given(st.integers(min_value=1, max_value=6), st.integers(min_value=0, max_value=150))
def test_an_emoji_is_never_split_across_parts(parts_before, tail):
    text = 'Ж' * (67 * parts_before - 1) + '😀' + 'Ж' * tail
    count = segments(text)
    assume(count.units > 70)  # concatenated: one message of 70 has no parts
    assert count.units == 67 * parts_before + 1 + tail
    assert count.segments == parts_before + math.ceil((2 + tail) / 67)


def test_an_emoji_that_fits_in_one_segment():
    assert segments('Ж' * 68 + '😀').segments == 1
    assert segments('Ж' * 69 + '😀').segments == 2


@given(st.integers(min_value=1, max_value=10), st.sampled_from(['GSM-7', 'UCS-2']))
def test_a_text_built_to_be_exactly_n_segments(n, encoding):
    char, single, part = ('a', 160, 153) if encoding == 'GSM-7' else ('Ж', 70, 67)
    full = char * (single if n == 1 else part * n)
    assert (segments(full).encoding, segments(full).segments) == (encoding, n)
    assert segments(full + char).segments == n + 1


@given(any_text)
def test_the_encoding_and_units_follow_the_characters(text):
    count = segments(text)
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        assert count.encoding == 'GSM-7'
        assert count.units == len(text) + sum(char in GSM7_EXTENSION for char in text)
    else:
        assert (count.encoding, count.units) == ('UCS-2', _utf16_units(text))


@given(any_text)
def test_the_parts_hold_the_text_and_no_more_than_one_unit_is_wasted_a_part(text):
    count = segments(text)
    single, part = (160, 153) if count.encoding == 'GSM-7' else (70, 67)
    if count.units <= single:
        assert count.segments == (1 if text else 0)
    else:
        # Every part but the last is full, save the one unit a pushed character may leave.
        assert (count.segments - 1) * (part - 1) < count.units <= count.segments * part


@given(any_text, st.sampled_from(BASIC + EXTENSION + OTHERS))
def test_a_longer_text_never_costs_fewer_segments(text, char):
    assert segments(text + char).segments >= segments(text).segments
