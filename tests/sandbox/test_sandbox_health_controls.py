"""The control endpoints that break an account or a meeting behind meetbridge's back, as the health checks
find them: Zoom's revoke without a webhook, and a meeting deleted in Zoom's portal or in Teams."""

from test_microsoft_support import OWNER, connect as connect_microsoft, graph, meeting_body as teams_meeting, ms
from zoom_sandbox_support import api, connect, meeting_body, refresh

__all__ = ['ms']


def test_zoom_revoke_kills_the_users_grants_without_sending_anything(http, zoom):
    tokens = connect(http, zoom, 'zoom-eli')
    zoom.reset_calls()

    assert http.post(zoom.url + '/_sandbox/revoke', json={'user_id': 'zoom-eli'}).status_code == 204

    expired = api(http, zoom, tokens['access_token'], 'GET', '/users/me')
    assert expired.status_code == 401 and expired.json()['code'] == 124
    assert refresh(http, zoom, tokens['refresh_token']).json()['error'] == 'invalid_grant'
    # No webhook went anywhere: the calls log holds only the two refused requests.
    assert [call['operation'] for call in zoom.calls()] == ['get_me', 'token']


def test_zoom_revoke_refuses_an_unknown_or_missing_user(http, zoom):
    assert http.post(zoom.url + '/_sandbox/revoke', json={'user_id': 'nobody'}).status_code == 400
    assert http.post(zoom.url + '/_sandbox/revoke', json={}).status_code == 400


def test_zoom_meeting_deleted_in_the_portal_answers_3001(http, zoom):
    tokens = connect(http, zoom, 'zoom-dana')
    made = api(http, zoom, tokens['access_token'], 'POST', '/users/me/meetings', json=meeting_body()).json()

    assert http.delete(f'{zoom.url}/_sandbox/meetings/{made["id"]}').status_code == 204

    gone = api(http, zoom, tokens['access_token'], 'GET', f'/meetings/{made["id"]}')
    assert gone.status_code == 404 and gone.json()['code'] == 3001
    assert http.delete(f'{zoom.url}/_sandbox/meetings/{made["id"]}').status_code == 400  # already gone
    assert http.delete(f'{zoom.url}/_sandbox/meetings/not-a-number').status_code == 400


def test_teams_meeting_deleted_in_teams_answers_404(http, ms):
    _, result = connect_microsoft(ms, OWNER)
    token = result['access_token']
    made = graph(http, ms, token, 'POST', '/me/onlineMeetings', json=teams_meeting()).json()
    assert graph(http, ms, token, 'GET', f'/me/onlineMeetings/{made["id"]}').status_code == 200

    assert http.delete(f'{ms.url}/_sandbox/meetings/{made["id"]}').status_code == 204

    gone = graph(http, ms, token, 'GET', f'/me/onlineMeetings/{made["id"]}')
    assert gone.status_code == 404 and gone.json()['error']['code'] == 'NotFound'
    assert http.delete(f'{ms.url}/_sandbox/meetings/{made["id"]}').status_code == 400
