"""Join analytics: when the people of a booking opened their links, and what that shows after the start.

An open is a person on the link's page (its script posts once the page has been visible for a moment) or
their click on its button: never a GET, which mail scanners make for every link of an email. Each open is one
UpdateItem on the link's own LinkOpensItem (store/models.py), without reading it first.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from meetbridge.store import repository
from meetbridge.store.models import BookingItem, JoinLinkItem, LinkOpensItem


@dataclass(frozen=True)
class Opens:
    first: datetime | None = None
    last: datetime | None = None
    count: int = 0

    def as_dict(self) -> dict:
        return {'first': self.first, 'last': self.last, 'count': self.count}


NEVER = Opens()


def record_open(link: JoinLinkItem, now: datetime) -> None:
    """One open of `link`: counted, its time kept as the last, and as the first if there was none."""
    LinkOpensItem(*opens_key(link)).update(actions=[
        LinkOpensItem.count.add(1),
        LinkOpensItem.last.set(now),
        LinkOpensItem.first.set(LinkOpensItem.first | now),
    ])


def opens_key(link: JoinLinkItem) -> tuple[str, str]:
    """Where the opens of `link` are kept: under its booking for a client's link, its meeting for a provider's."""
    if link.role == 'client':
        return LinkOpensItem.client_key(link.tenant_id, link.booking_id)
    return LinkOpensItem.provider_key(link.tenant_id, link.meeting_key)


def opens_of(tenant_id: str, booking_id: str, meeting_key: str) -> tuple[Opens, Opens]:
    """The opens of a booking's client link and of its meeting's provider link."""
    client = repository.find(LinkOpensItem, LinkOpensItem.client_key(tenant_id, booking_id))
    provider = repository.find(LinkOpensItem, LinkOpensItem.provider_key(tenant_id, meeting_key))
    return _opens(client), _opens(provider)


def opens_of_many(tenant_id: str, booking_ids: Iterable[str],
                  meeting_keys: Iterable[str] = ()) -> tuple[dict[str, Opens], dict[str, Opens]]:
    """The opens of many bookings' client links and of many meetings' provider links, by booking id and by
    meeting key, in one batch read (a list's page: BatchGetItem takes 100 keys a call), never a GetItem each."""
    booking_ids, meeting_keys = set(booking_ids), set(meeting_keys)
    keys = ({LinkOpensItem.client_key(tenant_id, booking_id) for booking_id in booking_ids}
            | {LinkOpensItem.provider_key(tenant_id, meeting_key) for meeting_key in meeting_keys})
    found = {(item.pk, item.sk): item for item in LinkOpensItem.batch_get(keys)}
    clients = {booking_id: _opens(found.get(LinkOpensItem.client_key(tenant_id, booking_id)))
               for booking_id in booking_ids}
    providers = {meeting_key: _opens(found.get(LinkOpensItem.provider_key(tenant_id, meeting_key)))
                 for meeting_key in meeting_keys}
    return clients, providers


def no_show_evidence(booking: BookingItem, client_opens: Opens, now: datetime) -> bool | None:
    """Whether the booking's start passed without its client ever opening their link: None before the start and
    for a booking that has no link to open (a kiosk booking, one whose meeting could not be made) or that is held in
    person (its link only says so), False for a cancelled booking (nobody was expected)."""
    if now < booking.start or booking.client_link_sealed is None or booking.in_person:
        return None
    return booking.status != 'cancelled' and client_opens.first is None


def _opens(item: LinkOpensItem | None) -> Opens:
    return Opens(item.first, item.last, int(item.count)) if item else NEVER
