"""List meetings (GET /users/{userId}/meetings): a host's scheduled meetings, paged by next_page_token,
filtered by type, each agenda cut to 250 characters."""

import pytest
from zoom_sandbox_support import api, connect, meeting_body


@pytest.fixture(scope='module')
def zoom_options():
    return {'daily_limit': None}


@pytest.fixture
def eli(http, zoom):
    return connect(http, zoom, 'zoom-eli')


def make(http, zoom, token, **overrides):
    response = api(http, zoom, token, 'POST', '/users/me/meetings', json=meeting_body(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def test_pages_list_every_meeting_of_the_host_once_soonest_first(http, zoom, eli):
    made = [make(http, zoom, eli, start_time=f'2030-04-{day:02d}T09:00:00Z', agenda=f'ref-{day}')
            for day in range(1, 8)]
    seen, token = [], ''
    while True:
        params = {'type': 'scheduled', 'page_size': 3, **({'next_page_token': token} if token else {})}
        page = api(http, zoom, eli, 'GET', '/users/me/meetings', params=params)
        assert page.status_code == 200, page.text
        body = page.json()
        assert body['total_records'] >= 7 and len(body['meetings']) <= 3
        seen.extend(body['meetings'])
        token = body['next_page_token']
        if not token:
            break
    ours = [m for m in seen if m['id'] in {x['id'] for x in made}]
    assert [m['agenda'] for m in ours] == [f'ref-{day}' for day in range(1, 8)]
    assert len({m['id'] for m in seen}) == len(seen)
    listed = ours[0]
    assert set(listed) >= {'uuid', 'id', 'host_id', 'topic', 'type', 'start_time', 'duration', 'timezone',
                           'agenda', 'created_at', 'join_url'}
    assert 'start_url' not in listed and 'password' not in listed and listed['host_id'] == 'zoom-eli'


def test_only_the_hosts_meetings_and_agenda_cut_to_250(http, zoom, eli):
    dana = connect(http, zoom, 'zoom-dana')
    theirs = make(http, zoom, dana, agenda='dana-only')
    long = make(http, zoom, eli, agenda='x' * 600)
    listed = api(http, zoom, eli, 'GET', '/users/me/meetings', params={'page_size': 300}).json()['meetings']
    assert theirs['id'] not in {m['id'] for m in listed}
    [found] = [m for m in listed if m['id'] == long['id']]
    assert found['agenda'] == 'x' * 250
    assert api(http, zoom, eli, 'GET', f'/meetings/{long["id"]}').json()['agenda'] == 'x' * 600


def test_upcoming_and_previous_split_on_the_sandbox_clock(http, zoom, eli):
    past = make(http, zoom, eli, start_time='2001-01-01T09:00:00Z')
    future = make(http, zoom, eli, start_time='2040-01-01T09:00:00Z')

    def ids(kind):
        return {m['id'] for m in api(http, zoom, eli, 'GET', '/users/me/meetings',
                                     params={'type': kind, 'page_size': 300}).json()['meetings']}
    assert future['id'] in ids('upcoming') and past['id'] not in ids('upcoming')
    assert past['id'] in ids('previous_meetings') and future['id'] not in ids('previous_meetings')
    assert {past['id'], future['id']} <= ids('scheduled')


@pytest.mark.parametrize('params, field', [({'type': 'all'}, 'type'), ({'page_size': 'ten'}, 'page_size'),
                                           ({'page_size': '0'}, 'page_size')])
def test_invalid_queries_answer_code_300(http, zoom, eli, params, field):
    response = api(http, zoom, eli, 'GET', '/users/me/meetings', params=params)
    assert response.status_code == 400 and response.json()['code'] == 300
    assert {e['field'] for e in response.json()['errors']} == {field}


def test_a_foreign_or_stale_page_token_is_refused(http, zoom, eli):
    response = api(http, zoom, eli, 'GET', '/users/me/meetings', params={'next_page_token': 'made-up'})
    assert response.status_code == 400 and response.json() == {'code': 300, 'message': 'Invalid next_page_token.'}


def test_another_users_meetings_need_shared_access(http, zoom, eli):
    response = api(http, zoom, eli, 'GET', '/users/zoom-dana/meetings')
    assert response.status_code == 403 and response.json()['code'] == 200
    owner = connect(http, zoom, 'zoom-owner')
    assert api(http, zoom, owner, 'GET', '/users/zoom-dana/meetings').status_code == 200
