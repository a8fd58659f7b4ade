from meetbridge.domain.hosting import COMPANY, AccountChoice, choose_account, provider_connection_id


def test_providers_own_account_wins_over_the_company_account():
    choice = choose_account('p7', {COMPANY, 'provider:p7'}, company_user_for_provider='zoom-user-7')

    assert choice == AccountChoice('provider:p7', host_user=None)


def test_company_account_is_used_under_the_providers_mapped_user():
    choice = choose_account('p7', {COMPANY}, company_user_for_provider='zoom-user-7')

    assert choice == AccountChoice(COMPANY, host_user='zoom-user-7')


def test_company_account_without_a_mapping_hosts_as_its_default_user():
    assert choose_account('p7', {COMPANY}) == AccountChoice(COMPANY, host_user=None)


def test_another_providers_own_account_is_not_borrowed():
    assert choose_account('p7', {'provider:p8', COMPANY}) == AccountChoice(COMPANY)
    assert choose_account('p7', {'provider:p8'}) is None


def test_nothing_active_means_no_account():
    assert choose_account('p7', set(), company_user_for_provider='zoom-user-7') is None


def test_provider_connection_id_form():
    assert provider_connection_id('p7') == 'provider:p7'
    assert provider_connection_id('p7') != COMPANY
