from meetbridge.domain.hosting import COMPANY, AccountChoice, choose_account, holders_for, provider_holder

BOTH = {COMPANY: 'acc_company', 'provider:p7': 'acc_p7'}


def test_providers_own_account_wins_over_the_company_account():
    choice = choose_account('p7', BOTH, company_user_for_provider='zoom-user-7')

    assert choice == AccountChoice('acc_p7', host_user=None)


def test_company_account_is_used_under_the_providers_mapped_user():
    choice = choose_account('p7', {COMPANY: 'acc_company'}, company_user_for_provider='zoom-user-7')

    assert choice == AccountChoice('acc_company', host_user='zoom-user-7')


def test_company_account_without_a_mapping_hosts_as_its_default_user():
    assert choose_account('p7', {COMPANY: 'acc_company'}) == AccountChoice('acc_company', host_user=None)


def test_another_providers_own_account_is_not_borrowed():
    assert choose_account('p7', {'provider:p8': 'acc_p8', COMPANY: 'acc_company'}) == AccountChoice('acc_company')
    assert choose_account('p7', {'provider:p8': 'acc_p8'}) is None


def test_nothing_active_means_no_account():
    assert choose_account('p7', {}, company_user_for_provider='zoom-user-7') is None


def test_holder_forms_and_preference():
    assert provider_holder('p7') == 'provider:p7' != COMPANY
    assert holders_for('p7') == ('provider:p7', COMPANY)
