"""BCP 47 language tags as templates and settings store them."""

import re

BUILTIN_LOCALES = ('en', 'fr', 'uk', 'da')
MAX_TAG_CHARS = 35
_TAG = re.compile(r'[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})*')


def normalize(tag: str) -> str:
    """'fr_ca' and 'FR-ca' → 'fr-CA': the language in lower case, a script in title case, a region in upper
    case, anything else in lower case. Raises ValueError saying why for what is not a language tag."""
    if len(tag) > MAX_TAG_CHARS:
        raise ValueError(f'a language tag has at most {MAX_TAG_CHARS} characters')
    if not _TAG.fullmatch(tag):
        raise ValueError(f'{tag[:MAX_TAG_CHARS]!r} is not a BCP 47 language tag (e.g. en, fr-CA, uk)')
    language, *subtags = tag.replace('_', '-').split('-')
    normalised = [language.lower()]
    for position, subtag in enumerate(subtags):
        if position == 0 and len(subtag) == 4 and subtag.isalpha():
            normalised.append(subtag.title())
        elif position <= 1 and (len(subtag) == 2 and subtag.isalpha() or len(subtag) == 3 and subtag.isdigit()):
            normalised.append(subtag.upper())
        else:
            normalised.append(subtag.lower())
    return '-'.join(normalised)


def language_group(tag: str) -> tuple[str, ...]:
    """The tag and the shorter tags it falls back to, most specific first: 'fr-CA' → ('fr-CA', 'fr')."""
    subtags = tag.split('-')
    return tuple('-'.join(subtags[:length]) for length in range(len(subtags), 0, -1))
