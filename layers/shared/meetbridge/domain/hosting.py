"""Which meeting account hosts a booking: the hosting chain."""

# Who uses a meeting account: the company, or one provider for their own bookings; the tenant's fallback (a custom
# link) hosts when neither can.
COMPANY = 'company'
FALLBACK = 'fallback'
# The names the admin knows the account types by, in the sentences that say why a booking fell back.
TYPE_NAMES = {'zoom': 'Zoom', 'microsoft': 'Microsoft Teams', 'google': 'Google Meet', 'custom_link': 'custom link'}


def provider_holder(provider_id: str) -> str:
    return f'provider:{provider_id}'


def chain_for(provider_id: str) -> tuple[str, str, str]:
    """The slots whose accounts may host a provider's booking, in order: the provider's own account, the company
    account (under the provider's mapped user when there is one), the tenant's fallback custom link. A slot with
    no account is passed over; one whose account is unusable is skipped, and the booking says why."""
    return provider_holder(provider_id), COMPANY, FALLBACK


def describe(slot: str, account_type: str, connected_as: str | None) -> str:
    """The account of a slot as the admin knows it: "The provider's own Zoom account (dana@example.com)"."""
    whose = {COMPANY: 'The company', FALLBACK: 'The fallback'}.get(slot, "The provider's own")
    name = TYPE_NAMES.get(account_type, account_type)
    return f'{whose} {name} account' + (f' ({connected_as})' if connected_as else '')
