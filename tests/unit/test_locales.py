import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from meetbridge.config import CONCERNS, placeholder_environment
from meetbridge.notify.locales import BUILTIN_LOCALES, language_group, normalize, time_variables

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(('tag', 'normalised'), [
    ('fr_ca', 'fr-CA'), ('FR-ca', 'fr-CA'), ('fr-CA', 'fr-CA'), ('uk', 'uk'), ('DA', 'da'), (' en-gb ', 'en-GB'),
    ('zh-hant-tw', 'zh-Hant-TW'), ('sr_Latn_RS', 'sr-Latn-RS'),
    # A deprecated code is its language's; a region CLDR does not list keeps its tag (and its language's data).
    ('iw', 'he'), ('en-ZZ', 'en-ZZ'),
    # Variants as BCP 47 allows them (Babel writes them in capitals).
    ('ca-ES-valencia', 'ca-ES-VALENCIA'), ('de-DE-1996', 'de-DE-1996'),
])
def test_normalize_writes_a_tag_in_its_usual_case(tag, normalised):
    assert normalize(tag) == normalised


@pytest.mark.parametrize(('tag', 'reason'), [
    ('', 'non-empty'), ('   ', 'non-empty'), ('en-' + 'x' * 33, 'at most 35 characters'),
    ('en-', 'not a BCP 47 language tag'), ('en--US', 'not a BCP 47 language tag'), ('123', 'not a BCP 47 language tag'),
    ('fr-FR-x-private', 'not a BCP 47 language tag'), ('xx', 'no locale data'), ('xx-US', 'no locale data'),
    ('und', 'does not name a language'), ('en-US@calendar', 'does not name a language'),
    ('root', 'does not name a language'), ('ROOT', 'does not name a language'),
    # A variant has 5 to 8 letters or digits, or 4 starting with a digit.
    ('fr-CA-ABCDEFGHI', 'a variant has 5 to 8'), ('de-DE-199', 'not a BCP 47 language tag'),
])
def test_normalize_refuses_what_babel_cannot_use_with_the_reason(tag, reason):
    with pytest.raises(ValueError, match=reason):
        normalize(tag)


def test_normalize_refuses_what_is_not_text():
    with pytest.raises(ValueError, match='non-empty string'):
        normalize(None)


@pytest.mark.parametrize(('tag', 'group'), [
    ('fr-CA', ('fr-CA', 'fr')), ('fr', ('fr',)), ('zh-Hant-TW', ('zh-Hant-TW', 'zh-Hant', 'zh')),
])
def test_language_group_falls_back_from_the_most_specific_tag(tag, group):
    assert language_group(tag) == group


def test_the_built_in_languages_are_the_seeds():
    assert BUILTIN_LOCALES == ('en', 'fr', 'uk', 'da')


# One instant, 15:30 in Paris: each language's own words, order and hour cycle (Babel 2.19's CLDR data).
START, END = datetime(2026, 3, 9, 14, 30, tzinfo=timezone.utc), datetime(2026, 3, 9, 15, 15, tzinfo=timezone.utc)
PARIS = ZoneInfo('Europe/Paris')


@pytest.mark.parametrize(('locale', 'expected'), [
    ('en', {'start_time': 'Monday, March 9, 2026, 3:30 PM', 'start_date': 'March 9, 2026', 'end_time': '4:15 PM',
            'start_time_short': 'Mon, Mar 9, 3:30 PM'}),
    ('fr', {'start_time': 'lundi 9 mars 2026 à 15:30', 'start_date': '9 mars 2026', 'end_time': '16:15',
            'start_time_short': 'lun. 9 mars 15:30'}),
    ('uk', {'start_time': 'понеділок, 9 березня 2026 р., 15:30', 'start_date': '9 березня 2026 р.',
            'end_time': '16:15', 'start_time_short': 'пн, 9 бер., 15:30'}),
    ('da', {'start_time': 'mandag den 9. marts 2026 kl. 15.30', 'start_date': '9. marts 2026', 'end_time': '16.15',
            'start_time_short': 'man. 9. mar. 15.30'}),
    # A region's own conventions: British English writes the day first and counts 24 hours.
    ('en-GB', {'start_time': 'Monday, 9 March 2026, 15:30', 'start_date': '9 March 2026', 'end_time': '16:15',
               'start_time_short': 'Mon 9 Mar, 15:30'}),
])
def test_time_variables_follow_the_locale(locale, expected):
    assert time_variables(START, END, PARIS, locale) == {**expected, 'timezone': 'Europe/Paris, UTC+01:00'}


def test_french_august_is_spelt_for_gsm_7_in_the_short_form_only():
    # CLDR's "août" has a û, not in GSM-7; the short form (for SMS) takes the rectified spelling "aout".
    august = time_variables(datetime(2026, 8, 15, 12, tzinfo=timezone.utc),
                            datetime(2026, 8, 15, 13, tzinfo=timezone.utc), PARIS, 'fr')

    assert august['start_time_short'] == 'sam. 15 aout 14:00'
    assert august['start_time'] == 'samedi 15 août 2026 à 14:00'


@pytest.mark.parametrize('locale', BUILTIN_LOCALES)
def test_time_variables_use_ordinary_spaces_only(locale):
    # CLDR's narrow no-break space (en "3:30 PM", uk "2026 р.") would make a whole text message UCS-2.
    for value in time_variables(START, END, PARIS, locale).values():
        assert '\u202f' not in value and '\u00a0' not in value


def test_time_variables_are_in_the_recipients_zone():
    # 03:30 UTC on Monday is still Sunday evening in New York, after the US clocks went forward.
    variables = time_variables(datetime(2026, 3, 9, 3, 30, tzinfo=timezone.utc),
                               datetime(2026, 3, 9, 4, tzinfo=timezone.utc), ZoneInfo('America/New_York'), 'en')

    assert variables == {'start_time': 'Sunday, March 8, 2026, 11:30 PM', 'start_date': 'March 8, 2026',
                         'end_time': '12:00 AM', 'start_time_short': 'Sun, Mar 8, 11:30 PM',
                         'timezone': 'America/New_York, UTC-04:00'}


def test_a_meeting_across_the_clock_change_ends_in_summer_time():
    # Paris goes from 02:00 to 03:00 at 01:00 UTC on 29 March 2026: an hour that starts at 01:30 ends at 03:30.
    before = time_variables(datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc),
                            datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc), PARIS, 'da')
    after = time_variables(datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc),
                           datetime(2026, 3, 29, 2, 30, tzinfo=timezone.utc), PARIS, 'da')

    assert (before['start_time'], before['end_time'], before['timezone']) == (
        'søndag den 29. marts 2026 kl. 01.30', '03.30', 'Europe/Paris, UTC+01:00')
    assert (after['start_time'], after['end_time'], after['timezone']) == (
        'søndag den 29. marts 2026 kl. 03.30', '04.30', 'Europe/Paris, UTC+02:00')


def test_half_hour_zones_and_their_clock_change():
    # Adelaide is UTC+09:30 and goes to UTC+10:30 at 02:00 on 4 October 2026.
    adelaide = ZoneInfo('Australia/Adelaide')
    variables = time_variables(datetime(2026, 10, 3, 15, 45, tzinfo=timezone.utc),
                               datetime(2026, 10, 3, 16, 30, tzinfo=timezone.utc), adelaide, 'uk')

    assert variables == {'start_time': 'неділя, 4 жовтня 2026 р., 01:15', 'start_date': '4 жовтня 2026 р.',
                         'end_time': '03:00', 'start_time_short': 'нд, 4 жовт., 01:15',
                         'timezone': 'Australia/Adelaide, UTC+09:30'}
    assert time_variables(START, END, ZoneInfo('Asia/Kolkata'), 'fr')['start_time'] == 'lundi 9 mars 2026 à 20:00'


@pytest.mark.parametrize('function', ['booking_webhook', 'join'])
def test_the_webhook_and_join_functions_do_not_import_babel(function):
    # They validate a client's locale only when a booking carries one; their cold start does not pay for Babel.
    probe = (f'import sys, functions.{function}.handler; '
             'print(sorted(name for name in sys.modules if name.split(".")[0] == "babel"))')
    environment = {'PATH': '/usr/bin:/bin', 'AWS_DEFAULT_REGION': 'us-east-1', **placeholder_environment(*CONCERNS)}
    result = subprocess.run([sys.executable, '-c', probe], cwd=ROOT, env=environment, capture_output=True, text=True)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == '[]'
