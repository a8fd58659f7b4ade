"""Meeting providers, one module each behind `MeetingProvider`; a module (and its SDK) is imported
only when a meeting account of its type is used."""

import importlib
from types import ModuleType

from meetbridge.providers.base import MeetingProvider

# `platform` is no account type: it wraps the meeting a booking platform made itself.
PROVIDER_TYPES = ('custom_link', 'zoom', 'microsoft', 'google', 'platform')


def module_for(account_type: str) -> ModuleType:
    """The provider's module: its meetings (`PROVIDER`) and, for sign-in providers, begin, finish and revoke."""
    if account_type not in PROVIDER_TYPES:
        raise ValueError(f'unknown meeting provider {account_type!r}')
    return importlib.import_module(f'meetbridge.providers.{account_type}')


def provider_for(account_type: str) -> MeetingProvider:
    return module_for(account_type).PROVIDER
