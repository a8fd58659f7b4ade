"""The one small interface every meeting provider implements."""

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from meetbridge.errors import MeetbridgeError, RetryLater
from meetbridge.store.repository import Account


# A health check leaves each OAuth account with an access token that outlives the next hourly check.
CHECK_HORIZON_SECONDS = 65 * 60
# The `reason` of a connection.broken found by a health check.
CHECK_FAILED = 'check_failed'


class ProviderRejected(MeetbridgeError):
    """The provider refused for a reason a retry will not fix; the message is shown to the admin.
    `about_account`: the refusal is about the account or its host user (a user gone, a permission missing), not
    about the meeting asked for, so another account of the hosting chain may host it."""

    def __init__(self, message: str, about_account: bool = False):
        super().__init__(message)
        self.about_account = about_account


class SignInRefused(Exception):
    """A connect attempt failed at the provider; `title` and `detail` are shown to the person."""

    def __init__(self, title: str, detail: str, status: int = 400):
        super().__init__(title)
        self.title, self.detail, self.status = title, detail, status


class ConsentAgain(Exception):
    """The provider kept back the lasting authorisation (a refresh token) of a grant the user gave before: the
    person is sent back once more, with the provider's consent screen asked for (`begin(..., consent=True)`)."""


@dataclass(frozen=True)
class Authorized:
    """Who signed in at the provider, and the token state to keep sealed for the account."""

    user_id: str
    email: str
    account_id: str | None
    role: str | None
    state: dict[str, Any]


class DailyLimit(RetryLater):
    """A provider-side user's daily budget is used up; the work waits until `resume_at`."""

    def __init__(self, message: str, resume_at: datetime):
        super().__init__(message)
        self.resume_at = resume_at


@dataclass(frozen=True)
class MeetingSpec:
    topic: str
    start: datetime
    end: datetime
    timezone: str
    kind: Literal['appointment', 'class']
    host_user: str | None = None
    settings: dict[str, Any] | None = None  # the tenant's meeting settings (join before host, waiting room, ...)
    # Ours, the same for every attempt of one claim: the provider keeps it with the meeting, so an attempt
    # whose answer was lost (or whose worker died) can be found again instead of made twice.
    reference: str | None = None
    # The meeting the booking platform made itself, for the `platform` provider (providers/platform.py).
    platform_meeting_url: str | None = None


@dataclass(frozen=True)
class ProviderMeeting:
    """What a provider made. Stored sealed: join URLs and passwords let anyone in."""

    external_id: str | None
    join_url: str
    password: str | None = None
    description: str | None = None
    host: str | None = None  # the provider-side user hosting it, when not the connected user

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> 'ProviderMeeting':
        return cls(**{name: data.get(name) for name in cls.__dataclass_fields__})


@dataclass(frozen=True)
class Attendee:
    """One client's own entry to a meeting (a Zoom registrant): revocable without touching the others."""

    id: str | None
    join_url: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class MeetingProvider(Protocol):
    type: str

    def create(self, account: Account, spec: MeetingSpec) -> ProviderMeeting:
        """Makes the meeting, marked with `spec.reference`."""

    def find(self, account: Account, spec: MeetingSpec) -> ProviderMeeting | None:
        """The meeting an earlier `create` with `spec.reference` made, if the provider has it (that attempt's
        answer may have been lost); None when there is none."""

    def update(self, account: Account, meeting: ProviderMeeting, spec: MeetingSpec) -> ProviderMeeting: ...

    def delete(self, account: Account, meeting: ProviderMeeting) -> None:
        """Removes the meeting; a meeting that is already gone counts as removed."""

    def host_url(self, account: Account, meeting: ProviderMeeting) -> str:
        """A link that opens the meeting as its host, fetched fresh when the provider clicks."""

    def attendee_url(self, account: Account, meeting: ProviderMeeting, attendee: Attendee | None) -> str:
        """The link one client joins with."""

    def add_attendee(self, account: Account, meeting: ProviderMeeting, spec: MeetingSpec,
                     email: str, name: str) -> Attendee | None:
        """Registers one client, or None when every client uses the meeting's own link."""

    def remove_attendee(self, account: Account, meeting: ProviderMeeting, attendee: Attendee) -> None: ...


class CheckedProvider(MeetingProvider, Protocol):
    """A provider whose accounts sign in (Zoom, Microsoft, Google): the hourly health check uses these."""

    def check(self, account: Account) -> None:
        """Proves the account works with the cheapest call: the renewal of an access token that would expire
        before the next check (CHECK_HORIZON_SECONDS), else a read of the signed-in user. Raises
        ConnectionUnusable (the account is marked broken), ProviderRejected (refused) or RetryLater (for now)."""

    def exists(self, account: Account, meeting: ProviderMeeting) -> bool:
        """Whether the provider still has the meeting (deleted in its portal, say: False)."""
