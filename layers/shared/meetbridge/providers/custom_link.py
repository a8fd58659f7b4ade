"""A tenant's fixed meeting link (a Webex room, a Skype or Jitsi URL), with password and description.

Every meeting of the account uses the same room, so there is nothing to create or delete at a provider,
and a click always goes to the room the account names now (an admin may move the room).
"""

from meetbridge.providers.base import Attendee, MeetingSpec, ProviderMeeting
from meetbridge.store.repository import Account


class CustomLinkProvider:
    type = 'custom_link'

    def create(self, account: Account, spec: MeetingSpec) -> ProviderMeeting:
        return ProviderMeeting(
            external_id=None,
            join_url=account.settings['url'],
            password=account.secrets().get('password'),
            description=account.settings.get('description'),
        )

    def find(self, account: Account, spec: MeetingSpec) -> ProviderMeeting | None:
        return None  # nothing is made at a provider

    def update(self, account: Account, meeting: ProviderMeeting, spec: MeetingSpec) -> ProviderMeeting:
        return meeting

    def delete(self, account: Account, meeting: ProviderMeeting) -> None:
        return None

    def host_url(self, account: Account, meeting: ProviderMeeting) -> str:
        return account.settings['url']

    def attendee_url(self, account: Account, meeting: ProviderMeeting, attendee: Attendee | None) -> str:
        return account.settings['url']

    def add_attendee(self, account: Account, meeting: ProviderMeeting, spec: MeetingSpec,
                     email: str, name: str) -> Attendee | None:
        return None

    def remove_attendee(self, account: Account, meeting: ProviderMeeting, attendee: Attendee) -> None:
        return None


PROVIDER = CustomLinkProvider()
