"""Rate limits: 100 meeting creates/updates per host user per UTC day, and the per-second account limit."""

from datetime import datetime, timedelta

import pytest
from zoom_sandbox_support import REDIRECT_URI, api, connect, meeting_body

from infra.sandboxes.zoom import ZoomSandbox

DAILY_MESSAGE = ('You have exceeded the daily rate limit (100) of Meeting Create/Update API requests permitted for '
                 'this particular user. You may resume these requests at GMT 00:00:00.')
QPS_MESSAGE = 'You have reached the maximum per-second rate limit for this API. Try again later.'


@pytest.fixture(scope='module', autouse=True)
def hosts(zoom):
    zoom.add_user('busy-host', 'busy@zoom.example', 'Busy', 'Host')
    zoom.add_user('calm-host', 'calm@zoom.example', 'Calm', 'Host')


def next_midnight(moment: datetime) -> datetime:
    return (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def test_the_101st_create_or_update_of_a_host_in_a_utc_day_is_429_until_midnight(http, zoom):
    busy, owner = connect(http, zoom, 'busy-host'), connect(http, zoom, 'zoom-owner')
    meeting = api(http, zoom, busy, 'POST', '/users/me/meetings', json=meeting_body()).json()
    for _ in range(59):
        assert api(http, zoom, busy, 'POST', '/users/me/meetings', json=meeting_body()).status_code == 201
    for _ in range(20):  # updates count too, also those made by an admin for the host
        assert api(http, zoom, busy, 'PATCH', f'/meetings/{meeting["id"]}', json={'duration': 45}).status_code == 204
        assert api(http, zoom, owner, 'PATCH', f'/meetings/{meeting["id"]}', json={'duration': 40}).status_code == 204
    midnight = next_midnight(zoom.now())
    limited = api(http, zoom, busy, 'POST', '/users/me/meetings', json=meeting_body())
    assert limited.status_code == 429
    assert limited.json() == {'code': 429, 'message': DAILY_MESSAGE}
    assert limited.headers['X-RateLimit-Category'] == 'Medium'
    assert limited.headers['X-RateLimit-Type'] == 'Daily-limit'
    assert limited.headers['X-RateLimit-Limit'] == '100' and limited.headers['X-RateLimit-Remaining'] == '0'
    assert limited.headers['Retry-After'] == midnight.strftime('%Y-%m-%dT00:00:00Z')
    assert api(http, zoom, owner, 'POST', '/users/busy-host/meetings', json=meeting_body()).status_code == 429
    assert api(http, zoom, busy, 'PATCH', f'/meetings/{meeting["id"]}', json={'duration': 5}).status_code == 429
    assert api(http, zoom, busy, 'GET', f'/meetings/{meeting["id"]}').status_code == 200  # reads are not limited
    calm = connect(http, zoom, 'calm-host')
    assert api(http, zoom, calm, 'POST', '/users/me/meetings', json=meeting_body()).status_code == 201  # per user

    zoom.advance((midnight - zoom.now()).total_seconds() - 2)
    busy = connect(http, zoom, 'busy-host')
    assert api(http, zoom, busy, 'POST', '/users/me/meetings', json=meeting_body()).status_code == 429
    zoom.advance(3)
    assert api(http, zoom, busy, 'POST', '/users/me/meetings', json=meeting_body()).status_code == 201


def test_the_daily_limit_is_configurable(http):
    with ZoomSandbox(redirect_uris=(REDIRECT_URI,), daily_limit=2) as zoom:
        dana = connect(http, zoom, 'zoom-dana')
        for status in (201, 201, 429):
            assert api(http, zoom, dana, 'POST', '/users/me/meetings', json=meeting_body()).status_code == status
        assert '(2)' in api(http, zoom, dana, 'POST', '/users/me/meetings', json={}).json()['message']


def test_per_second_limit_per_account_has_no_retry_after(http):
    with ZoomSandbox(redirect_uris=(REDIRECT_URI,), qps_limit=3) as zoom:
        zoom.add_user('elsewhere', 'someone@elsewhere.example', account_id='acct-elsewhere')
        dana, eli, elsewhere = (connect(http, zoom, user) for user in ('zoom-dana', 'zoom-eli', 'elsewhere'))
        statuses = [api(http, zoom, token, 'GET', '/users/me').status_code for token in (dana, eli, dana)]
        assert statuses == [200, 200, 200]
        limited = api(http, zoom, eli, 'POST', '/users/me/meetings', json=meeting_body())
        assert limited.status_code == 429 and limited.json() == {'code': 429, 'message': QPS_MESSAGE}
        assert limited.headers['X-RateLimit-Type'] == 'QPS' and 'Retry-After' not in limited.headers
        assert api(http, zoom, elsewhere, 'GET', '/users/me').status_code == 200  # another account
        zoom.advance(1.01)
        assert api(http, zoom, dana, 'GET', '/users/me').status_code == 200
