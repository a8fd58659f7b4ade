"""Registrants: registration must be on, one join_url per registrant, manual approval, cancel, the join page."""

from urllib.parse import parse_qs, urlsplit

import pytest
from zoom_sandbox_support import api, connect, meeting_body


@pytest.fixture(scope='module')
def dana(http, zoom):
    return connect(http, zoom, 'zoom-dana')


def create(http, zoom, dana, approval_type):
    response = api(http, zoom, dana, 'POST', '/users/me/meetings',
                   json=meeting_body(settings={'approval_type': approval_type}))
    assert response.status_code == 201
    return response.json()


def register(http, zoom, dana, meeting, email, first_name='Pat', **extra):
    return api(http, zoom, dana, 'POST', f'/meetings/{meeting["id"]}/registrants',
               json={'email': email, 'first_name': first_name, **extra})


def set_status(http, zoom, dana, meeting, action, *registrant_ids):
    return api(http, zoom, dana, 'PUT', f'/meetings/{meeting["id"]}/registrants/status',
               json={'action': action, 'registrants': [{'id': rid} for rid in registrant_ids]})


def test_each_registrant_gets_their_own_join_url(http, zoom, dana):
    meeting = create(http, zoom, dana, 0)
    first = register(http, zoom, dana, meeting, 'pat@example.com', last_name='Lee')
    assert first.status_code == 201
    pat = first.json()
    assert pat['id'] == meeting['id'] and pat['registrant_id'] and pat['topic'] == meeting['topic']
    assert pat['start_time'] == meeting['start_time']
    assert urlsplit(pat['join_url']).path == f'/j/{meeting["id"]}' and 'tk' in parse_qs(urlsplit(pat['join_url']).query)
    sam = register(http, zoom, dana, meeting, 'sam@example.com', first_name='Sam').json()
    assert sam['join_url'] != pat['join_url'] and sam['registrant_id'] != pat['registrant_id']
    again = register(http, zoom, dana, meeting, 'PAT@example.com').json()
    assert (again['registrant_id'], again['join_url']) == (pat['registrant_id'], pat['join_url'])
    page = http.get(pat['join_url'])
    assert page.status_code == 200 and f'joined meeting {meeting["id"]} as Pat Lee' in page.text
    listed = api(http, zoom, dana, 'GET', f'/meetings/{meeting["id"]}/registrants').json()
    assert listed['total_records'] == 2
    assert {r['email']: r['join_url'] for r in listed['registrants']} == {
        'pat@example.com': pat['join_url'], 'sam@example.com': sam['join_url']}


def test_the_meetings_own_join_url_does_not_bypass_registration(http, zoom, dana):
    meeting = create(http, zoom, dana, 0)
    assert http.get(meeting['join_url']).status_code == 403


def test_cancel_stops_that_registrants_join_url_only(http, zoom, dana):
    meeting = create(http, zoom, dana, 0)
    pat = register(http, zoom, dana, meeting, 'pat@example.com').json()
    sam = register(http, zoom, dana, meeting, 'sam@example.com').json()
    cancelled = set_status(http, zoom, dana, meeting, 'cancel', pat['registrant_id'])
    assert cancelled.status_code == 204 and cancelled.content == b''
    assert http.get(pat['join_url']).status_code == 403
    assert http.get(sam['join_url']).status_code == 200
    listed = api(http, zoom, dana, 'GET', f'/meetings/{meeting["id"]}/registrants').json()
    assert [r['email'] for r in listed['registrants']] == ['sam@example.com']
    assert [r['status'] for r in zoom.registrants(meeting['id'])] == ['cancelled', 'approved']


def test_manual_approval_returns_no_join_url_until_approved(http, zoom, dana):
    meeting = create(http, zoom, dana, 1)
    response = register(http, zoom, dana, meeting, 'pat@example.com')
    assert response.status_code == 201 and 'join_url' not in response.json()
    registrant_id = response.json()['registrant_id']
    pending = api(http, zoom, dana, 'GET', f'/meetings/{meeting["id"]}/registrants', params={'status': 'pending'})
    assert [r['id'] for r in pending.json()['registrants']] == [registrant_id]
    assert 'join_url' not in pending.json()['registrants'][0]
    link = zoom.registrants(meeting['id'])[0]['join_url']
    assert http.get(link).status_code == 403
    assert set_status(http, zoom, dana, meeting, 'approve', registrant_id).status_code == 204
    assert http.get(link).status_code == 200
    assert set_status(http, zoom, dana, meeting, 'deny', registrant_id).status_code == 204
    assert http.get(link).status_code == 403


@pytest.mark.parametrize('settings', [{}, {'approval_type': 2}])
def test_registration_off_is_3000(http, zoom, dana, settings):
    meeting = api(http, zoom, dana, 'POST', '/users/me/meetings', json=meeting_body(settings=settings)).json()
    response = register(http, zoom, dana, meeting, 'pat@example.com')
    assert response.status_code == 400
    assert response.json() == {'code': 3000,
                               'message': f'Registration has not been enabled for this meeting: {meeting["id"]}.'}


def test_turning_registration_on_with_patch(http, zoom, dana):
    meeting = create(http, zoom, dana, 2)
    api(http, zoom, dana, 'PATCH', f'/meetings/{meeting["id"]}', json={'settings': {'approval_type': 0}})
    assert register(http, zoom, dana, meeting, 'pat@example.com').status_code == 201


@pytest.mark.parametrize('body, field', [
    ({'first_name': 'Pat'}, 'email'), ({'email': 'not-an-email', 'first_name': 'Pat'}, 'email'),
    ({'email': 'pat@example.com'}, 'first_name'), ({'email': 'pat@example.com', 'first_name': ''}, 'first_name'),
    ({'email': 'pat@example.com', 'first_name': 'Pat', 'last_name': 7}, 'last_name'),
])
def test_registrant_validation(http, zoom, dana, body, field):
    meeting = create(http, zoom, dana, 0)
    response = api(http, zoom, dana, 'POST', f'/meetings/{meeting["id"]}/registrants', json=body)
    assert response.status_code == 400 and response.json()['code'] == 300
    assert field in {e['field'] for e in response.json()['errors']}


def test_status_update_validation(http, zoom, dana):
    meeting = create(http, zoom, dana, 0)
    pat = register(http, zoom, dana, meeting, 'pat@example.com').json()
    assert set_status(http, zoom, dana, meeting, 'delete', pat['registrant_id']).json()['code'] == 300
    assert set_status(http, zoom, dana, meeting, 'cancel', 'made-up').json()['code'] == 300
    assert set_status(http, zoom, dana, meeting, 'cancel').json()['code'] == 300
    assert http.get(pat['join_url']).status_code == 200  # nothing changed
    missing = api(http, zoom, dana, 'GET', '/meetings/12345678901/registrants')
    assert missing.status_code == 404 and missing.json()['code'] == 3001
    bad_status = api(http, zoom, dana, 'GET', f'/meetings/{meeting["id"]}/registrants', params={'status': 'all'})
    assert bad_status.status_code == 400
