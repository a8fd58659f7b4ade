"""Microsoft Graph: /me and /me/onlineMeetings with MSAL's tokens: status codes and bodies, the PATCH
rules, who may create meetings, token problems, and the join link."""

import pytest
from test_microsoft_support import (DANA, MSA_TENANT, OWNER, PERSONAL, UNLICENSED, connect, graph, meeting_body, ms,
                                    msal_app, start_flow)

__all__ = ['ms']


@pytest.fixture(autouse=True)
def clean(ms):
    ms.clear_faults()
    ms.reset_calls()
    ms.allow_personal_accounts_on_organizations = False


@pytest.fixture
def owner(ms):
    return connect(ms, OWNER)[1]


@pytest.fixture
def dana(ms):
    return connect(ms, DANA)[1]


def create(http, ms, token, **overrides):
    response = graph(http, ms, token, 'POST', '/me/onlineMeetings', json=meeting_body(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def assert_graph_error(response, status, code, text=''):
    assert response.status_code == status, response.text
    error = response.json()['error']
    assert error['code'] == code and text in error['message'], error
    assert {'date', 'request-id', 'client-request-id'} <= set(error['innerError'])
    return error


def test_me(http, ms, owner):
    response = graph(http, ms, owner, 'GET', '/me')
    assert response.status_code == 200 and response.headers['content-type'].startswith('application/json')
    body = response.json()
    assert (body['id'], body['displayName'], body['mail'], body['userPrincipalName']) == (
        OWNER, 'Olive Owner', 'owner@contoso.example', 'owner@contoso.example')


def test_create_answers_201_with_the_meeting(http, ms, owner):
    response = graph(http, ms, owner, 'POST', '/me/onlineMeetings', json=meeting_body(
        lobbyBypassSettings={'scope': 'everyone', 'isDialInBypassEnabled': True}, allowedPresenters='organizer'))
    assert response.status_code == 201
    meeting = response.json()
    assert meeting['id'].startswith('MS') and meeting['joinWebUrl'] == f'{ms.url}/l/meetup-join/{meeting["id"]}'
    assert meeting['startDateTime'] == '2030-03-04T08:30:00Z' and meeting['endDateTime'] == '2030-03-04T09:00:00Z'
    assert meeting['subject'] == 'Consultation' and meeting['creationDateTime'].endswith('Z')
    assert meeting['participants']['organizer']['identity']['user']['id'] == OWNER
    assert meeting['participants']['attendees'] == []
    assert meeting['lobbyBypassSettings'] == {'scope': 'everyone', 'isDialInBypassEnabled': True}
    assert meeting['allowedPresenters'] == 'organizer'
    settings = meeting['joinMeetingIdSettings']
    assert settings['isPasscodeRequired'] is True and settings['joinMeetingId'].isdigit() and settings['passcode']
    assert meeting['chatInfo']['threadId'].startswith('19:meeting_')
    stored = ms.meetings[meeting['id']]
    assert stored['startDateTime'] == meeting['startDateTime'] and '@odata.context' not in stored
    assert ms.calls()[-1] == {'method': 'POST', 'path': '/v1.0/me/onlineMeetings', 'operation': 'create_meeting',
                              'status': 201}


def test_get_patch_delete(http, ms, owner):
    meeting = create(http, ms, owner)
    path = f'/me/onlineMeetings/{meeting["id"]}'
    got = graph(http, ms, owner, 'GET', path)
    assert got.status_code == 200 and got.json()['id'] == meeting['id']

    patched = graph(http, ms, owner, 'PATCH', path, json={
        'subject': 'Moved', 'startDateTime': '2030-03-05T10:00:00Z', 'endDateTime': '2030-03-05T11:15:00Z'})
    assert patched.status_code == 200  # with the updated object, unlike Zoom's 204
    body = patched.json()
    assert (body['subject'], body['startDateTime'], body['endDateTime']) == (
        'Moved', '2030-03-05T10:00:00Z', '2030-03-05T11:15:00Z')
    assert body['joinWebUrl'] == meeting['joinWebUrl'] and body['creationDateTime'] == meeting['creationDateTime']
    assert ms.meetings[meeting['id']]['subject'] == 'Moved'

    deleted = graph(http, ms, owner, 'DELETE', path)
    assert deleted.status_code == 204 and deleted.content == b''
    assert meeting['id'] not in ms.meetings
    for method in ('GET', 'PATCH', 'DELETE'):
        kwargs = {'json': {'subject': 'x'}} if method == 'PATCH' else {}
        assert_graph_error(graph(http, ms, owner, method, path, **kwargs), 404, 'NotFound')


def test_a_time_change_needs_both_ends(http, ms, owner):
    meeting = create(http, ms, owner)
    path = f'/me/onlineMeetings/{meeting["id"]}'
    for one in ({'startDateTime': '2030-03-05T10:00:00Z'}, {'endDateTime': '2030-03-05T10:00:00Z'}):
        assert_graph_error(graph(http, ms, owner, 'PATCH', path, json=one), 400, 'BadRequest', 'both')
    assert ms.meetings[meeting['id']]['startDateTime'] == meeting['startDateTime']
    assert graph(http, ms, owner, 'PATCH', path, json={'subject': 'Only the subject'}).status_code == 200


def test_the_organizer_cannot_change(http, ms, owner):
    meeting = create(http, ms, owner)
    other = {'participants': {'organizer': {'identity': {'user': {'id': DANA}}}}}
    assert_graph_error(graph(http, ms, owner, 'PATCH', f'/me/onlineMeetings/{meeting["id"]}', json=other),
                       400, 'BadRequest', 'organizer')
    same = {'participants': {'organizer': {'identity': {'user': {'id': OWNER}}}, 'attendees': [
        {'upn': 'pat@example.com', 'role': 'attendee'}]}}
    patched = graph(http, ms, owner, 'PATCH', f'/me/onlineMeetings/{meeting["id"]}', json=same).json()
    assert [a['upn'] for a in patched['participants']['attendees']] == ['pat@example.com']
    assert_graph_error(graph(http, ms, owner, 'POST', '/me/onlineMeetings', json=meeting_body(**other)),
                       400, 'BadRequest', 'organizer')


def test_another_users_meeting_is_not_found(http, ms, owner, dana):
    meeting = create(http, ms, owner)
    for method in ('GET', 'DELETE'):
        assert_graph_error(graph(http, ms, dana, method, f'/me/onlineMeetings/{meeting["id"]}'), 404, 'NotFound')
    assert meeting['id'] in ms.meetings


@pytest.mark.parametrize('body, text', [
    (meeting_body(startDateTime=None), 'required'),
    (meeting_body(endDateTime=None), 'required'),
    ({'subject': 'No times'}, 'required'),
    (meeting_body(startDateTime='2030-03-04 09:30'), 'Edm.DateTimeOffset'),
    (meeting_body(startDateTime='2030-03-04T09:30:00'), 'Edm.DateTimeOffset'),  # no offset
    (meeting_body(startDateTime='2030-02-30T09:30:00Z'), 'Edm.DateTimeOffset'),
    (meeting_body(startDateTime=1893456000), 'Edm.DateTimeOffset'),
    (meeting_body(endDateTime='2030-03-04T09:00:00+01:00'), 'later'),
    (meeting_body(endDateTime='2030-03-04T09:30:00+01:00'), 'later'),
    (meeting_body(lobbyBypassSettings={'scope': 'anyone'}), 'lobbyBypassScope'),
    (meeting_body(lobbyBypassSettings='everyone'), 'lobbyBypassSettings'),
    (meeting_body(lobbyBypassSettings={'scope': 'everyone', 'isDialInBypassEnabled': 'yes'}), 'Edm.Boolean'),
    (meeting_body(allowedPresenters='nobody'), 'onlineMeetingPresenters'),
    (meeting_body(subject=5), 'Edm.String'),
    (meeting_body(subject='x' * 256), 'longer'),
    (meeting_body(topic='Zoom habit'), "The property 'topic' does not exist"),
    (meeting_body(joinMeetingIdSettings={'passcode': '1234'}), 'passcode'),
    (meeting_body(participants={'attendees': 'pat'}), 'attendees'),
    (meeting_body(participants={'attendees': [{'role': 'attendee'}]}), 'identity.user.id or upn'),
    (meeting_body(participants={'attendees': [{'upn': 'a@b.c', 'role': 'boss'}]}), 'onlineMeetingRole'),
    (meeting_body(recordAutomatically='yes'), 'Edm.Boolean'),
    (['not', 'an', 'object'], 'JSON'),
])
def test_invalid_create_bodies_are_400_bad_request(http, ms, owner, body, text):
    body = {k: v for k, v in body.items() if v is not None} if isinstance(body, dict) else body
    before = len(ms.meetings)
    assert_graph_error(graph(http, ms, owner, 'POST', '/me/onlineMeetings', json=body), 400, 'BadRequest', text)
    assert len(ms.meetings) == before


def test_unreadable_bodies_are_clean_errors(http, ms, owner):
    post = lambda **kw: graph(http, ms, owner, 'POST', '/me/onlineMeetings', **kw)  # noqa: E731
    assert_graph_error(post(), 400, 'BadRequest', 'Empty Payload')
    assert_graph_error(post(content=b'{"subject":', headers={'Content-Type': 'application/json'}), 400, 'BadRequest',
                       'Unable to read JSON')
    assert_graph_error(post(content=b'\xff\xfe', headers={'Content-Type': 'application/json'}), 400, 'BadRequest')
    assert_graph_error(post(content=b'{"startDateTime": NaN}', headers={'Content-Type': 'application/json'}),
                       400, 'BadRequest')
    assert_graph_error(post(content=b'subject=x', headers={'Content-Type': 'application/x-www-form-urlencoded'}),
                       415, 'BadRequest', 'Content-Type')


def test_times_come_back_in_utc_with_graphs_seven_fraction_digits(http, ms, owner):
    meeting = create(http, ms, owner, startDateTime='2030-07-01T09:00:00.1234567-07:00',
                     endDateTime='2030-07-01T18:45:00.5+02:00')
    assert meeting['startDateTime'] == '2030-07-01T16:00:00.1234567Z'
    assert meeting['endDateTime'] == '2030-07-01T16:45:00.5000000Z'


def test_late_lobby_scopes_need_the_prefer_header_to_be_read_back(http, ms, owner):
    meeting = create(http, ms, owner, lobbyBypassSettings={'scope': 'organizationExcludingGuests'})
    assert meeting['lobbyBypassSettings']['scope'] == 'unknownFutureValue'
    path = f'/me/onlineMeetings/{meeting["id"]}'
    preferred = graph(http, ms, owner, 'GET', path, headers={'Prefer': 'include-unknown-enum-members'})
    assert preferred.json()['lobbyBypassSettings']['scope'] == 'organizationExcludingGuests'
    assert ms.meetings[meeting['id']]['lobbyBypassSettings']['scope'] == 'organizationExcludingGuests'


def test_the_passcode_can_be_turned_off_but_not_chosen(http, ms, owner):
    meeting = create(http, ms, owner, joinMeetingIdSettings={'isPasscodeRequired': False})
    assert meeting['joinMeetingIdSettings']['passcode'] is None
    patched = graph(http, ms, owner, 'PATCH', f'/me/onlineMeetings/{meeting["id"]}',
                    json={'joinMeetingIdSettings': {'isPasscodeRequired': True}}).json()
    assert patched['joinMeetingIdSettings']['passcode']


def test_an_unlicensed_user_gets_403_with_a_licence_message(http, ms):
    _, token = connect(ms, UNLICENSED)
    assert graph(http, ms, token, 'GET', '/me').status_code == 200  # signing in and /me work without Teams
    assert_graph_error(graph(http, ms, token, 'POST', '/me/onlineMeetings', json=meeting_body()), 403, 'Forbidden',
                       'does not have a valid license')


def test_a_personal_account_cannot_use_online_meetings(http, ms):
    ms.allow_personal_accounts_on_organizations = True
    _, token = connect(ms, PERSONAL)
    assert token['id_token_claims']['tid'] == MSA_TENANT
    me = graph(http, ms, token, 'GET', '/me').json()
    assert me['id'] == PERSONAL and me['mail'] is None
    error = assert_graph_error(graph(http, ms, token, 'POST', '/me/onlineMeetings', json=meeting_body()), 403,
                               'AuthenticationError', 'personal Microsoft accounts')
    assert 'not supported' in error['message']


def test_a_token_without_online_meetings_permission_is_forbidden(http, ms):
    app = msal_app(ms)
    flow = start_flow(app, ['User.Read'])
    token = app.acquire_token_by_auth_code_flow(flow, ms.authorize(DANA, flow['auth_uri']))
    assert graph(http, ms, token, 'GET', '/me').status_code == 200
    assert_graph_error(graph(http, ms, token, 'POST', '/me/onlineMeetings', json=meeting_body()), 403, 'Forbidden',
                       'OnlineMeetings.ReadWrite')
    flow = start_flow(app, ['OnlineMeetings.ReadWrite'])
    meetings_only = app.acquire_token_by_auth_code_flow(flow, ms.authorize(DANA, flow['auth_uri']))
    assert_graph_error(graph(http, ms, meetings_only, 'GET', '/me'), 403, 'Authorization_RequestDenied')


def test_token_problems_are_401_invalid_authentication_token(http, ms, owner):
    missing = http.get(ms.graph_base + '/me')
    assert_graph_error(missing, 401, 'InvalidAuthenticationToken', 'Access token is empty')
    assert missing.headers['www-authenticate'].startswith('Bearer ')
    assert_graph_error(graph(http, ms, 'opaque-garbage', 'GET', '/me'), 401, 'InvalidAuthenticationToken', 'IDX14100')
    tampered = owner['access_token'][:-4] + 'AAAA'
    assert_graph_error(graph(http, ms, tampered, 'GET', '/me'), 401, 'InvalidAuthenticationToken', 'validation')
    id_token = owner['id_token']
    assert_graph_error(graph(http, ms, id_token, 'GET', '/me'), 401, 'InvalidAuthenticationToken', 'audience')
    assert_graph_error(http.get(ms.graph_base + '/me', headers={'Authorization': 'Basic eDp5'}), 401,
                       'InvalidAuthenticationToken')


def test_an_expired_token_is_401_lifetime_validation_failed(http, ms):
    _, token = connect(ms, DANA)
    ms.advance(ms.access_token_ttl)
    error = assert_graph_error(graph(http, ms, token, 'POST', '/me/onlineMeetings', json=meeting_body()), 401,
                               'InvalidAuthenticationToken')
    assert error['message'] == 'Lifetime validation failed, the token is expired.'


def test_the_users_path_works_for_the_signed_in_user_only(http, ms, owner):
    meeting = graph(http, ms, owner, 'POST', f'/users/{OWNER}/onlineMeetings', json=meeting_body())
    assert meeting.status_code == 201
    by_upn = graph(http, ms, owner, 'GET', f'/users/owner@contoso.example/onlineMeetings/{meeting.json()["id"]}')
    assert by_upn.status_code == 200
    assert_graph_error(graph(http, ms, owner, 'POST', f'/users/{DANA}/onlineMeetings', json=meeting_body()), 403,
                       'Forbidden')


def test_unknown_graph_paths_and_methods(http, ms, owner):
    assert_graph_error(graph(http, ms, owner, 'GET', '/me/events'), 400, 'BadRequest', "segment 'events'")
    assert_graph_error(graph(http, ms, owner, 'PUT', '/me/onlineMeetings/x', json={}), 405, 'Request_BadRequest')


def test_the_join_link_opens_until_the_meeting_is_deleted(http, ms, owner):
    meeting = create(http, ms, owner)
    page = http.get(meeting['joinWebUrl'])
    assert page.status_code == 200 and 'Teams sandbox — joined meeting' in page.text
    assert http.get(meeting['joinWebUrl'] + '?context=%7b%22Tid%22%3a%22x%22%7d&anon=true').status_code == 200
    graph(http, ms, owner, 'DELETE', f'/me/onlineMeetings/{meeting["id"]}')
    assert http.get(meeting['joinWebUrl']).status_code == 404
    assert [c['operation'] for c in ms.calls('join_page')] == ['join_page'] * 3
