"""The single table: one pynamodb model per item type, all sharing pk/sk.

Keys (see docs/data-model.md):
  TENANT#<tenant>  TENANT                 tenant (gsi1: TENANTS / <tenant>)
  TENANT#<tenant>  SERVICE#<service>      service
  TENANT#<tenant>  PROVIDER#<provider>    provider (staff)
  TENANT#<tenant>  ACCOUNT#<account>      meeting account, immutable id (gsi1: <TYPE>USER#<user> / <tenant>#<account>)
  TENANT#<tenant>  ACCOUNTOF#<holder>     which account the holder uses: "company", "provider:<provider>" or "fallback"
  TENANT#<tenant>  TEMPLATE#<name>#<channel>#<service>#<provider>#<locale>  a template's text at a level
                                          (locale "*": the level's on/off switch; service/provider empty
                                          when the level has none)
  TENANT#<tenant>  TEMPLATE#<name>        a template written before levels: tenant level, email, default locale
  TENANT#<tenant>  BOOKING#<booking>      booking and its client's link
                                          (gsi1 while active with a problem: FAILED#<tenant> / <start>#<booking>)
  TENANT#<tenant>  MEETING#<meeting key>  meeting: "booking:<id>" or "session:<id>"
                                          (gsi1 while live: HOSTED#<tenant>#<account> / <start>#<meeting key>)
  TENANT#<tenant>  SESSION#<session>      a class session's online override and its bookings held in person
  TENANT#<tenant>  OUTBOX#<subject>       an event not yet on the bus (gsi1: OUTBOX / <written_at>#...)
  TENANT#<tenant>  RECONCILIATION#<account>#<event id>  the re-homing of an account's future meetings
  TENANT#<tenant>  RECONCILIATION#<account>#<event id>#PAGE#<n>  the meetings of one page of it
  TENANT#<tenant>  SOURCE#<source>        a booking platform's settings, its keys sealed
  TENANT#<tenant>  EXTERNAL#<source>#<id> which of our bookings a platform's booking id is
  TENANT#<tenant>  SOURCETOKEN#<source>   a booking platform's API token, sealed, reused until refused
  TENANT#<tenant>  KEY#<key id>           an API key with a role (admin | senior | junior), as its digest
  TENANT#<tenant>  ALERTGROUP#<group>     an alert group's window and the alerts kept for its digest
  TENANT#<tenant>  CALLBACKS              the platform's callback URL, its event types and sealed secret(s)
  TENANT#<tenant>  CALLBACK#<delivery id> one callback to the platform and its last attempt
                                          (gsi1: CALLBACKS#<tenant> / <created at>#<delivery id>)
  LINK#<sha256>    LINK                   join link, found by the hash of its token
"""

from datetime import UTC, datetime

from pynamodb.attributes import (
    BinaryAttribute,
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    NumberSetAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    UTCDateTimeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from meetbridge.config import StoreSettings, settings


class _RunningFunctionsTable(type):
    """The table is the running function's TABLE_NAME, read when pynamodb connects, not when this module is
    imported (before any function's settings are active). The region is botocore's, as for every client."""

    @property
    def table_name(cls) -> str:
        return settings(StoreSettings).table_name


class _Meta(metaclass=_RunningFunctionsTable):
    pass


class Gsi1(GlobalSecondaryIndex):
    class Meta:
        index_name = 'gsi1'
        projection = AllProjection()

    gsi1pk = UnicodeAttribute(hash_key=True)
    gsi1sk = UnicodeAttribute(range_key=True)


class Gsi2(GlobalSecondaryIndex):
    class Meta:
        index_name = 'gsi2'
        projection = AllProjection()

    gsi2pk = UnicodeAttribute(hash_key=True)
    gsi2sk = UnicodeAttribute(range_key=True)


class _Item(Model):
    Meta = _Meta
    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)


def tenant_pk(tenant_id: str) -> str:
    return f'TENANT#{tenant_id}'


class TenantItem(_Item):
    gsi1 = Gsi1()
    gsi1pk = UnicodeAttribute(default='TENANTS')
    gsi1sk = UnicodeAttribute()
    tenant_id = UnicodeAttribute()
    name = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    api_key_digest = UnicodeAttribute()
    webhook_secret_sealed = BinaryAttribute(legacy_encoding=False)
    keys_rotated_at = UTCDateTimeAttribute(null=True)
    # The credentials a rotation replaced, accepted until their time (the overlap window).
    previous_api_key_digest = UnicodeAttribute(null=True)
    previous_api_key_until = UTCDateTimeAttribute(null=True)
    previous_webhook_secret_sealed = BinaryAttribute(legacy_encoding=False, null=True)
    previous_webhook_secret_until = UTCDateTimeAttribute(null=True)
    return_origins = UnicodeSetAttribute(null=True)  # where a connect link may send the admin back (https origins)
    meeting_settings = MapAttribute(null=True)  # how the tenant's meetings are set up at the provider
    # Reminders before a meeting's start, normalised ISO 8601 durations (logic/reminders.py): None is the
    # default, an empty list none.
    reminder_offsets = ListAttribute(of=UnicodeAttribute, null=True)
    # Who is alerted when an account breaks or a booking needs the admin (logic/alert_settings.py).
    alert_emails = ListAttribute(of=UnicodeAttribute, null=True)
    alert_webhook_url = UnicodeAttribute(null=True)
    # The IANA zone the tenant's reports show times in (logic/admin.py, settings/general); None is UTC.
    timezone = UnicodeAttribute(null=True)
    # SMS, hidden links, languages and the SMS length limit (logic/notification_settings.py); None: the defaults.
    notification_settings = MapAttribute(null=True)

    @staticmethod
    def key(tenant_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), 'TENANT'


class ApiKeyItem(_Item):
    """An API key with a role, besides the tenant's own key (which is `admin`). The key id is the first 16 hex
    digits of the key's SHA-256: a request's key finds its item in one GetItem, and the id shows nothing of it."""

    key_id = UnicodeAttribute()
    key_digest = UnicodeAttribute()  # SHA-256 of the key: keys are random, a plain hash suffices
    role = UnicodeAttribute()  # admin | senior | junior
    providers = UnicodeSetAttribute(null=True)  # a junior key's providers
    created_at = UTCDateTimeAttribute()

    @staticmethod
    def key(tenant_id: str, key_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'KEY#{key_id}'


class ServiceItem(_Item):
    service_id = UnicodeAttribute()
    name = UnicodeAttribute()
    online = BooleanAttribute(default=False)
    kind = UnicodeAttribute(default='appointment')
    links_in_messages = BooleanAttribute(null=True)  # None: as the tenant's notification settings say
    updated_at = UTCDateTimeAttribute()

    @staticmethod
    def key(tenant_id: str, service_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'SERVICE#{service_id}'


class ProviderItem(_Item):
    provider_id = UnicodeAttribute()
    name = UnicodeAttribute()
    company_user = UnicodeAttribute(null=True)  # the user in the company meeting account who hosts for them
    email = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)  # E.164: gets the provider's SMS when the tenant sends them
    timezone = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute()

    @staticmethod
    def key(tenant_id: str, provider_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'PROVIDER#{provider_id}'


class AccountItem(_Item):
    """A meeting account (custom link, Zoom, Teams), under an id that never changes: meetings keep it.

    The company and each provider use an account through an `AccountPointerItem`; an account no pointer
    holds any more is retired (a custom link keeps serving its meetings) or revoked (an OAuth account).
    OAuth accounts keep their tokens sealed in `secret_sealed`; a refresh is claimed with
    `refresh_lease_until` and every write is versioned, so concurrent Lambdas refresh once.
    gsi1 finds the accounts of one provider-side user (Zoom's app_deauthorized names only that user) while
    they hold tokens; a revoked or disconnected account is no longer indexed.
    """

    gsi1 = Gsi1()
    gsi1pk = UnicodeAttribute(null=True)  # <provider type>USER#<provider-side user id>
    gsi1sk = UnicodeAttribute(null=True)  # <tenant>#<account>
    account_id = UnicodeAttribute()
    holder = UnicodeAttribute(null=True)  # who uses it: "company" or "provider:<provider>"; None once replaced
    type = UnicodeAttribute()  # custom_link | zoom | microsoft | google
    status = UnicodeAttribute(default='active')  # the statuses are named in store/repository.py
    settings = MapAttribute(default=dict)  # non-secret provider settings (e.g. the custom link URL)
    secret_sealed = BinaryAttribute(legacy_encoding=False, null=True)  # sealed JSON (passwords, tokens)
    refresh_lease_until = NumberAttribute(null=True)  # unix seconds; the holder is refreshing the tokens
    problem = UnicodeAttribute(null=True)  # why the account needs reconnecting, shown to the admin
    last_checked_at = UTCDateTimeAttribute(null=True)  # the last health check that reached the provider
    # The tick whose health check of these tokens completed: a check request for it again costs no provider call.
    # Cleared by a reconnect, whose new tokens no check has proven.
    checked_tick = UTCDateTimeAttribute(null=True)
    # Since when its health checks have failed for a transient reason (5xx, 429, timeouts); None once one passes.
    check_failing_since = UTCDateTimeAttribute(null=True)
    expiring_announced = BooleanAttribute(null=True)  # connection.expiring told for this failing episode
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    @staticmethod
    def key(tenant_id: str, account_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'ACCOUNT#{account_id}'


class AccountPointerItem(_Item):
    """The account the company ("company") or a provider ("provider:<provider>") uses for new meetings."""

    holder = UnicodeAttribute()
    account_id = UnicodeAttribute()
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    @staticmethod
    def key(tenant_id: str, holder: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'ACCOUNTOF#{holder}'


class TemplateItem(_Item):
    """A tenant's own text for a template at one level (tenant, service, provider, or service and provider) in one
    channel and locale; or, with locale '*', whether the template sends at that level (in every locale)."""

    name = UnicodeAttribute()
    # None on an item written before templates had levels (legacy_key): email, in the tenant's default locale.
    channel = UnicodeAttribute(null=True)
    service_id = UnicodeAttribute(null=True)
    provider_id = UnicodeAttribute(null=True)
    locale = UnicodeAttribute(null=True)  # a normalised BCP 47 tag, or SWITCH
    subject = UnicodeAttribute(null=True)  # email only
    body = UnicodeAttribute(null=True)
    enabled = BooleanAttribute(null=True)  # only on the SWITCH item (and legacy items); None: as by default
    updated_at = UTCDateTimeAttribute()

    SWITCH = '*'

    @staticmethod
    def key(tenant_id: str, name: str, channel: str, service_id: str | None, provider_id: str | None,
            locale: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'TEMPLATE#{name}#{channel}#{service_id or ""}#{provider_id or ""}#{locale}'

    @staticmethod
    def legacy_key(tenant_id: str, name: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'TEMPLATE#{name}'


class ClientMap(MapAttribute):
    id = UnicodeAttribute()
    name = UnicodeAttribute()
    email = UnicodeAttribute()
    timezone = UnicodeAttribute(null=True)
    phone = UnicodeAttribute(null=True)  # E.164
    locale = UnicodeAttribute(null=True)  # a normalised BCP 47 tag


class SourceItem(_Item):
    """A booking platform the tenant posts webhooks from (sources/settings.py): the settings shown, the keys
    sealed (JSON) under the purpose 'source' and the source's name."""

    source = UnicodeAttribute()
    settings = MapAttribute(default=dict)
    secret_sealed = BinaryAttribute(legacy_encoding=False, null=True)
    updated_at = UTCDateTimeAttribute()

    @staticmethod
    def key(tenant_id: str, source: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'SOURCE#{source}'


class ExternalBookingItem(_Item):
    """A platform's booking id and our booking id for it. A reschedule that gives the booking a new platform id
    (Cal.com's new uid) adds the new id here for the same booking."""

    source = UnicodeAttribute()
    external_id = UnicodeAttribute()
    booking_id = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()

    @staticmethod
    def key(tenant_id: str, source: str, external_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'EXTERNAL#{source}#{external_id}'


class SourceTokenItem(_Item):
    """The token a booking platform's API issued for the tenant's source (SimplyBook's getToken), sealed (JSON)
    under the purpose 'source-token' and the source's name, so a lookup makes one API call, not two."""

    source = UnicodeAttribute()
    token_sealed = BinaryAttribute(legacy_encoding=False)
    updated_at = UTCDateTimeAttribute()

    @staticmethod
    def key(tenant_id: str, source: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'SOURCETOKEN#{source}'


class BookingItem(_Item):
    """A booking as last applied. While it is active with a problem (it has no meeting), gsi1 lists it under its
    tenant by its start (`FAILED#<tenant>` / `<start>#<booking>`): the bookings to apply again once an account is
    connected are one Query. A kiosk booking's problem is not a failure (no meeting is ever made for it): it is not
    listed there. gsi2 lists every booking of the tenant by its start, then meeting (`BOOKINGS#<tenant>` /
    `<start>#<meeting key>#<booking>`): the admin API's bookings list and meetings report. The index keys are
    derived from the item at every write (serialize)."""

    gsi1 = Gsi1()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    gsi2 = Gsi2()
    gsi2pk = UnicodeAttribute(null=True)
    gsi2sk = UnicodeAttribute(null=True)
    booking_id = UnicodeAttribute()
    source = UnicodeAttribute()
    service_id = UnicodeAttribute()
    provider_id = UnicodeAttribute()
    start = UTCDateTimeAttribute()
    end = UTCDateTimeAttribute()
    timezone = UnicodeAttribute()
    session_id = UnicodeAttribute(null=True)
    payment_required = BooleanAttribute(default=False)
    payment_status = UnicodeAttribute(default='pending')
    client = ClientMap()
    status = UnicodeAttribute(default='active')  # received (its webhook accepted, nothing applied) | active | cancelled
    meeting_key = UnicodeAttribute()
    client_link_sealed = BinaryAttribute(legacy_encoding=False, null=True)
    attendee_sealed = BinaryAttribute(legacy_encoding=False, null=True)  # the client's own entry (a registrant)
    problem = UnicodeAttribute(null=True)  # why no meeting could be made, shown to the admin
    channel = UnicodeAttribute(null=True)  # where it was made when that matters: 'kiosk' (no meeting), else None
    # The admin's override of the service's switch for this booking (logic/online.py): None follows the session's
    # override, else the service's; it is kept through every change of the booking.
    online = BooleanAttribute(null=True)
    # Applied in person by an override: no meeting, its client link answers that the session is now in person.
    in_person = BooleanAttribute(null=True)
    pending_notice = UnicodeAttribute(null=True)  # a change saved but not yet announced (created|rescheduled|cancelled)
    notice_problem = UnicodeAttribute(null=True)  # a tenant template that failed at send time: the default was sent
    # The source's order of the changes applied so far (domain/ordering.py): the newest version and
    # occurred_at seen, and the digest of the last change, which settles ties.
    source_version = NumberAttribute(null=True)
    source_occurred_at = UTCDateTimeAttribute(null=True)
    source_change = UnicodeAttribute(null=True)
    pending = UnicodeAttribute(null=True)  # what a change accepted but not applied yet waits for, shown to the admin
    waiting_since = UTCDateTimeAttribute(null=True)  # since when a change waits
    waiting_noticed = UTCDateTimeAttribute(null=True)  # when the admin was told it waits too long
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    @staticmethod
    def key(tenant_id: str, booking_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'BOOKING#{booking_id}'

    def serialize(self, null_check: bool = True) -> dict:
        if self.status == 'active' and self.problem is not None and self.channel != 'kiosk':
            self.gsi1pk = failed_key(self.pk.removeprefix('TENANT#'))
            self.gsi1sk = f'{index_time(self.start)}#{self.booking_id}'
        else:
            self.gsi1pk = self.gsi1sk = None
        self.gsi2pk = bookings_key(self.pk.removeprefix('TENANT#'))
        self.gsi2sk = bookings_sort_key(self.start, self.meeting_key, self.booking_id)
        return super().serialize(null_check=null_check)


def failed_key(tenant_id: str) -> str:
    return f'FAILED#{tenant_id}'


def bookings_key(tenant_id: str) -> str:
    return f'BOOKINGS#{tenant_id}'


def bookings_sort_key(start: datetime, meeting_key: str, booking_id: str) -> str:
    """A booking's gsi2 sort key: its start second in UTC, its meeting's key, then its id. A meeting's bookings of
    one second are next to each other, so a page of them can end between two meetings of a busy second. The meeting
    key is the booking's at this write: a change of it (to or from a session) is a write, which derives the key
    again."""
    return f'{index_time(start)}#{meeting_key}#{booking_id}'


class SupersededMeeting(MapAttribute):
    """What a re-homing still owes for the meeting it replaces, written with the claim of the new one: a worker
    killed once the new meeting is saved leaves it for the next attempt (logic/rehoming.py)."""

    account_id = UnicodeAttribute()
    provider_type = UnicodeAttribute()
    # The room its people were sent (sealed as the meeting's details): what the new one is compared with, and
    # what deleting the old one needs. None: not known (no details_changed comparison, nothing to delete).
    details_sealed = BinaryAttribute(legacy_encoding=False, null=True)
    delete = BooleanAttribute(default=False)  # still to delete at its account, whose tokens are kept for it
    missing = BooleanAttribute(default=False)  # made again because it was missing: the admin is told


class MeetingItem(_Item):
    """A meeting at a provider, shared by the bookings of a class session.

    While it is live (creating, scheduled or started) on an account, gsi1 lists it under that account by its
    start (`HOSTED#<tenant>#<account>` / `<start>#<meeting key>`): what an account hosts from a given time on is
    one Query, whatever the tenant's size. The index keys are derived from the item at every write (serialize).
    """

    gsi1 = Gsi1()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    meeting_key = UnicodeAttribute()
    service_id = UnicodeAttribute()
    provider_id = UnicodeAttribute()
    # The account that made it: updates and deletes go through it. None for a meeting the booking platform made.
    account_id = UnicodeAttribute(null=True)
    # Which slot of the hosting chain the account was taken from: company | provider:<id> | fallback.
    account_slot = UnicodeAttribute(null=True)
    # Why it is not on the first account of the chain (set by a fallback or a re-homing), shown to the admin.
    fallback_reason = UnicodeAttribute(null=True)
    provider_type = UnicodeAttribute()
    external_id = UnicodeAttribute(null=True)
    details_sealed = BinaryAttribute(legacy_encoding=False, null=True)  # join URL, password: sealed JSON
    start = UTCDateTimeAttribute()
    end = UTCDateTimeAttribute()
    timezone = UnicodeAttribute()
    status = UnicodeAttribute()  # creating | scheduled | started | cancelled
    started_at = UTCDateTimeAttribute(null=True)
    started_by = UnicodeAttribute(null=True)  # schedule | provider | manual
    started_by_role = UnicodeAttribute(null=True)  # the role of the API key of a manual start
    booking_ids = UnicodeSetAttribute(default=set)
    provider_link_sealed = BinaryAttribute(legacy_encoding=False, null=True)
    schedule_name = UnicodeAttribute(null=True)
    # Its reminders' schedules as set with the offsets of the time, so a move or cancel deletes exactly these.
    reminder_schedule_names = ListAttribute(of=UnicodeAttribute, null=True)
    # The claim. Each creation attempt sends `reference` (ours, kept by the provider with the meeting); it
    # changes only when a cancelled meeting is made again (`generation`), so an attempt after a lost answer
    # or a dead worker (`attempts` > 1) finds the meeting made before instead of making a second one.
    generation = NumberAttribute(default=0)
    reference = UnicodeAttribute(null=True)
    attempts = NumberAttribute(default=0)
    claimed_until = UTCDateTimeAttribute(null=True)  # a claim past this is taken over; a failed attempt releases it
    claim_host = UnicodeAttribute(null=True)  # the provider-side host the claim creates for
    superseded = SupersededMeeting(null=True)  # a re-homing's unfinished business with the meeting it replaced
    # Cancelled because its bookings were switched to in person: its provider link says so; cleared when made again.
    in_person = BooleanAttribute(null=True)
    updated_at = UTCDateTimeAttribute()
    version = VersionAttribute()

    @staticmethod
    def key(tenant_id: str, meeting_key: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'MEETING#{meeting_key}'

    def serialize(self, null_check: bool = True) -> dict:
        if self.account_id and self.status in LIVE_MEETING_STATUSES:
            self.gsi1pk = hosted_by_key(self.pk.removeprefix('TENANT#'), self.account_id)
            self.gsi1sk = f'{index_time(self.start)}#{self.meeting_key}'
        else:
            self.gsi1pk = self.gsi1sk = None
        return super().serialize(null_check=null_check)


class SessionItem(_Item):
    """A class session switched online or in person by the admin (logic/online.py): the override its bookings
    follow, those arriving later too, unless a booking has its own. `in_person_ids` are its bookings applied in
    person (they are in no meeting's booking_ids), so that switching it back online finds them; added to without
    a version condition, as bookings of one session are applied at once."""

    session_id = UnicodeAttribute()
    online = BooleanAttribute(null=True)  # None: no override, its bookings follow their service
    in_person_ids = UnicodeSetAttribute(null=True)
    booking_ids = UnicodeSetAttribute(null=True)  # every booking of the session applied, whatever its outcome
    updated_at = UTCDateTimeAttribute(null=True)
    version = VersionAttribute()

    @staticmethod
    def key(tenant_id: str, session_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'SESSION#{session_id}'


# A meeting in one of these is held by its account: listed under it in gsi1.
LIVE_MEETING_STATUSES = ('creating', 'scheduled', 'started')


def hosted_by_key(tenant_id: str, account_id: str) -> str:
    return f'HOSTED#{tenant_id}#{account_id}'


def index_time(moment: datetime) -> str:
    """One fixed width in UTC, so that the index sorts and compares by time (strftime's `%Y` drops the leading
    zeros of a year before 1000, isoformat keeps four digits)."""
    return moment.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + 'Z'


class JoinLinkItem(_Item):
    tenant_id = UnicodeAttribute()
    role = UnicodeAttribute()  # client | provider
    meeting_key = UnicodeAttribute()
    booking_id = UnicodeAttribute(null=True)  # client links only
    client_id = UnicodeAttribute(null=True)
    status = UnicodeAttribute(default='active')  # active | revoked
    created_at = UTCDateTimeAttribute()
    ttl = TTLAttribute(null=True)

    @staticmethod
    def key(token_digest: str) -> tuple[str, str]:
        return f'LINK#{token_digest}', 'LINK'


class LinkOpensItem(_Item):
    """When a person first and last opened one link, and how often (logic/analytics.py): the client's link under
    its booking, the provider's under its meeting, so a booking's opens are read by key, without its links.

    An item of its own, unversioned and only ever updated: on the versioned booking or meeting, an open would
    either conflict with their optimistic writes or be overwritten by their next whole-item save."""

    first = UTCDateTimeAttribute(null=True)
    last = UTCDateTimeAttribute(null=True)
    count = NumberAttribute(default=0)

    @staticmethod
    def client_key(tenant_id: str, booking_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'OPENS#CLIENT#{booking_id}'

    @staticmethod
    def provider_key(tenant_id: str, meeting_key: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'OPENS#PROVIDER#{meeting_key}'


class NamedItem(_Item):
    """Any item's name alone, whatever its type (a service's, a provider's): the meetings report reads the names
    of a page's services and providers in one batch (logic/reports.py)."""

    name = UnicodeAttribute(null=True)


class QuotaItem(_Item):
    """Calls one provider-side user made today, counted before the provider is asked."""

    count = NumberAttribute(default=0)
    ttl = TTLAttribute()

    @staticmethod
    def key(provider_type: str, user: str, day: str) -> tuple[str, str]:
        return f'QUOTA#{provider_type}#{user}', f'DAY#{day}'


class ConnectIntentItem(_Item):
    """A connect link the admin API handed out: who connects what, valid for minutes."""

    tenant_id = UnicodeAttribute()
    provider_type = UnicodeAttribute()
    provider_id = UnicodeAttribute(null=True)  # None: the company account
    return_url = UnicodeAttribute(null=True)
    expires_at = UTCDateTimeAttribute()
    ttl = TTLAttribute()

    @staticmethod
    def key(token_digest: str) -> tuple[str, str]:
        return f'CONNECT#{token_digest}', 'CONNECT'


class OAuthStateItem(_Item):
    """One OAuth round trip: single use (deleted on the callback), expiring, with the provider's sealed flow
    (a PKCE verifier, or MSAL's whole auth code flow)."""

    tenant_id = UnicodeAttribute()
    provider_type = UnicodeAttribute()
    provider_id = UnicodeAttribute(null=True)
    return_url = UnicodeAttribute(null=True)
    redirect_uri = UnicodeAttribute()
    flow_sealed = BinaryAttribute(legacy_encoding=False)
    expires_at = UTCDateTimeAttribute()
    ttl = TTLAttribute()

    @property
    def state(self) -> str:
        return self.pk.removeprefix('OAUTHSTATE#')

    @staticmethod
    def key(state: str) -> tuple[str, str]:
        return f'OAUTHSTATE#{state}', 'OAUTHSTATE'


class OutboxItem(_Item):
    """An event written in the same transaction as the change it announces, until it is on the bus.

    Keyed by what the event is about (`subject`): a newer event about the same subject, written before
    the older one went out, takes its place. gsi1 (`OUTBOX` / <written_at>#<key>) lists what is left for
    the sweeper, oldest first. `marker` names an attribute of the subject's own item (same partition,
    sort key `marker_sk`) that says the event is pending; it is removed when the event is published.
    """

    gsi1 = Gsi1()
    gsi1pk = UnicodeAttribute(default='OUTBOX')
    gsi1sk = UnicodeAttribute()
    event_id = UnicodeAttribute()  # the same on every publication: consumers dedupe on it
    detail_type = UnicodeAttribute()
    detail = UnicodeAttribute()  # JSON
    written_at = UTCDateTimeAttribute()
    marker_sk = UnicodeAttribute(null=True)
    marker_attribute = UnicodeAttribute(null=True)
    marker_value = UnicodeAttribute(null=True)

    @staticmethod
    def key(tenant_id: str, subject: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'OUTBOX#{subject}'


class ReconciliationItem(_Item):
    """The re-homing of the future meetings of an account that went away, started by one connection event
    (its `event_id`). The account's meetings are listed from the HOSTED index a page at a time (`cursor`: the
    index sort key listed up to); each page's meeting keys are an item of their own (ReconciliationPageItem),
    so that no item grows with the account. Each meeting is a message of its own; its first attempt counts what
    it did here (`left` goes down by one), so that the last one sends the one summary (logic/rehoming.py).
    Unversioned counters: the attempts of many meetings update it at once."""

    account_id = UnicodeAttribute()
    holder = UnicodeAttribute(null=True)
    type = UnicodeAttribute()
    reason = UnicodeAttribute()  # admin | replaced | refused | deauthorized | check_failed
    cursor = UnicodeAttribute()  # the HOSTED index sort key listed up to
    pages = NumberAttribute(default=0)  # pages written
    sent = NumberAttribute(default=0)  # pages whose meetings' messages are all on the queue
    listed = BooleanAttribute(default=False)  # every page written
    left = NumberAttribute(default=0)  # meetings listed that have not had their first attempt
    rehomed = NumberAttribute(default=0)
    failed_count = NumberAttribute(default=0)
    failed_pages = NumberSetAttribute(null=True)  # the pages that hold failures, for the summary's first ones
    retrying = NumberAttribute(default=0)  # meetings whose first attempt failed and that are retried still
    ended_untouched = NumberAttribute(default=0)
    summarised_at = UTCDateTimeAttribute(null=True)
    created_at = UTCDateTimeAttribute()  # the time its meetings are listed at (ended, under way or future)
    ttl = TTLAttribute()

    @staticmethod
    def key(tenant_id: str, account_id: str, cause_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'RECONCILIATION#{account_id}#{cause_id}'


class ReconciliationPageItem(_Item):
    """One page of a reconciliation's meetings (a few dozen), written once as the HOSTED index is read."""

    pending = UnicodeSetAttribute(null=True)  # meeting keys not yet attempted
    retrying = UnicodeSetAttribute(null=True)  # meeting keys whose first attempt failed, retried by the queue
    failed = UnicodeSetAttribute(null=True)  # JSON {meeting_key, booking_ids, problem} each
    ttl = TTLAttribute()

    @staticmethod
    def key(tenant_id: str, account_id: str, cause_id: str, page: int) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'RECONCILIATION#{account_id}#{cause_id}#PAGE#{page:06d}'


class AlertGroupItem(_Item):
    """An alert group (an account, or 'tenant'): its open window and what waits for the window's digest
    (logic/alerts.py). Every write is versioned, so concurrent consumers never lose or repeat an alert.

    `outgoing` is the last message decided (its id, alerts and the window it closed): whatever decided it
    sends it again when it is redelivered, and the per-recipient idempotency keeps that to one send."""

    group = UnicodeAttribute()
    window_until = UTCDateTimeAttribute(null=True)  # alerts before it are kept for the digest at that time
    pending = JSONAttribute(default=list)  # the alerts kept for the digest (logic/alerts.py's Alert.as_map)
    pending_overflow = NumberAttribute(default=0)  # alerts beyond the kept list, counted only
    recent_ids = ListAttribute(of=UnicodeAttribute, default=list)  # alerts already recorded: a redelivery
    outgoing = JSONAttribute(null=True)
    ttl = TTLAttribute(null=True)  # a quiet group goes away
    version = VersionAttribute()

    @staticmethod
    def key(tenant_id: str, group: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'ALERTGROUP#{group}'


class CallbackSettingsItem(_Item):
    """Where the tenant's booking platform takes callbacks (logic/callbacks.py): the URL, the event types it
    asked for, and the secret that signs them, sealed; after a rotation the replaced secret signs too, until
    `previous_secret_until`."""

    url = UnicodeAttribute()
    events = ListAttribute(of=UnicodeAttribute)
    secret_sealed = BinaryAttribute(legacy_encoding=False)
    previous_secret_sealed = BinaryAttribute(legacy_encoding=False, null=True)
    previous_secret_until = UTCDateTimeAttribute(null=True)
    rotated_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute()

    @staticmethod
    def key(tenant_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), 'CALLBACKS'


class CallbackDeliveryItem(_Item):
    """One callback (an event about one booking) and how its attempts went. The body is fixed when the event
    arrives and sealed (it carries the join links), so every attempt and replay posts the same content.
    gsi1 lists the tenant's callbacks by when they were made (`CALLBACKS#<tenant>` / `<created_at>#<id>`): the
    deliveries list is one Query backwards. Updated attempt by attempt; gone 30 days after the event (ttl)."""

    gsi1 = Gsi1()
    gsi1pk = UnicodeAttribute(null=True)
    gsi1sk = UnicodeAttribute(null=True)
    delivery_id = UnicodeAttribute()  # also the body's event_id
    event_type = UnicodeAttribute()
    booking_id = UnicodeAttribute()
    status = UnicodeAttribute()  # retrying (not delivered yet) | delivered | failed
    attempts = NumberAttribute(default=0)
    last_status_code = NumberAttribute(null=True)
    last_error = UnicodeAttribute(null=True)  # http_status | timeout | connection | unresolvable | url_refused | callbacks_off
    body_sealed = BinaryAttribute(legacy_encoding=False)
    created_at = UTCDateTimeAttribute()
    last_attempt_at = UTCDateTimeAttribute(null=True)
    delivered_at = UTCDateTimeAttribute(null=True)
    queued_by = UnicodeAttribute(null=True)  # the SQS message id of the event that may queue its message
    queued_at = UTCDateTimeAttribute(null=True)  # when its message was queued (set once)
    posting_until = UTCDateTimeAttribute(null=True)  # an attempt's lease: no other message posts it meanwhile
    ttl = TTLAttribute()

    @staticmethod
    def key(tenant_id: str, delivery_id: str) -> tuple[str, str]:
        return tenant_pk(tenant_id), f'{CALLBACK_DELIVERY_PREFIX}{delivery_id}'

    def serialize(self, null_check: bool = True) -> dict:
        self.gsi1pk = callbacks_key(self.pk.removeprefix('TENANT#'))
        # To the microsecond, fixed width: the callbacks of one second keep their order.
        self.gsi1sk = f"{self.created_at.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}#{self.delivery_id}"
        return super().serialize(null_check=null_check)


CALLBACK_DELIVERY_PREFIX = 'CALLBACK#'


def callbacks_key(tenant_id: str) -> str:
    return f'CALLBACKS#{tenant_id}'
