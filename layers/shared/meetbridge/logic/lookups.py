"""Lookups: the rest of a booking read from its platform's API, behind the webhook that named it.

A webhook that carries only ids (SimplyBook, Acuity, Square) is answered at once and publishes a
`booking.lookup`; the meetings function resolves it here with the source's settings and publishes what
the platform answered exactly as a webhook's own events are published (logic/webhooks.py). The
platform's outages are retried by the meetings queue like a provider's; a lookup the platform refuses
changes nothing.
"""

from typing import cast

from meetbridge.logic import sources, webhooks
from meetbridge.sources import source_for
from meetbridge.sources.base import Lookup, LookupSource


def resolve(lookup: Lookup, now: float) -> list[str]:
    """Returns the ids of the booking events published. Raises PlatformUnavailable (retried), LookupRefused,
    InvalidInput and NotFound (the tenant removed the source since), which change nothing."""
    # Only a lookup source publishes lookups (logic/webhooks.py).
    source = cast(LookupSource, source_for(lookup.source))
    settings = sources.settings_of(lookup.tenant_id, lookup.source)
    translation = source.resolve(
        lookup, settings, lambda external_id: sources.known_booking(lookup.tenant_id, lookup.source, external_id), now)
    return webhooks.publish_translation(lookup.tenant_id, lookup.source, translation, online=settings.online == 'all')
