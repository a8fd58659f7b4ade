"""The online meetings report: one row per meeting, a page at a time from the bookings index, as JSON or CSV.

A row is the bookings of one meeting that start in one second: a class session's bookings share their meeting
(`session:<id>`) and its start, and make one row with every client; a booking with no meeting (its meeting
failed, it was made at a kiosk, it is in person) is a row of its own, with its problem.

Pages follow gsi2 (`BOOKINGS#<tenant>` / `<start>#<meeting key>#<booking>`, see logic/listing.py), with the
bookings list's filters, and never end inside a meeting: the index keeps a meeting's bookings of one second next
to each other, so a page reads `limit` + 1 bookings and, when the last of them is of the same meeting and second
as the one before, goes on reading that meeting's bookings (Queries of the same window from where it stopped) up
to the first booking of another meeting or the end of the window; its cursor sits after that meeting. A page
therefore holds `limit` bookings, plus the rest of its last meeting's (at most a class session's size), however
many bookings start in the same second, and every meeting is whole on one page.

Reads per page: the gsi2 Query (more only for a meeting that goes on past `limit`), then one batch read each
(BatchGetItem, 100 keys a call) for the meetings, for the link opens, and for the services' and providers' names.
The clients' names and emails are plain attributes of the booking: no KMS decrypt. The tenant's zone comes
with the caller's tenant, read to check the API key.
"""

import csv
import io
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from meetbridge.logic import analytics, listing
from meetbridge.logic.listing import BookingFilters
from meetbridge.store.models import BookingItem, MeetingItem, NamedItem, ProviderItem, ServiceItem, TenantItem

LISTING = 'meetings-report'


class Named(BaseModel):
    id: str
    name: str | None  # None: no such service or provider was saved


class ReportClient(BaseModel):
    booking_id: str
    status: str  # the booking's: received | active | cancelled
    name: str
    email: str
    first_opened: datetime | None  # when the client first opened their link; None: never
    no_show_evidence: bool | None  # as on the booking


class MeetingRow(BaseModel):
    meeting_key: str  # booking:<id> or session:<id>
    booking_ids: list[str]
    service: Named
    provider: Named
    clients: list[ReportClient]
    start: datetime
    end: datetime
    account_type: str | None  # zoom | microsoft | google | custom_link | platform; None without a meeting
    account_slot: str | None  # who hosts: company | provider:<id> (their own) | fallback; None for `platform`
    meeting_status: str | None  # scheduled | started | cancelled; None without a meeting
    started_at: datetime | None
    started_by: str | None  # schedule | provider | manual
    provider_first_opened: datetime | None  # when the provider first opened their link; None: never
    problem: str | None  # why there is no meeting, or what a change waits for


class MeetingsReport(BaseModel):
    timezone: str  # the tenant's zone: every time of the report is in it, with its offset
    items: list[MeetingRow]
    next: str | None


def meetings_report(tenant: TenantItem, filters: BookingFilters, limit: int, cursor: str | None) -> MeetingsReport:
    tenant_id = tenant.tenant_id
    zone = ZoneInfo(tenant.timezone or 'UTC')
    bookings, position = _page(tenant_id, filters, limit, listing.page_start(tenant_id, LISTING, filters, cursor))
    return MeetingsReport(
        timezone=zone.key, items=_rows(tenant_id, bookings, zone, datetime.now(UTC)) if bookings else [],
        next=position and listing.encode_cursor(tenant_id, LISTING, filters.as_cursor_filters(), position))


def _second(sort_key: str) -> str:
    """The start second of a gsi2 sort key (`<start>#<meeting key>#<booking>`)."""
    return sort_key.split('#', 1)[0]


def _meeting(sort_key: str) -> str:
    """The start second and meeting of a gsi2 sort key: what the bookings of one row share."""
    return sort_key.rsplit('#', 1)[0]


def _page(tenant_id: str, filters: BookingFilters, limit: int,
          start: dict[str, str] | None) -> tuple[list[BookingItem], dict[str, str] | None]:
    """The page's bookings, up to the end of the meeting of its last one, and the position after them."""
    found, evaluated = listing.query_bookings(tenant_id, filters, limit + 1, start)
    if len(found) > limit:
        if _meeting(found[limit].gsi2sk) != _meeting(found[limit - 1].gsi2sk):
            return found[:limit], listing.position_of(found[limit - 1])
        resume = listing.position_of(found[limit])
    elif evaluated and found and _meeting(evaluated['gsi2sk']) == _meeting(found[-1].gsi2sk):
        resume = evaluated  # the filter dropped what followed: the meeting may go on
    else:
        return found, evaluated
    rest, position = _rest_of_meeting(tenant_id, filters, _meeting(found[-1].gsi2sk), resume, limit + 1)
    return found + rest, position


def _rest_of_meeting(tenant_id: str, filters: BookingFilters, meeting: str, start: dict[str, str],
                     chunk: int) -> tuple[list[BookingItem], dict[str, str] | None]:
    """The bookings of `meeting` (`<second>#<meeting key>`) after `start`, and the position after them (None: the
    window ends with them)."""
    rest, last_of_meeting = [], start
    while True:
        found, evaluated = listing.query_bookings(tenant_id, filters, chunk, last_of_meeting)
        for booking in found:
            if _meeting(booking.gsi2sk) != meeting:
                return rest, last_of_meeting
            rest.append(booking)
            last_of_meeting = listing.position_of(booking)
        if evaluated is None or _meeting(evaluated['gsi2sk']) != meeting:
            return rest, evaluated
        last_of_meeting = evaluated


def _rows(tenant_id: str, bookings: list[BookingItem], zone: ZoneInfo, now: datetime) -> list[MeetingRow]:
    groups: dict[tuple[str, str], list[BookingItem]] = {}
    for booking in bookings:
        groups.setdefault((_second(booking.gsi2sk), booking.meeting_key), []).append(booking)
    meeting_keys = {MeetingItem.key(tenant_id, key) for _, key in groups}
    meetings = {meeting.meeting_key: meeting for meeting in MeetingItem.batch_get(meeting_keys)
                if meeting.status != 'creating'}
    client_opens, provider_opens = analytics.opens_of_many(
        tenant_id, [booking.booking_id for booking in bookings if booking.client_link_sealed is not None],
        list(meetings))
    services, providers = _names(tenant_id, {booking.service_id for booking in bookings},
                                 {booking.provider_id for booking in bookings})

    def local(moment: datetime | None) -> datetime | None:
        return moment and moment.astimezone(zone)

    rows = []
    for (_, meeting_key), group in groups.items():
        first, meeting = group[0], meetings.get(meeting_key)
        opens = {booking.booking_id: client_opens.get(booking.booking_id, analytics.NEVER) for booking in group}
        rows.append(MeetingRow(
            meeting_key=meeting_key, booking_ids=[booking.booking_id for booking in group],
            service=Named(id=first.service_id, name=services.get(first.service_id)),
            provider=Named(id=first.provider_id, name=providers.get(first.provider_id)),
            clients=[ReportClient(booking_id=booking.booking_id, status=booking.status, name=booking.client.name,
                                  email=booking.client.email, first_opened=local(opens[booking.booking_id].first),
                                  no_show_evidence=analytics.no_show_evidence(booking, opens[booking.booking_id], now))
                     for booking in group],
            start=local(first.start), end=local(max(booking.end for booking in group)),
            account_type=meeting and meeting.provider_type, account_slot=meeting and meeting.account_slot,
            meeting_status=meeting and meeting.status, started_at=meeting and local(meeting.started_at),
            started_by=meeting and meeting.started_by,
            provider_first_opened=meeting and local(provider_opens[meeting_key].first),
            problem=next(filter(None, map(listing.shown_problem, group)), None),
        ))
    return rows


def _names(tenant_id: str, service_ids: set[str], provider_ids: set[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The names of the page's services and providers, read once for the page, in one batch."""
    keys = ({ServiceItem.key(tenant_id, service_id) for service_id in service_ids}
            | {ProviderItem.key(tenant_id, provider_id) for provider_id in provider_ids})
    found = {item.sk: item.name for item in NamedItem.batch_get(keys, attributes_to_get=['pk', 'sk', 'name'])}
    return ({service_id: found.get(ServiceItem.key(tenant_id, service_id)[1]) for service_id in service_ids},
            {provider_id: found.get(ProviderItem.key(tenant_id, provider_id)[1]) for provider_id in provider_ids})


# --- CSV ----------------------------------------------------------------------------------------------------


# One line per client: a meeting's columns are repeated on each of its clients' lines (`meeting_key` groups them),
# so a spreadsheet filters, sorts and counts by client, and no cell holds a list to split again.
CSV_COLUMNS = (
    'meeting_key', 'booking_id', 'booking_status', 'start', 'end', 'service_id', 'service_name', 'provider_id',
    'provider_name', 'client_name', 'client_email', 'client_first_opened', 'no_show_evidence', 'account_type',
    'account_slot', 'meeting_status', 'started_at', 'started_by', 'provider_first_opened', 'problem',
)

# A spreadsheet reads a cell beginning with one of these as a formula (OWASP's CSV injection).
FORMULA_STARTS = ('=', '+', '-', '@', '\t', '\r')


def csv_cell(value) -> str:
    """A value as a CSV cell: JSON's text (true/false, empty for null), a formula's start made text with a quote."""
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'true' if value else 'false'
    text = str(value)
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def csv_lines(report: MeetingsReport) -> list[list]:
    lines = []
    for row in report.model_dump(mode='json')['items']:
        for client in row['clients']:
            lines.append([
                row['meeting_key'], client['booking_id'], client['status'], row['start'], row['end'],
                row['service']['id'], row['service']['name'], row['provider']['id'], row['provider']['name'],
                client['name'], client['email'], client['first_opened'], client['no_show_evidence'],
                row['account_type'], row['account_slot'], row['meeting_status'], row['started_at'],
                row['started_by'], row['provider_first_opened'], row['problem'],
            ])
    return lines


def as_csv(report: MeetingsReport) -> str:
    """The page as RFC 4180 CSV: a header line, CRLF line ends, quotes where a cell needs them, and a byte order
    mark first, by which spreadsheets read the UTF-8 (accented names) as UTF-8."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator='\r\n')
    writer.writerow(CSV_COLUMNS)
    writer.writerows([csv_cell(value) for value in line] for line in csv_lines(report))
    return '\ufeff' + buffer.getvalue()
