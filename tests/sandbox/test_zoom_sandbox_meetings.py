"""Meetings: create/get/update/delete, validation (code 300), start_url freshness, the join and start pages."""

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from zoom_sandbox_support import REDIRECT_URI, api, bearer, connect, meeting_body

from infra.sandboxes.zoom import ZoomSandbox


@pytest.fixture(scope='module')
def zoom_options():
    return {'daily_limit': None}  # this module creates well over 100 meetings for one host


@pytest.fixture
def dana(http, zoom):
    return connect(http, zoom, 'zoom-dana')  # per test: some tests move the clock past the token's hour


@pytest.fixture
def meeting(http, zoom, dana):
    response = api(http, zoom, dana, 'POST', '/users/me/meetings', json=meeting_body())
    assert response.status_code == 201, response.text
    return response.json()


def errors_of(response):
    assert response.status_code == 400, response.text
    body = response.json()
    assert body['code'] == 300 and body['message'] == 'Validation Failed.'
    return {error['field'] for error in body['errors']}


def test_create_answers_201_with_zooms_meeting_fields(http, zoom, dana):
    response = api(http, zoom, dana, 'POST', '/users/me/meetings', json=meeting_body(
        password='a@b_c*d-9', agenda='Bring the forms', settings={'join_before_host': True, 'waiting_room': True}))
    assert response.status_code == 201
    meeting = response.json()
    assert isinstance(meeting['id'], int) and 9 <= len(str(meeting['id'])) <= 11
    assert meeting['uuid'] and meeting['host_id'] == 'zoom-dana' and meeting['host_email'] == 'dana@zoom.example'
    assert (meeting['topic'], meeting['type'], meeting['status']) == ('Consultation', 2, 'waiting')
    assert (meeting['start_time'], meeting['duration'], meeting['timezone']) == ('2030-03-04T09:30:00Z', 30,
                                                                                   'Europe/Berlin')
    assert meeting['agenda'] == 'Bring the forms' and meeting['password'] == 'a@b_c*d-9'
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ', meeting['created_at'])
    assert meeting['settings']['approval_type'] == 2
    assert meeting['settings']['join_before_host'] is True and meeting['settings']['waiting_room'] is True
    assert re.fullmatch(re.escape(f'{zoom.url}/j/{meeting["id"]}?pwd=') + r'[\w-]+', meeting['join_url'])
    assert re.fullmatch(re.escape(f'{zoom.url}/s/{meeting["id"]}?zak=') + r'[\w-]+', meeting['start_url'])
    assert zoom.meetings[meeting['id']]['topic'] == 'Consultation'


def test_defaults_and_meeting_types(http, zoom, dana):
    instant = api(http, zoom, dana, 'POST', '/users/me/meetings', json={'type': 1}).json()
    assert instant['type'] == 1 and instant['start_time'].endswith('Z') and instant['duration'] == 60
    assert instant['password'] and instant['topic']
    recurring = api(http, zoom, dana, 'POST', '/users/me/meetings', json={'type': 3, 'topic': 'Open hours'}).json()
    assert 'start_time' not in recurring


def test_a_local_start_time_is_read_in_its_timezone_and_answered_in_utc(http, zoom, dana):
    body = meeting_body(start_time='2030-07-01T10:00:00', timezone='America/Los_Angeles')
    meeting = api(http, zoom, dana, 'POST', '/users/me/meetings', json=body).json()
    assert meeting['start_time'] == '2030-07-01T17:00:00Z' and meeting['timezone'] == 'America/Los_Angeles'


@pytest.mark.parametrize('overrides, field', [
    ({'start_time': '2030-03-04T09:30:00', 'timezone': None}, 'start_time'),
    ({'password': 'abcdefghijk'}, 'password'),
    ({'password': 'pass word'}, 'password'),
    ({'password': ''}, 'password'),
    ({'topic': 'x' * 201}, 'topic'),
    ({'agenda': 'x' * 2001}, 'agenda'),
    ({'duration': 0}, 'duration'),
    ({'duration': '30'}, 'duration'),
    ({'duration': 30.5}, 'duration'),
    ({'duration': True}, 'duration'),
    ({'type': 5}, 'type'),
    ({'type': '2'}, 'type'),
    ({'start_time': None}, 'start_time'),
    ({'start_time': '2030-03-04 09:30:00Z'}, 'start_time'),
    ({'start_time': '2030-03-04T09:30:00.000Z'}, 'start_time'),
    ({'start_time': '2030-02-30T09:30:00Z'}, 'start_time'),
    ({'start_time': '2030-03-04T09:30:00+01:00'}, 'start_time'),
    ({'start_time': 1893750000}, 'start_time'),
    ({'timezone': 'Mars/Olympus_Mons'}, 'timezone'),
    ({'timezone': 'PST'}, 'timezone'),
    ({'settings': {'approval_type': 3}}, 'settings.approval_type'),
    ({'settings': {'join_before_host': 'yes'}}, 'settings.join_before_host'),
    ({'settings': {'waiting_room': 1}}, 'settings.waiting_room'),
    ({'settings': []}, 'settings'),
    ({'topic': 42}, 'topic'),
])
def test_create_validation_failures_are_400_code_300(http, zoom, dana, overrides, field):
    body = {k: v for k, v in meeting_body(**overrides).items() if v is not None}
    assert field in errors_of(api(http, zoom, dana, 'POST', '/users/me/meetings', json=body))


def test_a_validation_failure_lists_every_field(http, zoom, dana):
    response = api(http, zoom, dana, 'POST', '/users/me/meetings',
                   json={'start_time': '2030-03-04T09:30:00', 'password': 'x' * 11, 'duration': -5})
    assert errors_of(response) == {'start_time', 'password', 'duration'}


def test_crud_status_codes_and_empty_204_bodies(http, zoom, dana, meeting):
    path = f'/meetings/{meeting["id"]}'
    got = api(http, zoom, dana, 'GET', path)
    assert got.status_code == 200 and got.json()['id'] == meeting['id']
    patched = api(http, zoom, dana, 'PATCH', path, json={'topic': 'Renamed', 'start_time': '2030-03-05T08:00:00Z',
                                                          'settings': {'waiting_room': True}})
    assert patched.status_code == 204 and patched.content == b''
    after = api(http, zoom, dana, 'GET', path).json()
    assert (after['topic'], after['start_time'], after['duration']) == ('Renamed', '2030-03-05T08:00:00Z', 30)
    assert after['settings']['waiting_room'] is True and after['settings']['approval_type'] == 2
    deleted = api(http, zoom, dana, 'DELETE', path)
    assert deleted.status_code == 204 and deleted.content == b''
    not_found = {'code': 3001, 'message': f'Meeting {meeting["id"]} is not found or has expired.'}
    for method in ('DELETE', 'GET', 'PATCH'):
        response = api(http, zoom, dana, method, path, **({'json': {'topic': 'x'}} if method == 'PATCH' else {}))
        assert response.status_code == 404 and response.json() == not_found
    assert meeting['id'] not in zoom.meetings


def test_patch_validates_what_it_is_given(http, zoom, dana, meeting):
    path = f'/meetings/{meeting["id"]}'
    assert errors_of(api(http, zoom, dana, 'PATCH', path, json={'password': 'x' * 11})) == {'password'}
    assert errors_of(api(http, zoom, dana, 'PATCH', path, json={'start_time': '2030-03-05T08:00:00'})) == {'start_time'}
    assert api(http, zoom, dana, 'PATCH', path, json={}).status_code == 204
    local = api(http, zoom, dana, 'PATCH', path,
                json={'start_time': '2030-01-10T09:00:00', 'timezone': 'Europe/Berlin'})
    assert local.status_code == 204
    assert api(http, zoom, dana, 'GET', path).json()['start_time'] == '2030-01-10T08:00:00Z'


def test_meeting_ids_that_are_not_numbers_are_not_found(http, zoom, dana):
    response = api(http, zoom, dana, 'GET', '/meetings/abc')
    assert response.status_code == 404 and response.json()['code'] == 3001


def zak_of(url):
    return parse_qs(urlsplit(url).query)['zak'][0]


def test_every_get_issues_a_fresh_start_url_valid_for_two_hours(http, zoom, dana, meeting):
    path = f'/meetings/{meeting["id"]}'
    first = api(http, zoom, dana, 'GET', path).json()['start_url']
    second = api(http, zoom, dana, 'GET', path).json()['start_url']
    assert len({meeting['start_url'], first, second}) == 3
    started = http.get(second)
    assert started.status_code == 200 and f'started meeting {meeting["id"]} as host' in started.text
    zoom.advance(2 * 3600 - 5)
    assert http.get(first).status_code == 200
    zoom.advance(10)
    for url in (meeting['start_url'], first, second):
        expired = http.get(url)
        assert expired.status_code == 403 and 'start link expired' in expired.text
    renewed = connect(http, zoom, 'zoom-dana')
    assert http.get(api(http, zoom, renewed, 'GET', path).json()['start_url']).status_code == 200


def test_start_page_refuses_other_zaks_and_unknown_meetings(http, zoom, dana, meeting):
    other = api(http, zoom, dana, 'POST', '/users/me/meetings', json=meeting_body()).json()
    assert http.get(f'{zoom.url}/s/{meeting["id"]}?zak={zak_of(other["start_url"])}').status_code == 403
    assert http.get(f'{zoom.url}/s/{meeting["id"]}?zak=made-up').status_code == 403
    assert http.get(f'{zoom.url}/s/{meeting["id"]}').status_code == 403
    assert http.get(f'{zoom.url}/s/99999999999?zak=x').status_code == 404


def test_join_page(http, zoom, dana, meeting):
    joined = http.get(meeting['join_url'])
    assert joined.status_code == 200 and f'joined meeting {meeting["id"]} as guest' in joined.text
    assert http.get(f'{zoom.url}/j/{meeting["id"]}?pwd=wrong').status_code == 403
    assert http.get(f'{zoom.url}/j/{meeting["id"]}').status_code == 403
    assert http.get(f'{zoom.url}/j/12345678901?pwd=x').status_code == 404


def test_changing_the_password_retires_the_old_join_url(http, zoom, dana, meeting):
    changed = api(http, zoom, dana, 'PATCH', f'/meetings/{meeting["id"]}', json={'password': 'new-pass'})
    assert changed.status_code == 204
    fresh = api(http, zoom, dana, 'GET', f'/meetings/{meeting["id"]}').json()
    assert fresh['password'] == 'new-pass' and fresh['join_url'] != meeting['join_url']
    assert http.get(meeting['join_url']).status_code == 403
    assert http.get(fresh['join_url']).status_code == 200


def test_a_deleted_meeting_has_no_pages(http, zoom, dana, meeting):
    assert api(http, zoom, dana, 'DELETE', f'/meetings/{meeting["id"]}').status_code == 204
    assert http.get(meeting['join_url']).status_code == 404
    assert http.get(meeting['start_url']).status_code == 404


@pytest.mark.parametrize('method, path, content, content_type', [
    ('POST', '/users/me/meetings', b'{"topic": "x",', 'application/json'),
    ('POST', '/users/me/meetings', b'[1, 2]', 'application/json'),
    ('POST', '/users/me/meetings', b'"text"', 'application/json'),
    ('POST', '/users/me/meetings', b'\xff\xfe{}', 'application/json'),
    ('POST', '/users/me/meetings', b'{"duration": NaN}', 'application/json'),
    ('POST', '/users/me/meetings', b'', 'application/json'),
    ('POST', '/users/me/meetings', b'topic=x', 'application/x-www-form-urlencoded'),
    ('POST', '/users/me/meetings', b'[' * 100000, 'application/json'),
    ('PATCH', '/meetings/{id}', b'not json', 'application/json'),
    ('PATCH', '/meetings/{id}', b'null', 'application/json'),
    ('POST', '/meetings/{id}/registrants', b'{', 'application/json'),
    ('PUT', '/meetings/{id}/registrants/status', b'{"action": 1, "registrants": "x"}', 'application/json'),
    ('PUT', '/meetings/{id}/registrants/status', b'{"action": "cancel", "registrants": [1, null, {"id": 3}]}',
     'application/json'),
    ('GET', '/users?page_size=-1', b'', ''),
    ('GET', '/meetings/%ff%fe', b'', ''),
    ('GET', '/meetings/' + '9' * 400, b'', ''),
    ('DELETE', '/meetings/{id}?cancel_meeting_reminder=maybe', b'', ''),
])
def test_malformed_requests_get_a_clean_zoom_error(http, zoom, dana, method, path, content, content_type):
    meeting = api(http, zoom, dana, 'POST', '/users/me/meetings',
                  json=meeting_body(settings={'approval_type': 0})).json()
    headers = {**bearer(dana), **({'Content-Type': content_type} if content_type else {})}
    response = http.request(method, zoom.api_base + path.replace('{id}', str(meeting['id'])), content=content,
                            headers=headers)
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert isinstance(body['code'], int) and isinstance(body['message'], str)


def test_unknown_routes_and_methods(http, zoom, dana):
    missing = api(http, zoom, dana, 'GET', '/webinars/1')
    assert missing.status_code == 404 and isinstance(missing.json()['code'], int)
    wrong_method = api(http, zoom, dana, 'PUT', '/users/me/meetings', json={})
    assert wrong_method.status_code == 405 and isinstance(wrong_method.json()['code'], int)


def test_localized_messages_keep_the_codes(http):
    with ZoomSandbox(redirect_uris=(REDIRECT_URI,), localized_messages=True) as zoom:
        dana = connect(http, zoom, 'zoom-dana')
        missing = api(http, zoom, dana, 'GET', '/meetings/12345678901')
        assert missing.status_code == 404 and missing.json()['code'] == 3001
        assert 'not found' not in missing.json()['message']
        invalid = api(http, zoom, 'nope', 'GET', '/users/me').json()
        zoom.expire_access_tokens()
        expired = api(http, zoom, dana, 'GET', '/users/me').json()
        assert invalid['code'] == expired['code'] == 124 and invalid['message'] != expired['message']
        assert 'expired' not in expired['message']
        failed = api(http, zoom, connect(http, zoom, 'zoom-dana'), 'POST', '/users/me/meetings', json={'duration': 0})
        assert failed.json()['code'] == 300 and failed.json()['errors'][0]['field'] == 'start_time'
