"""Which meeting account hosts a booking."""

from dataclasses import dataclass

# Who uses a meeting account: the company, or one provider for their own bookings; the tenant's fallback (a custom
# link) hosts when neither can.
COMPANY = 'company'
FALLBACK = 'fallback'


def provider_holder(provider_id: str) -> str:
    return f'provider:{provider_id}'


def holders_for(provider_id: str) -> tuple[str, str]:
    """Whose accounts may host a provider's booking, the first one preferred."""
    return provider_holder(provider_id), COMPANY


@dataclass(frozen=True)
class AccountChoice:
    account_id: str
    # A company account that hosts under one of its own users (the provider's mapped user).
    host_user: str | None = None


def choose_account(
    provider_id: str,
    active_accounts: dict[str, str],
    company_user_for_provider: str | None = None,
) -> AccountChoice | None:
    """`active_accounts` is {holder: account id} of the holders whose account is active. The provider's own
    account, then the company account (under the provider's mapped user when there is one), else nothing:
    the booking is then recorded as failed for the admin."""
    own = active_accounts.get(provider_holder(provider_id))
    if own is not None:
        return AccountChoice(own)
    company = active_accounts.get(COMPANY)
    if company is not None:
        return AccountChoice(company, host_user=company_user_for_provider)
    return None
