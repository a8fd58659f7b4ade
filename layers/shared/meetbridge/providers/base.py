"""The one small interface every meeting provider implements."""

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from meetbridge.store.repository import Account


@dataclass(frozen=True)
class MeetingSpec:
    topic: str
    start: datetime
    end: datetime
    timezone: str
    kind: Literal['appointment', 'class']
    host_user: str | None = None


@dataclass(frozen=True)
class ProviderMeeting:
    """What a provider made. Stored sealed: join URLs and passwords let anyone in."""

    external_id: str | None
    join_url: str
    password: str | None = None
    description: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> 'ProviderMeeting':
        return cls(**{name: data.get(name) for name in cls.__dataclass_fields__})


class MeetingProvider(Protocol):
    type: str

    def create(self, account: Account, spec: MeetingSpec) -> ProviderMeeting: ...

    def update(self, account: Account, meeting: ProviderMeeting, spec: MeetingSpec) -> ProviderMeeting: ...

    def delete(self, account: Account, meeting: ProviderMeeting) -> None:
        """Removes the meeting; a meeting that is already gone counts as removed."""

    def host_url(self, account: Account, meeting: ProviderMeeting) -> str:
        """A link that opens the meeting as its host, fetched fresh when the provider clicks."""

    def attendee_url(self, account: Account, meeting: ProviderMeeting, client_id: str) -> str:
        """The link one client joins with."""
