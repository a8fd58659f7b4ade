import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from infra.local.scheduler import fire_time
from meetbridge.scheduling import at_expression, schedule_name

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


def test_the_at_expression_is_the_instants_utc_wall_time_whatever_its_offset():
    start = datetime(2030, 3, 14, 9, 0, tzinfo=timezone(timedelta(hours=-5)))  # the 09:00-05:00

    assert at_expression(start) == 'at(2030-03-14T14:00:00)'
    assert fire_time(at_expression(start), 'UTC') == start == datetime(2030, 3, 14, 14, 0, tzinfo=UTC)
    assert at_expression(datetime(2030, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=5, minutes=45)))) == \
        'at(2029-12-31T18:45:00)'
    with pytest.raises(ValueError, match='aware'):
        at_expression(datetime(2030, 3, 14, 9, 0))
