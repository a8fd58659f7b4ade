"""The sandbox's OAuth: authorize page, consent, code exchange, PKCE, client auth, refresh rotation, revoke."""

import base64
import threading
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest
from zoom_sandbox_support import REDIRECT_URI, api, client_auth, connect, exchange, refresh

from infra.sandboxes.zoom import ZoomSandbox, s256_challenge

VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'
CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'
INVALID_CLIENT = {'reason': 'Invalid client_id or client_secret', 'error': 'invalid_client'}


def authorize_url(zoom, **params):
    query = {'response_type': 'code', 'client_id': zoom.client_id, 'redirect_uri': REDIRECT_URI, 'state': 'st-1',
             **params}
    return zoom.url + '/oauth/authorize?' + urlencode({k: v for k, v in query.items() if v is not None})


def decide(http, zoom, decision='allow', user_id='zoom-dana', shared_access=True, **fields):
    form = {'response_type': 'code', 'client_id': zoom.client_id, 'redirect_uri': REDIRECT_URI, 'state': 'st-1',
            'user_id': user_id, 'decision': decision, **fields}
    if shared_access:
        form['shared_access'] = 'on'
    return http.post(zoom.url + '/oauth/authorize/decision', data={k: v for k, v in form.items() if v is not None})


def location_query(response):
    parts = urlsplit(response.headers['location'])
    return parts, {k: v[0] for k, v in parse_qs(parts.query).items()}


# --- the authorize page ---


def test_consent_page_names_the_app_and_offers_users_shared_access_allow_and_deny(http, zoom):
    page = http.get(authorize_url(zoom, code_challenge=CHALLENGE, code_challenge_method='S256'))
    assert page.status_code == 200
    assert page.headers['content-type'].startswith('text/html')
    html = page.text
    assert zoom.app_name in html
    assert 'action="/oauth/authorize/decision"' in html and 'method="post"' in html
    assert html.index('value="zoom-owner"') < html.index('value="zoom-dana"') < html.index('value="zoom-eli"')
    assert 'Allow this app to use my shared access permissions' in html
    assert 'name="shared_access" value="on" checked' in html
    assert 'value="allow">Allow</button>' in html and 'value="deny">Deny</button>' in html
    for hidden in (zoom.client_id, REDIRECT_URI, 'st-1', CHALLENGE, 'S256'):
        assert f'value="{hidden}"' in html


def test_unknown_client_id_is_an_error_page_4702(http, zoom):
    page = http.get(authorize_url(zoom, client_id='someone-else'))
    assert page.status_code == 400 and '4702' in page.text
    assert 'location' not in page.headers


@pytest.mark.parametrize('redirect_uri', [
    REDIRECT_URI + '/', REDIRECT_URI.replace('http:', 'https:'), REDIRECT_URI.replace('127.0.0.1', 'localhost'),
    REDIRECT_URI.replace('callback', 'Callback'), REDIRECT_URI + '?x=1', 'https://evil.example/cb', None,
], ids=['trailing-slash', 'scheme', 'host', 'path-case', 'extra-query', 'other-site', 'missing'])
def test_redirect_uri_mismatch_at_authorize_is_4709_without_redirect(http, zoom, redirect_uri):
    page = http.get(authorize_url(zoom, redirect_uri=redirect_uri))
    assert page.status_code == 400
    assert '4709' in page.text and 'Redirect URI mismatch' in page.text
    assert 'location' not in page.headers


@pytest.mark.parametrize('params', [{'response_type': 'token'}, {'response_type': None},
                                    {'code_challenge_method': 'S256'},
                                    {'code_challenge': CHALLENGE, 'code_challenge_method': 'S512'},
                                    {'code_challenge': 'short'}])
def test_bad_response_type_or_pkce_parameters_are_an_error_page(http, zoom, params):
    page = http.get(authorize_url(zoom, **params))
    assert page.status_code == 400 and 'Error code' in page.text and 'location' not in page.headers


def test_allow_redirects_with_a_code_and_the_state_keeping_the_redirect_uris_own_query(http, zoom):
    with_query = 'http://127.0.0.1:9/cb?tenant=t%201&x=y'
    zoom.allow_redirect_uri(with_query)
    response = decide(http, zoom, redirect_uri=with_query, state='a b&c=d/é')
    assert response.status_code == 302
    parts, query = location_query(response)
    assert (parts.scheme, parts.netloc, parts.path) == ('http', '127.0.0.1:9', '/cb')
    assert query['tenant'] == 't 1' and query['x'] == 'y' and query['state'] == 'a b&c=d/é'
    assert exchange(http, zoom, query['code'], redirect_uri=with_query).status_code == 200


def test_deny_redirects_with_access_denied_and_no_code(http, zoom):
    response = decide(http, zoom, decision='deny', state='keep me')
    assert response.status_code == 302
    parts, query = location_query(response)
    assert parts.geturl().startswith(REDIRECT_URI + '?')
    assert query == {'error': 'access_denied', 'state': 'keep me'}


def test_decision_rechecks_client_and_redirect_uri_and_user(http, zoom):
    assert '4709' in decide(http, zoom, redirect_uri='https://evil.example/cb').text
    assert '4702' in decide(http, zoom, client_id='nope').text
    assert decide(http, zoom, user_id='nobody').status_code == 400
    assert decide(http, zoom, decision=None).status_code == 400


def test_unticked_shared_access_is_remembered_in_the_grant(http, zoom):
    _, query = location_query(decide(http, zoom, user_id='zoom-owner', shared_access=False))
    tokens = exchange(http, zoom, query['code']).json()
    assert api(http, zoom, tokens, 'GET', '/users').json()['code'] == 4711
    assert api(http, zoom, tokens, 'POST', '/users/zoom-dana/meetings', json={'type': 1}).status_code == 403


def test_python_authorize_refuses_what_the_page_refuses(zoom):
    with pytest.raises(ValueError):
        zoom.authorize('nobody')
    with pytest.raises(ValueError, match='4709'):
        zoom.authorize('zoom-dana', redirect_uri=REDIRECT_URI + '/')
    with pytest.raises(ValueError):
        zoom.authorize('zoom-dana', code_challenge=CHALLENGE, code_challenge_method='S512')


# --- the code exchange ---


def test_code_exchange_answers_zooms_token_shape(http, zoom):
    member = exchange(http, zoom, zoom.authorize('zoom-dana')).json()
    assert set(member) == {'access_token', 'token_type', 'refresh_token', 'expires_in', 'scope', 'api_url'}
    assert member['token_type'] == 'bearer' and member['expires_in'] == 3599 and member['api_url'] == zoom.url
    assert member['scope'] == ('meeting:write:meeting meeting:read:meeting meeting:update:meeting '
                               'meeting:delete:meeting meeting:read:list_meetings meeting:write:registrant '
                               'user:read:user')
    owner = exchange(http, zoom, zoom.authorize('zoom-owner')).json()
    assert owner['scope'] == member['scope'] + ' user:read:list_users:admin'


def test_a_code_works_once(http, zoom):
    code = zoom.authorize('zoom-dana')
    first = exchange(http, zoom, code)
    assert first.status_code == 200
    again = exchange(http, zoom, code)
    assert again.status_code == 400
    assert again.json() == {'reason': f'Invalid authorization code {code}', 'error': 'invalid_grant'}
    assert api(http, zoom, first.json(), 'GET', '/users/me').status_code == 200  # a reuse revokes nothing


def test_a_code_expires_after_code_ttl(http, zoom):
    fresh, stale = zoom.authorize('zoom-dana'), zoom.authorize('zoom-dana')
    zoom.advance(zoom.code_ttl - 2)
    assert exchange(http, zoom, fresh).status_code == 200
    zoom.advance(3)
    assert exchange(http, zoom, stale).json()['error'] == 'invalid_grant'


@pytest.mark.parametrize('redirect_uri', [REDIRECT_URI + '/', None], ids=['trailing-slash', 'missing'])
def test_token_request_with_another_redirect_uri_is_refused(http, zoom, redirect_uri):
    response = http.post(zoom.url + '/oauth/token', auth=client_auth(zoom), data={
        k: v for k, v in {'grant_type': 'authorization_code', 'code': zoom.authorize('zoom-dana'),
                          'redirect_uri': redirect_uri}.items() if v is not None})
    assert response.status_code == 400
    assert response.json() == {'reason': 'Redirect URI mismatch', 'error': 'invalid_request'}


def test_token_parameters_may_come_in_the_query_string(http, zoom):
    params = {'grant_type': 'authorization_code', 'code': zoom.authorize('zoom-dana'), 'redirect_uri': REDIRECT_URI}
    assert http.post(zoom.url + '/oauth/token', auth=client_auth(zoom), params=params).status_code == 200


def test_a_json_body_is_not_read(http, zoom):
    response = http.post(zoom.url + '/oauth/token', auth=client_auth(zoom), json={
        'grant_type': 'authorization_code', 'code': zoom.authorize('zoom-dana'), 'redirect_uri': REDIRECT_URI})
    assert response.status_code == 400 and response.json()['error'] == 'invalid_request'


# --- PKCE ---


def test_pkce_s256_accepts_the_right_verifier_only(http, zoom):
    good = zoom.authorize('zoom-dana', code_challenge=CHALLENGE, code_challenge_method='S256')
    assert exchange(http, zoom, good, code_verifier=VERIFIER).status_code == 200
    for verifier in ('x' * 43, CHALLENGE, None):
        code = zoom.authorize('zoom-dana', code_challenge=CHALLENGE, code_challenge_method='S256')
        extra = {'code_verifier': verifier} if verifier else {}
        response = exchange(http, zoom, code, **extra)
        assert response.status_code == 400 and response.json()['error'] == 'invalid_grant'


def test_pkce_without_a_method_is_plain(http, zoom):
    hashed = zoom.authorize('zoom-dana', code_challenge=s256_challenge(VERIFIER))
    assert exchange(http, zoom, hashed, code_verifier=VERIFIER).json()['error'] == 'invalid_grant'
    plain = zoom.authorize('zoom-dana', code_challenge=VERIFIER)
    assert exchange(http, zoom, plain, code_verifier=VERIFIER).status_code == 200
    explicit = zoom.authorize('zoom-dana', code_challenge=VERIFIER, code_challenge_method='plain')
    assert exchange(http, zoom, explicit, code_verifier=VERIFIER).status_code == 200


def test_pkce_through_the_consent_form(http, zoom):
    response = decide(http, zoom, code_challenge=CHALLENGE, code_challenge_method='S256')
    _, query = location_query(response)
    assert exchange(http, zoom, query['code']).json()['error'] == 'invalid_grant'
    _, query = location_query(decide(http, zoom, code_challenge=CHALLENGE, code_challenge_method='S256'))
    assert exchange(http, zoom, query['code'], code_verifier=VERIFIER).status_code == 200


# --- client authentication and grant types ---


@pytest.mark.parametrize('headers', [
    {}, {'Authorization': 'Basic ' + base64.b64encode(b'sandbox-client-id:wrong').decode()},
    {'Authorization': 'Basic ' + base64.b64encode(b'other-id:sandbox-client-secret').decode()},
    {'Authorization': 'Basic !!!not-base64'}, {'Authorization': 'Bearer sandbox-client-secret'},
    {'Authorization': 'Basic ' + base64.b64encode(b'sandbox-client-id').decode()},
], ids=['missing', 'wrong-secret', 'wrong-id', 'garbage', 'bearer', 'no-colon'])
def test_token_endpoint_requires_http_basic(http, zoom, headers):
    response = http.post(zoom.url + '/oauth/token', headers=headers, data={
        'grant_type': 'authorization_code', 'code': zoom.authorize('zoom-dana'), 'redirect_uri': REDIRECT_URI,
        'client_id': zoom.client_id, 'client_secret': zoom.client_secret})
    assert response.status_code == 401 and response.json() == INVALID_CLIENT


def test_tv7_basic_header_from_zooms_docs_is_accepted():
    with ZoomSandbox(client_id='Client_ID', client_secret='Client_Secret', redirect_uris=(REDIRECT_URI,)) as zoom:
        code = zoom.authorize('zoom-dana')
        response = httpx2.post(zoom.url + '/oauth/token', trust_env=False, data={
            'grant_type': 'authorization_code', 'code': code, 'redirect_uri': REDIRECT_URI},
            headers={'Authorization': 'Basic Q2xpZW50X0lEOkNsaWVudF9TZWNyZXQ='})
        assert response.status_code == 200


def test_grant_type_missing_or_unsupported(http, zoom):
    missing = http.post(zoom.url + '/oauth/token', auth=client_auth(zoom), data={'code': 'x'})
    assert missing.status_code == 400 and missing.json()['error'] == 'invalid_request'
    for grant_type in ('password', 'client_credentials', 'implicit'):
        response = http.post(zoom.url + '/oauth/token', auth=client_auth(zoom), data={'grant_type': grant_type})
        assert response.status_code == 400
        assert response.json() == {'reason': 'Unsupported grant type', 'error': 'unsupported_grant_type'}


# --- access tokens, refresh, revoke ---


def test_expired_and_invalid_access_tokens_are_both_124_with_different_messages(http, zoom):
    tokens = connect(http, zoom, 'zoom-dana')
    assert api(http, zoom, tokens, 'GET', '/users/me').status_code == 200
    zoom.advance(zoom.access_token_ttl)
    expired = api(http, zoom, tokens, 'GET', '/users/me')
    assert expired.status_code == 401 and expired.json() == {'code': 124, 'message': 'Access token is expired.'}
    invalid = api(http, zoom, 'not-a-token', 'GET', '/users/me')
    assert invalid.status_code == 401 and invalid.json() == {'code': 124, 'message': 'Invalid access token.'}
    for headers in ({}, {'Authorization': tokens['access_token']},
                    {'Authorization': 'Basic ' + tokens['access_token']}):
        response = http.get(zoom.api_base + '/users/me', headers=headers)
        assert response.status_code == 401 and response.json()['message'] == 'Invalid access token.'


def test_expire_access_tokens_expires_every_issued_token(http, zoom):
    first, second = connect(http, zoom, 'zoom-dana'), connect(http, zoom, 'zoom-eli')
    zoom.expire_access_tokens()
    for tokens in (first, second):
        assert api(http, zoom, tokens, 'GET', '/users/me').json()['message'] == 'Access token is expired.'
    renewed = refresh(http, zoom, first['refresh_token']).json()
    assert api(http, zoom, renewed, 'GET', '/users/me').status_code == 200


def test_refresh_rotates_and_the_old_refresh_token_dies(http, zoom):
    tokens = connect(http, zoom, 'zoom-eli')
    before = zoom.refresh_count('zoom-eli')
    renewed = refresh(http, zoom, tokens['refresh_token'])
    assert renewed.status_code == 200
    body = renewed.json()
    assert body['access_token'] != tokens['access_token'] and body['refresh_token'] != tokens['refresh_token']
    assert body['scope'] == tokens['scope'] and body['expires_in'] == 3599
    reused = refresh(http, zoom, tokens['refresh_token'])
    assert reused.status_code == 400 and reused.json() == {'reason': 'Invalid Token!', 'error': 'invalid_grant'}
    assert refresh(http, zoom, body['refresh_token']).status_code == 200
    assert zoom.refresh_count('zoom-eli') == before + 2
    assert zoom.refresh_count() >= before + 2
    assert api(http, zoom, body, 'GET', '/users/me').json()['id'] == 'zoom-eli'


def test_concurrent_refreshes_of_one_token_have_one_winner(http, zoom):
    tokens = connect(http, zoom, 'zoom-dana')
    barrier, results = threading.Barrier(4), []

    def race():
        with httpx2.Client(trust_env=False, timeout=5) as client:
            barrier.wait()
            results.append(refresh(client, zoom, tokens['refresh_token']).status_code)

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 400, 400, 400]


def test_refresh_requires_basic_auth_and_a_known_token(http, zoom):
    tokens = connect(http, zoom, 'zoom-dana')
    anonymous = http.post(zoom.url + '/oauth/token', data={'grant_type': 'refresh_token',
                                                          'refresh_token': tokens['refresh_token']})
    assert anonymous.status_code == 401 and anonymous.json() == INVALID_CLIENT
    assert refresh(http, zoom, 'made-up').json() == {'reason': 'Invalid Token!', 'error': 'invalid_grant'}
    assert refresh(http, zoom, tokens['access_token']).json()['error'] == 'invalid_grant'
    assert refresh(http, zoom, tokens['refresh_token']).status_code == 200


def test_revoke_kills_the_whole_grant(http, zoom):
    tokens, other = connect(http, zoom, 'zoom-dana'), connect(http, zoom, 'zoom-dana')
    unauthenticated = http.post(zoom.url + '/oauth/revoke', data={'token': tokens['access_token']})
    assert unauthenticated.status_code == 401 and unauthenticated.json() == INVALID_CLIENT
    revoked = http.post(zoom.url + '/oauth/revoke', auth=client_auth(zoom), data={'token': tokens['access_token']})
    assert revoked.status_code == 200 and revoked.json() == {'status': 'success'}
    assert api(http, zoom, tokens, 'GET', '/users/me').json() == {'code': 124, 'message': 'Invalid access token.'}
    assert refresh(http, zoom, tokens['refresh_token']).json() == {'reason': 'Invalid Token!', 'error': 'invalid_grant'}
    again = http.post(zoom.url + '/oauth/revoke', auth=client_auth(zoom), params={'token': tokens['access_token']})
    assert again.status_code == 400 and again.json() == {'reason': 'Invalid token', 'error': 'invalid_request'}
    assert api(http, zoom, other, 'GET', '/users/me').status_code == 200  # another grant of the same user lives


def test_refresh_token_ttl_when_configured(http):
    with ZoomSandbox(redirect_uris=(REDIRECT_URI,), refresh_token_ttl=600) as zoom:
        tokens = connect(http, zoom, 'zoom-dana')
        zoom.advance(599)
        renewed = refresh(http, zoom, tokens['refresh_token']).json()
        zoom.advance(601)
        assert refresh(http, zoom, renewed['refresh_token']).json()['error'] == 'invalid_grant'


def test_authlibs_client_speaks_to_the_sandbox(zoom):
    """The backend's OAuth client library: exchange with PKCE, rotate, revoke."""
    from authlib.integrations.httpx_client import OAuth2Client

    with OAuth2Client(zoom.client_id, zoom.client_secret, token_endpoint_auth_method='client_secret_basic',
                      revocation_endpoint_auth_method='client_secret_basic', redirect_uri=REDIRECT_URI,
                      trust_env=False) as client:
        url, state = client.create_authorization_url(zoom.url + '/oauth/authorize', code_challenge=CHALLENGE,
                                                     code_challenge_method='S256')
        assert f'code_challenge={CHALLENGE}' in url and httpx2.get(url, trust_env=False).status_code == 200
        code = zoom.authorize('zoom-dana', code_challenge=CHALLENGE, code_challenge_method='S256', state=state)
        token = client.fetch_token(zoom.url + '/oauth/token', grant_type='authorization_code', code=code,
                                   code_verifier=VERIFIER)
        renewed = client.refresh_token(zoom.url + '/oauth/token', refresh_token=token['refresh_token'])
        assert renewed['refresh_token'] != token['refresh_token']
        assert client.revoke_token(zoom.url + '/oauth/revoke', token=renewed['access_token']).json() == {
            'status': 'success'}
