import re

from meetbridge.scheduling import schedule_name

NAME = re.compile(r'[0-9a-zA-Z\-_.]+')


def test_schedule_name_is_deterministic():
    assert schedule_name('tenant-1', 'booking:b-1') == schedule_name('tenant-1', 'booking:b-1')


def test_schedule_name_fits_scheduler_rules_even_for_the_longest_ids():
    for tenant, key in [('t', 'booking:b'), ('x' * 128, 'session:' + 'y' * 128), ('a.b@c:d', 'booking:ü#/ ')]:
        name = schedule_name(tenant, key)
        assert len(name) <= 64
        assert NAME.fullmatch(name), name


def test_schedule_name_differs_per_tenant_and_per_meeting():
    names = {
        schedule_name('tenant-1', 'booking:b-1'),
        schedule_name('tenant-2', 'booking:b-1'),
        schedule_name('tenant-1', 'booking:b-2'),
        schedule_name('tenant-1', 'session:b-1'),
    }

    assert len(names) == 4
