"""Google's rules the provider module follows: event ids Google accepts, UTC instants with the booking's zone, the
id_token read without a call, Calendar's error body, and the sign-in's answers told apart (consent asked again,
calendar unticked, no refresh token after consent), all without the network."""

import base64
import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from authlib.integrations.httpx_client import OAuth2Client

from functions.oauth.handler import OAuthSettings
from meetbridge import config
from meetbridge.providers import google
from meetbridge.providers.base import ConsentAgain, MeetingSpec, SignInRefused

KOLKATA = timezone(timedelta(hours=5, minutes=30))
APP = {'client_id': 'client-id', 'client_secret': 'do-not-show-this-secret'}
REDIRECT_URI = 'https://api.test/oauth/google/callback'


def _id_token(claims: dict) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip('=')
    return f'eyJhbGciOiJSUzI1NiJ9.{payload}.not-checked'


def test_event_ids_are_base32hex_of_the_reference_and_the_same_for_every_attempt():
    made = google.event_id('meeting:b1#claim-1')
    assert re.fullmatch(r'[a-v0-9]{5,1024}', made) and made == google.event_id('meeting:b1#claim-1')
    assert made != google.event_id('meeting:b1#claim-2')


def test_times_are_utc_instants_with_the_bookings_own_zone():
    spec = MeetingSpec(topic='t', start=datetime(2030, 3, 10, 9, 0, tzinfo=KOLKATA),
                       end=datetime(2030, 3, 10, 9, 45, tzinfo=KOLKATA), timezone='Asia/Kolkata', kind='appointment')
    assert google._when(spec) == {'start': {'dateTime': '2030-03-10T03:30:00Z', 'timeZone': 'Asia/Kolkata'},
                                  'end': {'dateTime': '2030-03-10T04:15:00Z', 'timeZone': 'Asia/Kolkata'}}


def test_a_meeting_across_a_dst_change_keeps_its_instants():
    from zoneinfo import ZoneInfo

    berlin = ZoneInfo('Europe/Berlin')  # summer time ends at 03:00 on 27 October 2030
    spec = MeetingSpec(topic='t', start=datetime(2030, 10, 27, 1, 30, tzinfo=berlin),
                       end=datetime(2030, 10, 27, 4, 0, tzinfo=berlin), timezone='Europe/Berlin', kind='appointment')
    assert google._when(spec) == {'start': {'dateTime': '2030-10-26T23:30:00Z', 'timeZone': 'Europe/Berlin'},
                                  'end': {'dateTime': '2030-10-27T03:00:00Z', 'timeZone': 'Europe/Berlin'}}


def test_the_id_token_payload_is_read_and_anything_else_is_no_claims():
    assert google.id_token_claims(_id_token({'sub': '105', 'email': 'a@example.com'}))['sub'] == '105'
    for broken in (None, '', 'one-part', 'a.!!!.c', 'a.' + base64.urlsafe_b64encode(b'[1]').decode() + '.c'):
        assert google.id_token_claims(broken) == {}


def test_calendar_errors_are_read_by_reason_and_odd_bodies_do_not_break_it():
    body = {'error': {'errors': [{'domain': 'usageLimits', 'reason': 'rateLimitExceeded', 'message': 'Rate'}],
                      'code': 403, 'message': 'Rate Limit Exceeded'}}
    error = google._error_of(httpx2.Response(403, json=body))
    assert (error.status, error.reason, error.message) == (403, 'rateLimitExceeded', 'Rate Limit Exceeded')
    for odd in (b'<html>busy</html>', b'[]', b'{"error": "invalid_grant"}', b'{"error": {"errors": "x"}}'):
        assert google._error_of(httpx2.Response(503, content=odd)).reason == ''


@pytest.fixture
def app(monkeypatch):
    """The OAuth function's settings, the client's credentials without Secrets Manager, and the token endpoint's
    answers served in memory: `answer` is what the next token request gets; `asked` what it carried."""
    monkeypatch.setattr(google, 'credentials', lambda: APP)
    answer, asked = {}, []

    def token_endpoint(request: httpx2.Request) -> httpx2.Response:
        asked.append(dict(parse_qs(request.content.decode())))
        return httpx2.Response(answer.get('status', 200), json=answer['body'])

    def client(redirect_uri=None):
        return OAuth2Client(APP['client_id'], APP['client_secret'], token_endpoint_auth_method='client_secret_post',
                            redirect_uri=redirect_uri, transport=httpx2.MockTransport(token_endpoint))

    monkeypatch.setattr(google, 'oauth_client', client)
    with config.using(OAuthSettings):
        yield answer, asked


def _granted(**changes) -> dict:
    return {'access_token': 'ya29.access', 'expires_in': 3599, 'refresh_token': '1//refresh', 'token_type': 'Bearer',
            'scope': f'openid email {google.CALENDAR_SCOPE}',
            'id_token': _id_token({'sub': '105000000000000000001', 'email': 'owner@example.com'}), **changes}


def test_the_authorize_url_asks_for_offline_access_with_pkce_and_consent_only_when_asked(monkeypatch):
    monkeypatch.setattr(google, 'credentials', lambda: APP)
    with config.using(OAuthSettings):
        state, url, flow = google.begin(REDIRECT_URI)
        _, again, again_flow = google.begin(REDIRECT_URI, consent=True)
    query = parse_qs(urlsplit(url).query)
    assert url.startswith('https://accounts.google.com/o/oauth2/v2/auth?') and query['state'] == [state]
    assert query['scope'] == [google.SCOPES] and query['access_type'] == ['offline']
    assert query['code_challenge_method'] == ['S256'] and query['redirect_uri'] == [REDIRECT_URI]
    assert 'prompt' not in query and parse_qs(urlsplit(again).query)['prompt'] == ['consent']
    assert (flow['consent'], again_flow['consent']) == (False, True)
    assert APP['client_secret'] not in url and flow['verifier'] not in url


def test_a_granted_sign_in_is_the_id_tokens_user_with_a_refresh_token_posted_with_the_verifier(app):
    answer, asked = app
    answer['body'] = _granted()
    signed_in = google.finish({'verifier': 'v' * 64, 'consent': False}, {'code': '4/code'}, REDIRECT_URI)
    assert (signed_in.user_id, signed_in.email) == ('105000000000000000001', 'owner@example.com')
    assert signed_in.state['refresh_token'] == '1//refresh'
    [sent] = asked
    assert sent['code_verifier'] == ['v' * 64] and sent['client_secret'] == [APP['client_secret']]


def test_no_refresh_token_asks_for_consent_once_then_ends_on_a_page(app):
    answer, _ = app
    answer['body'] = _granted(refresh_token=None)
    with pytest.raises(ConsentAgain):
        google.finish({'verifier': 'v', 'consent': False}, {'code': '4/code'}, REDIRECT_URI)
    with pytest.raises(SignInRefused, match='no lasting access'):
        google.finish({'verifier': 'v', 'consent': True}, {'code': '4/code'}, REDIRECT_URI)


@pytest.mark.parametrize('changes, title', [
    ({'scope': 'openid email'}, 'Calendar access was not given'),
    ({'id_token': _id_token({'email': 'owner@example.com'})}, 'did not say who signed in'),
    ({'id_token': 'garbage'}, 'did not say who signed in'),
], ids=['calendar unticked', 'no sub', 'unreadable id_token'])
def test_a_sign_in_missing_what_we_need_is_refused(app, changes, title):
    answer, _ = app
    answer['body'] = _granted(**changes)
    with pytest.raises(SignInRefused, match=title) as refused:
        google.finish({'verifier': 'v', 'consent': True}, {'code': '4/code'}, REDIRECT_URI)
    assert refused.value.status == 400


@pytest.mark.parametrize('scope', ['https://www.googleapis.com/auth/calendar.events',
                                   'https://www.googleapis.com/auth/calendar'])
def test_a_wider_calendar_scope_covers_the_owned_events(app, scope):
    answer, _ = app
    answer['body'] = _granted(scope=f'email openid {scope}')
    assert google.finish({'verifier': 'v', 'consent': False}, {'code': '4/code'}, REDIRECT_URI).user_id


def test_a_used_code_and_a_google_outage_are_pages_that_show_no_secret(app):
    answer, _ = app
    answer.update(status=400, body={'error': 'invalid_grant', 'error_description': 'Bad Request'})
    with pytest.raises(SignInRefused) as used:
        google.finish({'verifier': 'v', 'consent': False}, {'code': '4/secret-code'}, REDIRECT_URI)
    answer.update(status=503, body={'error': 'backendError'})
    with pytest.raises(SignInRefused) as outage:
        google.finish({'verifier': 'v', 'consent': False}, {'code': '4/secret-code'}, REDIRECT_URI)
    assert used.value.status == 400 and 'invalid_grant' in used.value.detail and outage.value.status == 502
    for refusal in (used.value, outage.value):
        shown = f'{refusal.title} {refusal.detail}'
        assert '4/secret-code' not in shown and APP['client_secret'] not in shown


def test_no_code_is_refused_without_asking_google(app):
    _, asked = app
    with pytest.raises(SignInRefused, match='no authorisation'):
        google.finish({'verifier': 'v', 'consent': False}, {'state': 's'}, REDIRECT_URI)
    assert asked == []
