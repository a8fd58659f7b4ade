"""Booking sources: one module per booking platform, each turning a verified request into BookingEvents."""

import importlib

from meetbridge.errors import NotFound
from meetbridge.sources.base import BookingSource

SOURCE_NAMES = ('generic', 'simplybook', 'calcom', 'calendly', 'acuity', 'square', 'wix')


def source_for(name: str) -> BookingSource:
    if name not in SOURCE_NAMES:
        raise NotFound(f'unknown booking source {name!r}')
    return importlib.import_module(f'meetbridge.sources.{name}').SOURCE
