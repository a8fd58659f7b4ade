"""Google's OAuth 2.0 for web server apps on the sandbox: real Authlib's whole flow, the authorize
step's checks and pages, granular consent, and each way the token and revoke endpoints refuse."""

import base64
import hashlib
import hmac
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from authlib.integrations.httpx_client import OAuth2Client
from google_sandbox_support import (CHALLENGE, DANA, GRANTED, OWNER, REDIRECT_URI, SCOPE, VERIFIER, auth_uri,
                                    calendar, clean, connect, exchange, google, insert, refresh)

from infra.sandboxes.google import CALENDAR_OWNED_SCOPE, EMAIL_SCOPE, ID_TOKEN_KEY, jwt_claims, s256_challenge
from infra.sandboxes.oauth import b64url

__all__ = ['clean', 'google']


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def test_rfc7636_s256_vector():
    assert s256_challenge(VERIFIER) == CHALLENGE


# --- real Authlib, as the provider module uses it ---


def test_authlib_completes_authorize_fetch_refresh_and_revoke(google, http):
    client = OAuth2Client(google.client_id, google.client_secret, token_endpoint_auth_method='client_secret_post',
                          redirect_uri=REDIRECT_URI, scope=SCOPE, code_challenge_method='S256', trust_env=False)
    with client:
        url, state = client.create_authorization_url(google.authorize_url, code_verifier=VERIFIER,
                                                     access_type='offline', prompt='consent')
        answer = google.authorize(OWNER, url)
        assert answer['state'] == state and answer['authuser'] == '0' and answer['prompt'] == 'consent'
        token = client.fetch_token(google.token_url, grant_type='authorization_code', code=answer['code'],
                                   code_verifier=VERIFIER)
        assert token['token_type'] == 'Bearer' and token['expires_in'] == 3599 and token['scope'] == GRANTED
        claims = jwt_claims(token['id_token'])
        assert claims['sub'] == OWNER and claims['email'] == 'owner@example.com' and claims['aud'] == google.client_id
        refresh_token = token['refresh_token']

        renewed = client.refresh_token(google.token_url, refresh_token=refresh_token)
        assert renewed['access_token'] != token['access_token'] and renewed['scope'] == GRANTED
        # Google's refresh answer has no refresh token; Authlib keeps the one it had
        assert renewed['refresh_token'] == refresh_token and google.refresh_count(OWNER) >= 1

        assert client.revoke_token(google.revoke_url, token=refresh_token).status_code == 200
    assert refresh(http, google, refresh_token).json() == {'error': 'invalid_grant',
                                                           'error_description': 'Token has been expired or revoked.'}
    token_calls = [(c['operation'], c['status']) for c in google.calls() if c['operation'] != 'authorize']
    assert token_calls == [('token', 200), ('token', 200), ('revoke', 200), ('token', 400)]


def test_authlib_with_client_secret_basic_is_accepted_too(google, http):
    client = OAuth2Client(google.client_id, google.client_secret, token_endpoint_auth_method='client_secret_basic',
                          redirect_uri=REDIRECT_URI, scope=SCOPE, code_challenge_method='S256', trust_env=False)
    with client:
        url, _ = client.create_authorization_url(google.authorize_url, code_verifier=VERIFIER, access_type='offline',
                                                 prompt='consent')
        token = client.fetch_token(google.token_url, code=google.authorize(DANA, url)['code'], code_verifier=VERIFIER)
    assert jwt_claims(token['id_token'])['sub'] == DANA and token['refresh_token']


# --- the id_token ---


def test_the_id_token_is_a_well_formed_hs256_jwt_with_googles_claims(google, http):
    token = connect(http, google, OWNER)
    header, payload, signature = token['id_token'].split('.')
    expected = hmac.new(ID_TOKEN_KEY, f'{header}.{payload}'.encode(), hashlib.sha256).digest()
    assert signature == b64url(expected)
    assert jwt_claims(header) is None  # a segment alone is not a token
    claims = jwt_claims(token['id_token'])
    assert claims['iss'] == 'https://accounts.google.com' and claims['azp'] == claims['aud'] == google.client_id
    assert claims['email_verified'] is True and claims['exp'] - claims['iat'] == 3600
    assert abs(claims['iat'] - google.now().timestamp()) < 60


def test_without_openid_there_is_no_id_token_and_without_email_no_email(google, http):
    answer = google.authorize(OWNER, auth_uri(google, scope=CALENDAR_OWNED_SCOPE, prompt='consent'))
    assert 'id_token' not in exchange(http, google, answer['code']).json()
    answer = google.authorize(OWNER, auth_uri(google, scope=f'openid {CALENDAR_OWNED_SCOPE}', prompt='consent'))
    claims = jwt_claims(exchange(http, google, answer['code']).json()['id_token'])
    assert claims['sub'] == OWNER and 'email' not in claims


# --- the authorize step ---


def test_allow_redirects_with_state_code_granted_scope_authuser_and_prompt(google):
    answer = google.authorize(OWNER, auth_uri(google, prompt='consent'))
    assert set(answer) == {'state', 'code', 'scope', 'authuser', 'prompt'} and answer['state'] == 'state-1'
    assert set(answer['scope'].split()) == {'email', 'openid', EMAIL_SCOPE, CALENDAR_OWNED_SCOPE}


def test_cancel_redirects_access_denied_with_the_state(google):
    assert google.authorize(OWNER, auth_uri(google), accept=False) == {'error': 'access_denied', 'state': 'state-1'}
    assert google.authorize(OWNER, auth_uri(google, state=None), accept=False) == {'error': 'access_denied'}


def test_granular_consent_leaves_the_calendar_scope_out_of_code_and_tokens(google, http):
    token = connect(http, google, DANA, grant_calendar=False)
    assert token['scope'] == f'openid {EMAIL_SCOPE}'
    response = insert(http, google, token)
    assert response.status_code == 403
    assert response.json()['error']['errors'][0]['reason'] == 'insufficientPermissions'
    assert response.json()['error']['message'] == 'Request had insufficient authentication scopes.'
    assert 'insufficient_scope' in response.headers['www-authenticate']


@pytest.mark.parametrize('overrides, status, error, detail', [
    ({'client_id': None}, 400, 'invalid_request', 'Missing required parameter: client_id'),
    ({'client_id': 'someone-else'}, 401, 'invalid_client', 'The OAuth client was not found.'),
    ({'redirect_uri': None}, 400, 'invalid_request', 'Missing required parameter: redirect_uri'),
    ({'redirect_uri': 'https://evil.example/cb'}, 400, 'redirect_uri_mismatch', 'redirect_uri=https://evil.example/cb'),
    ({'redirect_uri': REDIRECT_URI + '/'}, 400, 'redirect_uri_mismatch', 'redirect_uri='),
    ({'response_type': None}, 400, 'invalid_request', 'Missing required parameter: response_type'),
    ({'response_type': 'token'}, 400, 'invalid_request', 'Invalid response_type: token'),
    ({'scope': None}, 400, 'invalid_request', 'Missing required parameter: scope'),
    ({'scope': 'openid https://www.googleapis.com/auth/drive'}, 400, 'invalid_scope', 'drive'),
    ({'access_type': 'forever'}, 400, 'invalid_request', 'Invalid access_type: forever'),
    ({'prompt': 'please'}, 400, 'invalid_request', 'Invalid prompt: please'),
    ({'prompt': 'none consent'}, 400, 'invalid_request', 'Invalid prompt: none consent'),
    ({'code_challenge_method': 'S512'}, 400, 'invalid_request', 'Invalid code_challenge_method: S512'),
    ({'code_challenge': 'short'}, 400, 'invalid_request', 'Invalid code_challenge'),
    ({'code_challenge': None}, 400, 'invalid_request', 'Missing code_challenge'),
    ({'include_granted_scopes': 'yes'}, 400, 'invalid_request', 'Invalid include_granted_scopes: yes'),
])
def test_bad_authorize_requests_get_googles_own_page_not_a_redirect(google, http, overrides, status, error, detail):
    response = http.get(auth_uri(google, **overrides))
    assert response.status_code == status and 'location' not in response.headers
    assert response.headers['content-type'].startswith('text/html')
    assert f'Error {status}: {error}' in response.text and detail in response.text
    with pytest.raises(ValueError, match=f'Error {status}: {error}'):
        google.authorize(OWNER, auth_uri(google, **overrides))


def test_the_consent_page_has_accounts_the_calendar_checkbox_and_allow_cancel(google, http):
    response = http.get(auth_uri(google, login_hint='dana@example.com'))
    assert response.status_code == 200 and response.headers['cache-control'] == 'no-store'
    page = response.text
    assert 'name="grant_calendar" value="on" checked' in page and CALENDAR_OWNED_SCOPE in page
    assert 'value="allow"' in page and 'value="cancel"' in page and 'action="/o/oauth2/v2/auth/decision"' in page
    assert f'<option value="{DANA}" selected>' in page and 'nomeet@example.com' in page


def test_the_consent_form_posts_back_and_redirects_like_authorize(google, http):
    request = urlsplit(auth_uri(google, prompt='consent')).query
    decision = google.url + '/o/oauth2/v2/auth/decision'
    allowed = http.post(decision, data={'request': request, 'user_id': OWNER, 'decision': 'allow',
                                        'grant_calendar': 'on'})
    assert allowed.status_code == 302 and allowed.headers['location'].startswith(REDIRECT_URI + '?')
    answer = query_of(allowed.headers['location'])
    assert answer['state'] == 'state-1' and CALENDAR_OWNED_SCOPE in answer['scope'].split()
    assert exchange(http, google, answer['code']).status_code == 200

    unticked = http.post(decision, data={'request': request, 'user_id': OWNER, 'decision': 'allow'})
    assert CALENDAR_OWNED_SCOPE not in query_of(unticked.headers['location'])['scope']
    cancelled = http.post(decision, data={'request': request, 'user_id': OWNER, 'decision': 'cancel'})
    assert query_of(cancelled.headers['location']) == {'error': 'access_denied', 'state': 'state-1'}
    nobody = http.post(decision, data={'request': request, 'user_id': '999', 'decision': 'allow'})
    assert nobody.status_code == 400 and 'location' not in nobody.headers
    forged = http.post(decision, data={'request': request.replace('127.0.0.1', 'evil.example'), 'user_id': OWNER,
                                       'decision': 'allow'})
    assert forged.status_code == 400 and 'redirect_uri_mismatch' in forged.text


def test_prompt_none_answers_interaction_required(google, http):
    assert google.authorize(OWNER, auth_uri(google, prompt='none')) == {'error': 'interaction_required',
                                                                       'state': 'state-1'}
    response = http.get(auth_uri(google, prompt='none'))
    assert response.status_code == 302
    assert query_of(response.headers['location']) == {'error': 'interaction_required', 'state': 'state-1'}


def test_authorize_refuses_foreign_uris_and_unknown_users(google):
    with pytest.raises(ValueError, match='not an authorize URI'):
        google.authorize(OWNER, google.url + '/token?x=1')
    with pytest.raises(ValueError, match='unknown user'):
        google.authorize('42', auth_uri(google))


# --- refresh tokens: first grant, prompt=consent, the cap ---


def test_a_refresh_token_only_on_the_first_grant_or_with_prompt_consent(google, http):
    user = google.add_user('105000000000000000101', 'fresh@example.com', 'Fresh')['id']
    first = exchange(http, google, google.authorize(user, auth_uri(google))['code']).json()
    assert 'refresh_token' in first
    again = google.authorize(user, auth_uri(google))
    assert again['prompt'] == 'none'  # granted before: no consent screen
    assert 'refresh_token' not in exchange(http, google, again['code']).json()
    consent = google.authorize(user, auth_uri(google, prompt='consent'))
    assert consent['prompt'] == 'consent' and 'refresh_token' in exchange(http, google, consent['code']).json()
    online = google.authorize(user, auth_uri(google, prompt='consent', access_type=None))
    assert 'refresh_token' not in exchange(http, google, online['code']).json()  # access_type=online
    assert len(google.grants(user)) == 2

    unexchanged = google.authorize(user, auth_uri(google, prompt='consent'))['code']
    google.revoke_grants(user)  # the user removed the app: the next ask is a first grant again
    assert google.grants(user) == []
    assert exchange(http, google, unexchanged).json() == bad_grant('Bad Request')  # its codes went with it
    assert refresh(http, google, first['refresh_token']).json()['error'] == 'invalid_grant'
    assert calendar(http, google, first, 'GET', '/calendars/primary/events').status_code == 401
    assert 'refresh_token' in exchange(http, google, google.authorize(user, auth_uri(google))['code']).json()


def test_a_first_ask_without_offline_leaves_later_offline_asks_without_a_refresh_token(google, http):
    user = google.add_user('105000000000000000102', 'online@example.com')['id']
    assert 'refresh_token' not in exchange(http, google, google.authorize(
        user, auth_uri(google, access_type=None))['code']).json()
    assert 'refresh_token' not in exchange(http, google, google.authorize(user, auth_uri(google))['code']).json()


def test_at_most_100_refresh_tokens_per_user_the_oldest_dies_silently(google, http):
    user = google.add_user('105000000000000000103', 'many@example.com')['id']
    tokens = [connect(http, google, user)['refresh_token'] for _ in range(101)]
    assert len(google.grants(user)) == 100
    assert refresh(http, google, tokens[0]).json() == {'error': 'invalid_grant',
                                                      'error_description': 'Token has been expired or revoked.'}
    assert refresh(http, google, tokens[1]).status_code == 200 and refresh(http, google, tokens[-1]).status_code == 200


def test_refresh_answers_a_new_access_token_and_the_id_token_but_no_refresh_token(google, http):
    token = connect(http, google, OWNER)
    before = google.refresh_count(OWNER)
    response = refresh(http, google, token['refresh_token'])
    body = response.json()
    assert response.status_code == 200 and set(body) == {'access_token', 'expires_in', 'scope', 'token_type',
                                                         'id_token'}
    assert body['scope'] == GRANTED and google.refresh_count(OWNER) == before + 1
    assert response.headers['cache-control'].startswith('no-cache, no-store')
    assert calendar(http, google, body, 'GET', '/calendars/primary/events?maxResults=1').status_code == 200
    assert refresh(http, google, token['refresh_token']).status_code == 200  # not rotated: still good


# --- the code exchange's refusals ---


def bad_grant(description: str) -> dict[str, str]:
    return {'error': 'invalid_grant', 'error_description': description}


def test_a_code_is_single_use_and_a_reused_code_revokes_what_it_issued(google, http):
    code = google.authorize(OWNER, auth_uri(google, prompt='consent'))['code']
    token = exchange(http, google, code).json()
    assert calendar(http, google, token, 'GET', '/calendars/primary/events').status_code == 200
    reused = exchange(http, google, code)
    assert reused.status_code == 400 and reused.json() == bad_grant('Bad Request')
    assert calendar(http, google, token, 'GET', '/calendars/primary/events').status_code == 401
    assert refresh(http, google, token['refresh_token']).json()['error'] == 'invalid_grant'


def test_one_code_exchanged_twice_at_once_gives_one_answer_and_revokes_it(google, http):
    code = google.authorize(OWNER, auth_uri(google, prompt='consent'))['code']

    def attempt(_: int) -> httpx2.Response:
        with httpx2.Client(trust_env=False, timeout=5.0) as client:
            return exchange(client, google, code)

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = list(pool.map(attempt, range(2)))
    assert sorted(a.status_code for a in answers) == [200, 400]
    [issued] = [a.json() for a in answers if a.status_code == 200]
    assert refresh(http, google, issued['refresh_token']).json()['error'] == 'invalid_grant'


def test_a_code_lives_ten_minutes_on_the_sandbox_clock(google, http):
    late = google.authorize(OWNER, auth_uri(google))['code']
    in_time = google.authorize(OWNER, auth_uri(google))['code']
    google.advance(590)  # well inside the ten minutes, however slow this machine is
    assert exchange(http, google, in_time).status_code == 200
    google.advance(10)
    assert exchange(http, google, late).json() == bad_grant('Bad Request')


@pytest.mark.parametrize('overrides, status, body', [
    ({'code': 'not-a-code'}, 400, bad_grant('Bad Request')),
    ({'code': None}, 400, {'error': 'invalid_request', 'error_description': 'Missing required parameter: code'}),
    ({'code_verifier': None}, 400, bad_grant('Missing code verifier.')),
    ({'code_verifier': 'x' * 43}, 400, bad_grant('Invalid code verifier.')),
    ({'redirect_uri': 'http://127.0.0.1:3000/other'}, 400, {'error': 'redirect_uri_mismatch',
                                                            'error_description': 'Bad Request'}),
    ({'redirect_uri': None}, 400, {'error': 'invalid_request', 'error_description': 'Missing parameter: redirect_uri'}),
    ({'client_secret': 'wrong'}, 401, {'error': 'invalid_client', 'error_description': 'Unauthorized'}),
    ({'client_secret': None}, 401, {'error': 'invalid_client', 'error_description': 'Unauthorized'}),
    ({'client_id': 'someone-else'}, 401, {'error': 'invalid_client',
                                          'error_description': 'The OAuth client was not found.'}),
    ({'client_id': None}, 400, {'error': 'invalid_request',
                                'error_description': 'Could not determine client ID from request.'}),
    ({'grant_type': 'password'}, 400, {'error': 'unsupported_grant_type',
                                       'error_description': 'Invalid grant_type: password'}),
    ({'grant_type': None}, 400, {'error': 'invalid_request',
                                 'error_description': 'Missing required parameter: grant_type'}),
])
def test_code_exchange_refusals(google, http, overrides, status, body):
    code = google.authorize(OWNER, auth_uri(google))['code']
    overrides = dict(overrides)
    response = exchange(http, google, overrides.pop('code', code), **overrides)
    assert (response.status_code, response.json()) == (status, body)
    assert google.client_secret not in response.text and code not in response.text


def test_a_verifier_not_of_pkces_form_is_refused_though_it_matches_its_challenge(google, http):
    for verifier in ('v' * 42, 'with spaces and ! ' * 3, 'v' * 129):
        code = google.authorize(OWNER, auth_uri(google, code_challenge=s256_challenge(verifier)))['code']
        assert exchange(http, google, code, code_verifier=verifier).json() == bad_grant('Invalid code verifier.')


def test_a_failed_exchange_burns_the_code(google, http):
    code = google.authorize(OWNER, auth_uri(google))['code']
    assert exchange(http, google, code, code_verifier='y' * 43).json() == bad_grant('Invalid code verifier.')
    assert exchange(http, google, code).json() == bad_grant('Bad Request')


def test_plain_pkce_and_no_pkce(google, http):
    plain = 'p' * 43
    code = google.authorize(OWNER, auth_uri(google, code_challenge=plain, code_challenge_method=None))['code']
    assert exchange(http, google, code, code_verifier=plain).status_code == 200
    code = google.authorize(OWNER, auth_uri(google, code_challenge=plain, code_challenge_method='plain'))['code']
    assert exchange(http, google, code, code_verifier=VERIFIER).json() == bad_grant('Invalid code verifier.')
    code = google.authorize(OWNER, auth_uri(google, code_challenge=None, code_challenge_method=None))['code']
    assert exchange(http, google, code, code_verifier=None).status_code == 200
    code = google.authorize(OWNER, auth_uri(google, code_challenge=None, code_challenge_method=None))['code']
    assert exchange(http, google, code).json() == bad_grant('code_verifier or verifier is not needed.')


def test_client_secret_basic_and_mismatched_credentials(google, http):
    code = google.authorize(OWNER, auth_uri(google))['code']
    basic = base64.b64encode(f'{google.client_id}:{google.client_secret}'.encode()).decode()
    response = http.post(google.token_url, headers={'Authorization': 'Basic ' + basic},
                         data={'grant_type': 'authorization_code', 'code': code, 'redirect_uri': REDIRECT_URI,
                               'code_verifier': VERIFIER})
    assert response.status_code == 200
    wrong = base64.b64encode(f'{google.client_id}:nope'.encode()).decode()
    response = http.post(google.token_url, headers={'Authorization': 'Basic ' + wrong},
                         data={'grant_type': 'refresh_token', 'refresh_token': 'x', 'client_id': google.client_id,
                               'client_secret': google.client_secret})
    assert response.status_code == 401 and response.json()['error'] == 'invalid_client'
    response = http.post(google.token_url, headers={'Authorization': 'Basic !!'}, data={'grant_type': 'x'})
    assert response.status_code == 401


def test_the_token_endpoint_takes_a_form_only(google, http):
    response = http.post(google.token_url, json={'grant_type': 'refresh_token'})
    assert response.status_code == 400 and response.json()['error'] == 'invalid_request'
    assert http.get(google.token_url).status_code == 405


# --- revoke ---


def test_revoking_an_access_token_revokes_the_whole_grant(google, http):
    token = connect(http, google, DANA)
    other = connect(http, google, DANA)
    response = http.post(google.revoke_url, data={'token': token['access_token']})
    assert (response.status_code, response.json()) == (200, {})
    for held in (token, other):
        assert calendar(http, google, held, 'GET', '/calendars/primary/events').status_code == 401
        assert refresh(http, google, held['refresh_token']).json()['error'] == 'invalid_grant'
    assert google.grants(DANA) == []


def test_revoke_refusals(google, http):
    gone = http.post(google.revoke_url, data={'token': 'never-issued'})
    assert (gone.status_code, gone.json()) == (400, {'error': 'invalid_token',
                                                     'error_description': 'Token expired or revoked'})
    missing = http.post(google.revoke_url, data={})
    assert (missing.status_code, missing.json()['error']) == (400, 'invalid_request')
    token = connect(http, google, OWNER)
    assert http.post(google.revoke_url, params={'token': token['refresh_token']}).status_code == 200
    [call] = [c for c in google.calls('revoke') if c['status'] == 200]
    assert call['query'] == {'token': '[redacted]'}  # the calls log never holds a token
