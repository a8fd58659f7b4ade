"""Puts items written before an index existed into it: meetings into `HOSTED#` (live on an account),
bookings into `FAILED#` (active with a problem) and every booking into `BOOKINGS#` (gsi2, the bookings list). Every write derives the index keys (the models' serialize),
so an item written since is indexed; an older one is not until its next write, and this is that write.

Each tenant's partition is read with a Query per item type (tenants from the `TENANTS` index; no Scan). An
item whose stored index keys differ from what serialize derives gets just those attributes rewritten, by an
UpdateItem conditioned on the version read (the version goes up, as at every write): an item changed in
between is skipped and counted, since the write that changed it derived its keys. A second run finds nothing
to change.
"""

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from meetbridge.errors import Conflict
from meetbridge.logic.tenants import list_tenants
from meetbridge.store import repository
from meetbridge.store.models import BookingItem, MeetingItem, tenant_pk


@dataclass
class Counts:
    checked: int = 0
    outdated: int = 0  # stored keys differ from the derived ones (what a dry run reports)
    indexed: int = 0  # rewritten
    changed_concurrently: int = 0  # rewritten by another write between the read and the update: left to it


@dataclass
class Backfill:
    tenants: int = 0
    meetings: Counts = field(default_factory=Counts)
    bookings: Counts = field(default_factory=Counts)

    def as_map(self) -> dict:
        return asdict(self)


# The item types indexed by derived keys, with the sort key prefix of their items in a tenant's partition and
# the names of their index keys.
INDEXED = ((MeetingItem, 'MEETING#', 'meetings', ('gsi1pk', 'gsi1sk')),
           (BookingItem, 'BOOKING#', 'bookings', ('gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk')))


def _derived_keys(item: MeetingItem | BookingItem, names: tuple[str, ...]) -> dict[str, str | None]:
    """The index keys a write of the item would store: serialize derives them onto the item (without checking
    the other attributes, which an old item may lack and this write does not touch)."""
    item.serialize(null_check=False)
    return {name: getattr(item, name) for name in names}


def _index(item: MeetingItem | BookingItem, names: tuple[str, ...], counts: Counts, dry_run: bool) -> None:
    counts.checked += 1
    stored = {name: getattr(item, name) for name in names}
    derived = _derived_keys(item, names)
    if stored == derived:
        return
    counts.outdated += 1
    if dry_run:
        return
    model = type(item)
    actions = [getattr(model, name).set(value) if value else getattr(model, name).remove()
               for name, value in derived.items()]
    try:
        repository.update(item, actions)  # conditioned on the version read
    except Conflict:
        counts.changed_concurrently += 1
        return
    counts.indexed += 1


def backfill_indexes(tenant_ids: Iterable[str] | None = None, dry_run: bool = False) -> Backfill:
    """Indexes the meetings and bookings of the given tenants (all, listed by the TENANTS index, when None)."""
    if tenant_ids is None:
        tenant_ids = [tenant.tenant_id for tenant in list_tenants()]
    done = Backfill()
    for tenant_id in tenant_ids:
        repository.get_tenant(tenant_id)  # NotFound for an id that is no tenant
        done.tenants += 1
        for model, prefix, name, key_names in INDEXED:
            # Strongly consistent: the version read is the latest, so fewer updates lose to a concurrent write.
            for item in model.query(tenant_pk(tenant_id), model.sk.startswith(prefix), consistent_read=True):
                _index(item, key_names, getattr(done, name), dry_run)
    return done
