"""The meeting a booking platform made itself (a Cal.com video integration, a Calendly conference).

Nothing is made, moved or deleted anywhere: the platform owns the meeting and sends its URL with each
change of the booking (`MeetingSpec.platform_meeting_url`), and every link of ours leads to the latest one.
There is no meeting account behind it, so `account` is always None.
"""

from meetbridge.providers.base import Attendee, MeetingSpec, ProviderMeeting
from meetbridge.store.repository import Account


class PlatformProvider:
    type = 'platform'

    def create(self, account: Account | None, spec: MeetingSpec) -> ProviderMeeting:
        if not spec.platform_meeting_url:
            raise ValueError('a platform meeting needs the URL the platform sent')
        return ProviderMeeting(external_id=None, join_url=spec.platform_meeting_url)

    def find(self, account: Account | None, spec: MeetingSpec) -> ProviderMeeting | None:
        return None  # nothing is made at a provider

    def update(self, account: Account | None, meeting: ProviderMeeting, spec: MeetingSpec) -> ProviderMeeting:
        return self.create(account, spec)  # the platform's latest URL

    def delete(self, account: Account | None, meeting: ProviderMeeting) -> None:
        return None  # the platform removes its own meeting

    def host_url(self, account: Account | None, meeting: ProviderMeeting) -> str:
        return meeting.join_url

    def attendee_url(self, account: Account | None, meeting: ProviderMeeting, attendee: Attendee | None) -> str:
        return meeting.join_url

    def add_attendee(self, account: Account | None, meeting: ProviderMeeting, spec: MeetingSpec,
                     email: str, name: str) -> Attendee | None:
        return None

    def remove_attendee(self, account: Account | None, meeting: ProviderMeeting, attendee: Attendee) -> None:
        return None


PROVIDER = PlatformProvider()
