"""A local time is shown with its zone's offset at that moment, so the hour that repeats when clocks go
back reads differently on each side of the change."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from meetbridge.domain.templates import zone_label


@pytest.mark.parametrize(('zone', 'moment', 'label'), [
    # 01:30 happens twice in New York on 1 November 2026: first in daylight time, then in standard time.
    ('America/New_York', datetime(2026, 11, 1, 5, 30, tzinfo=UTC), 'America/New_York, UTC-04:00'),
    ('America/New_York', datetime(2026, 11, 1, 6, 30, tzinfo=UTC), 'America/New_York, UTC-05:00'),
    ('Asia/Kathmandu', datetime(2026, 6, 1, 12, 0, tzinfo=UTC), 'Asia/Kathmandu, UTC+05:45'),
    ('Pacific/Chatham', datetime(2026, 1, 15, 0, 0, tzinfo=UTC), 'Pacific/Chatham, UTC+13:45'),
    ('UTC', datetime(2026, 1, 15, 0, 0, tzinfo=UTC), 'UTC, UTC+00:00'),
])
def test_the_offset_at_the_moment_names_the_zone(zone, moment, label):
    assert zone_label(zone, moment) == label


def test_the_repeated_hour_reads_differently_on_each_side_of_the_change():
    first, second = datetime(2026, 11, 1, 5, 30, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    zone = 'America/New_York'
    local = [moment.astimezone(ZoneInfo(zone)).strftime('%H:%M') for moment in (first, second)]
    assert local == ['01:30', '01:30']
    assert zone_label(zone, first) != zone_label(zone, second)
