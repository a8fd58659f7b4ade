"""Zoom's Retry-After comes as seconds or as an ISO date-time; the daily limit resets at 00:00 UTC."""

from datetime import UTC, datetime

from meetbridge.providers.zoom import ZoomApiError, _is_daily_limit, _resume_at, next_utc_midnight, retry_after_seconds

NOW = datetime(2026, 11, 21, 18, 30, tzinfo=UTC)


def test_retry_after_in_seconds_or_as_a_date():
    assert retry_after_seconds('7', NOW) == 7.0
    assert retry_after_seconds('2026-11-22T00:00:00Z', NOW) == 5.5 * 3600
    assert retry_after_seconds('Sun, 22 Nov 2026 00:00:00 GMT', NOW) == 5.5 * 3600
    assert retry_after_seconds('2026-11-20T00:00:00Z', NOW) == 0.0
    assert retry_after_seconds('whenever', NOW) is None and retry_after_seconds(None, NOW) is None


def test_the_daily_limit_is_recognised_by_header_or_by_a_date_retry_after():
    daily = ZoomApiError(429, 429, '', {'x-ratelimit-type': 'Daily-limit'})
    dated = ZoomApiError(429, 429, '', {'retry-after': '2026-11-22T00:00:00Z'})
    per_second = ZoomApiError(429, 429, '', {'retry-after': '1'})
    bare = ZoomApiError(429, 429, '', {})
    assert _is_daily_limit(daily) and _is_daily_limit(dated)
    assert not _is_daily_limit(per_second) and not _is_daily_limit(bare)


def test_work_resumes_when_zoom_says_or_at_the_next_utc_midnight():
    assert next_utc_midnight(NOW) == datetime(2026, 11, 22, tzinfo=UTC)
    said = ZoomApiError(429, 429, '', {'retry-after': '2026-11-22T00:00:05Z'})
    assert _resume_at(said, NOW) == datetime(2026, 11, 22, 0, 0, 5, tzinfo=UTC)
    far = ZoomApiError(429, 429, '', {'retry-after': '2031-01-01T00:00:00Z'})
    assert _resume_at(far, NOW) == datetime(2026, 11, 22, tzinfo=UTC)
