"""Users: /users/me, the admin-only paged user list, and acting for another user (shared access)."""

import pytest
from zoom_sandbox_support import api, connect, meeting_body

FORBIDDEN_LIST = {'code': 4711,
                  'message': 'Invalid access token, does not contain scopes:[user:read:list_users:admin].'}
NO_PERMISSION = {'code': 200, 'message': 'No permission.'}


@pytest.fixture(scope='module', autouse=True)
def more_users(zoom):
    zoom.add_user('zoom-ada', 'ada@zoom.example', 'Ada', 'Admin', role='admin', timezone='Europe/Berlin')
    zoom.add_user('other-owner', 'owner@other.example', 'Otto', 'Other', role='owner', account_id='acct-other')


@pytest.fixture(scope='module')
def owner(http, zoom):
    return connect(http, zoom, 'zoom-owner')


@pytest.fixture(scope='module')
def dana(http, zoom):
    return connect(http, zoom, 'zoom-dana')


def test_me(http, zoom, dana):
    response = api(http, zoom, dana, 'GET', '/users/me')
    assert response.status_code == 200
    me = response.json()
    assert {k: me[k] for k in ('id', 'account_id', 'email', 'first_name', 'last_name', 'type', 'role_name',
                               'timezone', 'status')} == {
        'id': 'zoom-dana', 'account_id': 'acct-demo', 'email': 'dana@zoom.example', 'first_name': 'Dana',
        'last_name': 'Reyes', 'type': 2, 'role_name': 'Member', 'timezone': 'UTC', 'status': 'active'}
    assert api(http, zoom, connect(http, zoom, 'zoom-ada'), 'GET', '/users/me').json()['role_name'] == 'Admin'


def test_add_user_checks_its_input(zoom):
    with pytest.raises(ValueError):
        zoom.add_user('zoom-dana', 'new@zoom.example')
    with pytest.raises(ValueError):
        zoom.add_user('someone', 'DANA@zoom.example')
    with pytest.raises(ValueError):
        zoom.add_user('someone', 'someone@zoom.example', role='boss')
    with pytest.raises(ValueError):
        zoom.add_user('someone', 'someone@zoom.example', timezone='Mars/Base')


def test_users_are_listed_in_pages_with_next_page_token(http, zoom, owner):
    first = api(http, zoom, owner, 'GET', '/users', params={'status': 'active', 'page_size': 2})
    assert first.status_code == 200
    page = first.json()
    assert page['page_size'] == 2 and page['total_records'] == 4 and len(page['users']) == 2
    assert page['next_page_token']
    second = api(http, zoom, owner, 'GET', '/users',
                 params={'page_size': 2, 'next_page_token': page['next_page_token']})
    last = second.json()
    assert len(last['users']) == 2 and last['next_page_token'] == ''
    ids = [u['id'] for u in page['users'] + last['users']]
    assert sorted(ids) == ['zoom-ada', 'zoom-dana', 'zoom-eli', 'zoom-owner']  # not another account's users
    assert {'id', 'email', 'first_name', 'last_name', 'type', 'timezone'} <= set(page['users'][0])


def test_page_size_defaults_to_30_and_is_clamped_to_300(http, zoom, owner):
    assert api(http, zoom, owner, 'GET', '/users').json()['page_size'] == 30
    clamped = api(http, zoom, owner, 'GET', '/users', params={'page_size': 1000}).json()
    assert clamped['page_size'] == 300 and clamped['next_page_token'] == '' and len(clamped['users']) == 4


@pytest.mark.parametrize('params', [{'next_page_token': 'made-up'}, {'page_size': 'ten'}, {'page_size': '0'},
                                    {'status': 'sleeping'}])
def test_bad_paging_parameters_are_code_300(http, zoom, owner, params):
    response = api(http, zoom, owner, 'GET', '/users', params=params)
    assert response.status_code == 400 and response.json()['code'] == 300


def test_next_page_token_of_another_account_is_invalid(http, zoom, owner):
    token = api(http, zoom, owner, 'GET', '/users', params={'page_size': 1}).json()['next_page_token']
    other = connect(http, zoom, 'other-owner')
    response = api(http, zoom, other, 'GET', '/users', params={'next_page_token': token})
    assert response.status_code == 400 and response.json() == {'code': 300, 'message': 'Invalid next_page_token.'}


def test_listing_users_needs_an_admin_role_and_shared_access(http, zoom, dana):
    member = api(http, zoom, dana, 'GET', '/users')
    assert member.status_code == 403 and member.json() == FORBIDDEN_LIST
    owner_without_sharing = connect(http, zoom, 'zoom-owner', shared_access=False)
    assert api(http, zoom, owner_without_sharing, 'GET', '/users').json() == FORBIDDEN_LIST
    assert api(http, zoom, connect(http, zoom, 'zoom-ada'), 'GET', '/users').status_code == 200


def test_a_member_cannot_act_for_another_user(http, zoom, dana):
    for reference in ('zoom-eli', 'eli@zoom.example'):
        response = api(http, zoom, dana, 'POST', f'/users/{reference}/meetings', json=meeting_body())
        assert response.status_code == 403 and response.json() == NO_PERMISSION
    assert api(http, zoom, dana, 'POST', '/users/me/meetings', json=meeting_body()).status_code == 201
    assert api(http, zoom, dana, 'POST', '/users/zoom-dana/meetings', json=meeting_body()).status_code == 201
    assert api(http, zoom, dana, 'POST', '/users/dana@zoom.example/meetings', json=meeting_body()).status_code == 201


def test_an_owner_acts_for_others_only_with_shared_access(http, zoom, owner):
    without = connect(http, zoom, 'zoom-owner', shared_access=False)
    denied = api(http, zoom, without, 'POST', '/users/zoom-dana/meetings', json=meeting_body())
    assert denied.status_code == 403 and denied.json() == NO_PERMISSION
    for reference in ('zoom-dana', 'dana@zoom.example', 'DANA@zoom.example'):
        created = api(http, zoom, owner, 'POST', f'/users/{reference}/meetings', json=meeting_body())
        assert created.status_code == 201
        assert created.json()['host_id'] == 'zoom-dana' and created.json()['host_email'] == 'dana@zoom.example'


def test_schedule_for_follows_the_same_rules(http, zoom, owner, dana):
    created = api(http, zoom, owner, 'POST', '/users/me/meetings', json=meeting_body(schedule_for='eli@zoom.example'))
    assert created.status_code == 201 and created.json()['host_id'] == 'zoom-eli'
    refused = api(http, zoom, dana, 'POST', '/users/me/meetings', json=meeting_body(schedule_for='zoom-eli'))
    assert refused.status_code == 403 and refused.json() == NO_PERMISSION


def test_unknown_user_is_1001_and_another_accounts_user_is_1010(http, zoom, owner):
    unknown = api(http, zoom, owner, 'POST', '/users/ghost@zoom.example/meetings', json=meeting_body())
    assert unknown.status_code == 404 and unknown.json() == {'code': 1001,
                                                             'message': 'User does not exist: ghost@zoom.example.'}
    foreign = api(http, zoom, owner, 'POST', '/users/other-owner/meetings', json=meeting_body())
    assert foreign.status_code == 404 and foreign.json()['code'] == 1010


def test_meetings_of_others_need_the_same_permission(http, zoom, owner, dana):
    meeting = api(http, zoom, dana, 'POST', '/users/me/meetings', json=meeting_body()).json()
    eli = connect(http, zoom, 'zoom-eli')
    for method in ('GET', 'DELETE'):
        response = api(http, zoom, eli, method, f'/meetings/{meeting["id"]}')
        assert response.status_code == 403 and response.json() == NO_PERMISSION
    assert api(http, zoom, eli, 'PATCH', f'/meetings/{meeting["id"]}', json={'topic': 'x'}).status_code == 403
    foreign = api(http, zoom, connect(http, zoom, 'other-owner'), 'GET', f'/meetings/{meeting["id"]}')
    assert foreign.status_code == 404 and foreign.json()['code'] == 3001
    assert api(http, zoom, owner, 'GET', f'/meetings/{meeting["id"]}').status_code == 200
