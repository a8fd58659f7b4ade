"""Which meeting account hosts a booking."""

from dataclasses import dataclass

COMPANY = 'company'


def provider_connection_id(provider_id: str) -> str:
    return f'provider:{provider_id}'


@dataclass(frozen=True)
class AccountChoice:
    connection_id: str
    # A company account that hosts under one of its own users (filled once provider mapping exists).
    host_user: str | None = None


def choose_account(
    provider_id: str,
    active_connections: set[str],
    company_user_for_provider: str | None = None,
) -> AccountChoice | None:
    """The provider's own connected account, then the company account (under the provider's mapped
    user when there is one), else nothing: the booking is then recorded as failed for the admin."""
    own = provider_connection_id(provider_id)
    if own in active_connections:
        return AccountChoice(own)
    if COMPANY in active_connections:
        return AccountChoice(COMPANY, host_user=company_user_for_provider)
    return None
