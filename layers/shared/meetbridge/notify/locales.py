"""Languages of notifications: locale tags, their fallback order, and dates and times in the recipient's language.

Babel is imported inside the functions that need it: the webhook and join functions import this module (to
validate a client's locale) without paying for Babel's import and its locale data at cold start.
"""

import functools
import re
from datetime import datetime
from zoneinfo import ZoneInfo

from meetbridge.domain.templates import zone_label

# The languages meetbridge ships built-in templates in (the seeds' languages).
BUILTIN_LOCALES = ('en', 'fr', 'uk', 'da')
MAX_TAG_CHARS = 35
# BCP 47's variant subtag: 5 to 8 letters or digits, or 4 starting with a digit ('valencia', '1996'); Babel takes any.
_VARIANT = re.compile(r'[0-9A-Za-z]{5,8}|[0-9][0-9A-Za-z]{3}')
# Not languages: 'und' is BCP 47's "undetermined", 'root' CLDR's base data, which Babel parses as a language.
_NOT_LANGUAGES = ('und', 'root')
# CLDR puts no-break spaces in some dates and times (en "9:30 PM", uk "2026 р."); GSM-7 has none, and a single
# one makes a whole SMS UCS-2, so every variable uses an ordinary space.
_NO_BREAK_SPACES = str.maketrans({'\u00a0': ' ', '\u202f': ' '})
# CLDR's French "août" has a û, which GSM-7 lacks: a French SMS in August would go as UCS-2 (70 characters a part,
# 3 or 4 parts). The short (SMS) form takes the 1990 rectified spelling "aout", which French accepts. Every other
# English, French and Danish month and weekday abbreviation is GSM-7 (tests/unit/test_builtin_templates.py).
_GSM_7_SPELLINGS = {'fr': {'août': 'aout'}}
# CLDR's atTime pattern for the full date and time ("dimanche 15 février 2026 à 14:00", "søndag den 15. februar 2026
# kl. 14.00"); Babel gives only the plain date-time pattern, which leaves French and Danish without the joining word.
_AT_TIME_PATTERNS = {'fr': '{1} à {0}', 'da': '{1} kl. {0}'}


@functools.lru_cache(maxsize=256)
def _babel_locale(tag: str):
    """Babel's locale for a tag: its own data or, for a region CLDR does not list, its language's."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(tag, sep='-')
    except UnknownLocaleError:
        raise ValueError(f'there is no locale data for {tag!r}') from None


def normalize(tag: str) -> str:
    """The tag in its usual case, subtags joined by '-': 'fr_ca' and 'FR-ca' → 'fr-CA', 'zh-hant-tw' → 'zh-Hant-TW',
    a deprecated code as its language ('iw' → 'he'). Raises ValueError, with the reason, for a tag longer than 35
    characters, that Babel cannot parse or BCP 47 does not allow, not naming a language ('und', 'root') or of a
    language without locale data."""
    from babel.core import parse_locale

    if not isinstance(tag, str) or not tag.strip():
        raise ValueError('a language tag is a non-empty string')
    if len(tag) > MAX_TAG_CHARS:
        raise ValueError(f'a language tag has at most {MAX_TAG_CHARS} characters')
    text = tag.strip().replace('_', '-')
    try:
        language, territory, script, variant, *modifier = parse_locale(text, sep='-')
    except ValueError as exc:
        raise ValueError(f'{tag!r} is not a BCP 47 language tag ({exc})') from None
    if modifier or language.lower() in _NOT_LANGUAGES:
        raise ValueError(f'{tag!r} does not name a language')
    if variant and not _VARIANT.fullmatch(variant):
        raise ValueError(f'{tag!r} is not a BCP 47 language tag (a variant has 5 to 8 letters or digits, or 4 '
                         'starting with a digit)')
    language = _babel_locale(text).language
    return '-'.join(part for part in (language, script, territory, variant) if part)


def language_group(tag: str) -> tuple[str, ...]:
    """A normalised tag and the tags it falls back to, most specific first (RFC 4647 lookup): 'fr-CA' → ('fr-CA',
    'fr'); 'zh-Hant-TW' → ('zh-Hant-TW', 'zh-Hant', 'zh')."""
    subtags = tag.split('-')
    return tuple('-'.join(subtags[:count]) for count in range(len(subtags), 0, -1))


def time_variables(start: datetime, end: datetime, zone: ZoneInfo, locale: str) -> dict[str, str]:
    """The template variables of a meeting's time, in `zone` (the recipient's) and in the words, order and hour cycle
    of `locale` (a normalised tag) from CLDR: `start_time`, `start_date`, `end_time`, `start_time_short` (for SMS)
    and `timezone` (the zone and its offset, the same in every language)."""
    from babel.dates import format_date, format_skeleton, format_time, get_datetime_format

    language = _babel_locale(locale)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    start_clock = format_time(local_start, 'short', locale=language)

    def joined(pattern: str, date: str) -> str:
        # The locale's own way of putting a date and a time together ('{1}, {0}' in English, '{1} {0}' in Danish).
        return pattern.replace("'", '').replace('{1}', date).replace('{0}', start_clock)

    short_date = format_skeleton('MMMEd', local_start, locale=language)
    for cldr, gsm_7 in _GSM_7_SPELLINGS.get(language.language, {}).items():
        short_date = short_date.replace(cldr, gsm_7)
    full_pattern = _AT_TIME_PATTERNS.get(language.language) or get_datetime_format('full', locale=language)
    variables = {
        'start_time': joined(full_pattern, format_date(local_start, 'full', locale=language)),
        'start_date': format_date(local_start, 'long', locale=language),
        'end_time': format_time(local_end, 'short', locale=language),
        'start_time_short': joined(get_datetime_format('short', locale=language), short_date),
    }
    return {name: value.translate(_NO_BREAK_SPACES) for name, value in variables.items()} | {
        'timezone': zone_label(zone.key, start)}
