"""BCP 47 language tags as meetbridge holds them.

The smallest version the client's `locale` needs: the locale framework (Babel's parsing, language groups,
CLDR date formats) replaces this module with its own `normalize`, of the same contract.
"""

import re

MAX_LENGTH = 35  # RFC 5646's advice for the longest tag an implementation must keep
_TAG = re.compile(r'^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*$')


def normalize(tag: str) -> str:
    """The tag with `-` between its subtags, the language lower-case and a region upper-case: `'fr_ca'` -> `'fr-CA'`.
    Raises ValueError with the reason for a tag that cannot be one."""
    if len(tag) > MAX_LENGTH:
        raise ValueError(f'a language tag is at most {MAX_LENGTH} characters')
    if not _TAG.match(tag):
        raise ValueError('not a BCP 47 language tag such as "en", "fr-CA" or "uk"')
    language, *rest = tag.replace('_', '-').split('-')
    return '-'.join([language.lower(), *(_subtag(part) for part in rest)])


def _subtag(part: str) -> str:
    if len(part) == 2 or (len(part) == 3 and part.isdigit()):  # a region (ISO 3166 / UN M.49)
        return part.upper()
    if len(part) == 4 and part.isalpha():  # a script (ISO 15924)
        return part.title()
    return part.lower()
