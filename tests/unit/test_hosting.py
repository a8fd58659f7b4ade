from meetbridge.domain.hosting import COMPANY, FALLBACK, chain_for, describe, provider_holder


def test_the_chain_is_the_providers_own_account_then_the_company_then_the_fallback():
    assert chain_for('p7') == (provider_holder('p7'), COMPANY, FALLBACK) == ('provider:p7', 'company', 'fallback')


def test_an_account_is_described_by_its_slot_type_and_user():
    assert describe('provider:p7', 'zoom', 'dana@example.com') == "The provider's own Zoom account (dana@example.com)"
    assert describe(COMPANY, 'microsoft', None) == 'The company Microsoft Teams account'
    assert describe(FALLBACK, 'custom_link', None) == 'The fallback custom link account'
