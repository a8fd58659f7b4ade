"""The tenant's general settings, and the lists of its services, providers and bookings."""


def test_the_tenants_time_zone_is_utc_until_set_and_only_an_iana_name(stack):
    assert stack.admin('GET', 'settings/general') == (200, {'timezone': 'UTC'})
    assert stack.admin('PUT', 'settings/general', {'timezone': 'Europe/Paris'}) == (200, {'timezone': 'Europe/Paris'})
    assert stack.admin('GET', 'settings/general') == (200, {'timezone': 'Europe/Paris'})
    for bad in ({'timezone': 'Mars/Olympus'}, {'timezone': ''}, {'timezone': 7}, {'timezone': 'UTC', 'zone': 'x'}):
        status, answer = stack.admin('PUT', 'settings/general', bad)
        assert status == 400 and answer['field'] in ('timezone', 'zone'), (bad, answer)
    assert stack.admin('GET', 'settings/general') == (200, {'timezone': 'Europe/Paris'})
