"""What each API key role may call (logic/keys.py): the rule, without the table."""

from types import SimpleNamespace

import pytest

from meetbridge.errors import Forbidden, NotFound
from meetbridge.logic import keys
from meetbridge.logic.keys import Caller
from meetbridge.store.models import TenantItem

TENANT = TenantItem(tenant_id='t_0123456789abcdef0123')
BASE = '/v1/tenants/t_0123456789abcdef0123'
BOOKINGS = {'b-dana': 'dana', 'b-eli': 'eli'}  # booking id: its provider


@pytest.fixture(autouse=True)
def bookings(monkeypatch):
    def get_booking(tenant_id: str, booking_id: str):
        assert tenant_id == TENANT.tenant_id
        if booking_id not in BOOKINGS:
            raise NotFound('booking not found')
        return SimpleNamespace(provider_id=BOOKINGS[booking_id])

    monkeypatch.setattr(keys.repository, 'get_booking', get_booking)


def caller(role: str, *providers: str) -> Caller:
    return Caller(TENANT, role, frozenset(providers))


ALLOWED_TO_STAFF = [('GET', f'{BASE}/bookings/b-dana'), ('POST', f'{BASE}/bookings/b-dana/start'),
                    ('post', f'{BASE}/bookings/b-dana/start'), ('PUT', f'{BASE}/bookings/b-dana/online')]
ADMIN_ONLY = [('PUT', f'{BASE}/services/svc'), ('GET', f'{BASE}/keys'), ('POST', f'{BASE}/keys'),
              ('DELETE', f'{BASE}/keys/abc'), ('POST', f'{BASE}/bookings/b-dana'), ('GET', f'{BASE}/bookings/b-dana/start'),
              ('DELETE', f'{BASE}/bookings/b-dana'), ('HEAD', f'{BASE}/bookings/b-dana'),
              ('GET', f'{BASE}/sources/calcom/bookings/b-dana'), ('GET', f'{BASE}/bookings/b-dana/'),
              ('POST', f'{BASE}/bookings/b-dana/start/'), ('GET', f'{BASE}/bookings/b%2Fdana'),
              ('GET', f'{BASE}/bookings/' + 'b' * 200), ('GET', f'{BASE}/bookings/.hidden'),
              ('GET', f'{BASE}/bookings/b-dana/../../keys'), ('GET', f'{BASE}/bookings'),
              ('GET', f'{BASE}/bookings/b-dana/online'), ('POST', f'{BASE}/bookings/b-dana/online'),
              ('PUT', f'{BASE}/bookings/b-dana/start')]


@pytest.mark.parametrize(('method', 'path'), ALLOWED_TO_STAFF + ADMIN_ONLY)
def test_an_admin_key_calls_everything(method, path):
    keys.authorize(caller('admin'), method, path)


@pytest.mark.parametrize(('method', 'path'), ALLOWED_TO_STAFF)
def test_senior_and_junior_keys_read_and_start_bookings(method, path):
    keys.authorize(caller('senior'), method, path)
    keys.authorize(caller('junior', 'dana'), method, path)


@pytest.mark.parametrize(('method', 'path'), ADMIN_ONLY)
def test_every_other_route_is_refused_to_them_naming_the_rule(method, path):
    with pytest.raises(Forbidden, match=r"^this key's role \(senior\) may only read, start and switch online or in "
                                        r"person bookings and class sessions$"):
        keys.authorize(caller('senior'), method, path)
    with pytest.raises(Forbidden, match=r"^this key's role \(junior\) may only read, start and switch online or in "
                                        r"person its providers' bookings$"):
        keys.authorize(caller('junior', 'dana'), method, path)


def test_a_junior_key_is_refused_another_providers_booking_without_its_details():
    with pytest.raises(Forbidden) as refused:
        keys.authorize(caller('junior', 'dana'), 'POST', f'{BASE}/bookings/b-eli/start')
    assert str(refused.value) == ("this key's role (junior) may only read, start and switch online or in person its "
                                  "providers' bookings: this booking is another provider's")
    assert 'eli' not in str(refused.value)  # nor its provider
    keys.authorize(caller('junior', 'dana', 'eli'), 'GET', f'{BASE}/bookings/b-eli')
    keys.authorize(caller('senior'), 'GET', f'{BASE}/bookings/b-eli')


def test_a_class_sessions_switch_is_a_senior_keys_but_not_a_junior_keys():
    keys.authorize(caller('senior'), 'PUT', f'{BASE}/sessions/yoga-1/online')
    with pytest.raises(Forbidden, match=r"its providers' bookings$"):
        keys.authorize(caller('junior', 'dana'), 'PUT', f'{BASE}/sessions/yoga-1/online')
    with pytest.raises(Forbidden):
        keys.authorize(caller('senior'), 'GET', f'{BASE}/sessions/yoga-1/online')


def test_an_unknown_booking_is_not_found_for_a_junior_key():
    with pytest.raises(NotFound):
        keys.authorize(caller('junior', 'dana'), 'GET', f'{BASE}/bookings/b-nobody')


def test_a_key_id_is_a_fingerprint_of_the_key_and_shows_nothing_of_it():
    key = keys.secrets.new_secret(keys.API_KEY_PREFIX)
    assert keys.key_id_of(key) == keys.key_id_of(key) and len(keys.key_id_of(key)) == 16
    assert keys.key_id_of(key) not in key
    assert keys.key_id_of(key) != keys.key_id_of(keys.secrets.new_secret(keys.API_KEY_PREFIX))
