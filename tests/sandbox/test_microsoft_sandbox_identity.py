"""Entra ID over plain HTTP: discovery, the authorize and consent pages, the redirects back, and the
token endpoint's client authentication, grants and error bodies."""

import base64
import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from test_microsoft_support import (CHALLENGE_PAIR, DANA, ORG_TENANT, OWNER, PERSONAL, REDIRECT_URI, ms)

from infra.sandboxes.microsoft import client_info, jwt_claims

__all__ = ['ms']

FULL_SCOPE = 'OnlineMeetings.ReadWrite User.Read openid profile offline_access'
VERIFIER, CHALLENGE = CHALLENGE_PAIR


@pytest.fixture(autouse=True)
def clean(ms):
    ms.clear_faults()
    ms.reset_calls()
    ms.allow_personal_accounts_on_organizations = False


def authorize_params(ms, **params):
    query = {'client_id': ms.client_id, 'response_type': 'code', 'redirect_uri': REDIRECT_URI, 'scope': FULL_SCOPE,
             'state': 'st-1', 'nonce': 'n-1', 'code_challenge': CHALLENGE, 'code_challenge_method': 'S256', **params}
    return {k: v for k, v in query.items() if v is not None}


def authorize_url(ms, tenant='organizations', **params):
    return f'{ms.url}/{tenant}/oauth2/v2.0/authorize?' + urlencode(authorize_params(ms, **params))


def decide(http, ms, decision='accept', user_id=OWNER, tenant='organizations', **params):
    form = {**authorize_params(ms, **params), 'user_id': user_id, 'decision': decision}
    return http.post(f'{ms.url}/{tenant}/oauth2/v2.0/authorize/decision', data=form)


def location(response):
    parts = urlsplit(response.headers['location'])
    return parts, {k: v[0] for k, v in parse_qs(parts.query).items()}


def code_for(http, ms, user_id=OWNER, **params):
    response = decide(http, ms, user_id=user_id, **params)
    assert response.status_code == 302, response.text
    return location(response)[1]['code']


def token(http, ms, tenant='organizations', auth=None, **form):
    return http.post(f'{ms.url}/{tenant}/oauth2/v2.0/token', data=form, auth=auth)


def redeem(http, ms, code, **extra):
    form = {'client_id': ms.client_id, 'client_secret': ms.client_secret, 'grant_type': 'authorization_code',
            'code': code, 'redirect_uri': REDIRECT_URI, 'code_verifier': VERIFIER, **extra}
    return token(http, ms, **{k: v for k, v in form.items() if v is not None})


def assert_entra_error(response, status, error, code):
    assert response.status_code == status, response.text
    body = response.json()
    assert body['error'] == error and body['error_codes'] == [code], body
    assert body['error_description'].startswith(f'AADSTS{code}: ')
    assert {'timestamp', 'trace_id', 'correlation_id', 'error_uri'} <= set(body)
    assert 'no-store' in response.headers['cache-control']
    return body


# --- discovery ---


@pytest.mark.parametrize('tenant', ['organizations', 'common', 'consumers', ORG_TENANT, 'contoso.example'])
def test_discovery_answers_for_each_kind_of_tenant_whatever_the_host_header(http, ms, tenant):
    response = http.get(f'{ms.url}/{tenant}/v2.0/.well-known/openid-configuration',
                        headers={'Host': ms.authority_host})
    assert response.status_code == 200 and response.headers['content-type'].startswith('application/json')
    document = response.json()
    assert document['authorization_endpoint'] == f'{ms.url}/{tenant}/oauth2/v2.0/authorize'  # the browser's, http
    assert document['token_endpoint'] == f'https://{ms.authority_host}/{tenant}/oauth2/v2.0/token'  # MSAL: https only
    assert document['jwks_uri'].startswith(f'https://{ms.authority_host}/')
    assert document['response_modes_supported'] == ['query', 'fragment', 'form_post']
    assert {'openid', 'profile', 'offline_access'} <= set(document['scopes_supported'])
    assert document['issuer'].startswith('https://login.microsoftonline.com/')


def test_unknown_tenants_are_invalid_tenant(http, ms):
    for tenant in ('22222222-2222-2222-2222-222222222222', 'fabrikam.example'):
        response = http.get(f'{ms.url}/{tenant}/v2.0/.well-known/openid-configuration')
        assert_entra_error(response, 400, 'invalid_tenant', 90002)
    page = http.get(authorize_url(ms, tenant='fabrikam.example'))
    assert page.status_code == 400 and 'AADSTS90002' in page.text


def test_the_jwks_is_a_stub(http, ms):
    assert http.get(f'{ms.url}/organizations/discovery/v2.0/keys').json() == {'keys': []}


# --- authorize: the consent page and Entra's own error pages ---


def test_consent_page_lists_permissions_users_and_accept_cancel(http, ms):
    page = http.get(authorize_url(ms))
    assert page.status_code == 200 and page.headers['content-type'].startswith('text/html')
    html = page.text
    assert 'Permissions requested' in html and ms.app_name in html
    assert 'action="/organizations/oauth2/v2.0/authorize/decision"' in html and 'method="post"' in html
    assert html.index(f'value="{OWNER}"') < html.index(f'value="{DANA}"') < html.index(f'value="{PERSONAL}"')
    assert 'Read and create your online meetings' in html and 'Sign you in and read your profile' in html
    assert '>Accept</button>' in html and '>Cancel</button>' in html
    for hidden in (ms.client_id, REDIRECT_URI, 'st-1', 'n-1', CHALLENGE, 'S256'):
        assert f'value="{hidden}"' in html
    assert ms.calls() == [{'method': 'GET', 'path': '/organizations/oauth2/v2.0/authorize', 'operation': 'authorize',
                           'status': 200}]


def test_login_hint_preselects_the_user(http, ms):
    html = http.get(authorize_url(ms, login_hint='dana@contoso.example')).text
    assert f'value="{DANA}" selected' in html


def test_an_unknown_client_id_is_an_error_page_700016(http, ms):
    page = http.get(authorize_url(ms, client_id='someone-else'))
    assert page.status_code == 400 and 'AADSTS700016' in page.text and 'location' not in page.headers
    assert 'having trouble signing you in' in page.text
    assert 'AADSTS900144' in http.get(authorize_url(ms, client_id=None)).text


@pytest.mark.parametrize('redirect_uri', [
    REDIRECT_URI + '/', REDIRECT_URI.replace('https:', 'http:'), REDIRECT_URI.replace('app.example', 'evil.example'),
    REDIRECT_URI.replace('callback', 'Callback'), REDIRECT_URI + '?x=1',
], ids=['trailing-slash', 'scheme', 'host', 'path-case', 'extra-query'])
def test_an_unregistered_redirect_uri_is_an_error_page_50011_without_redirect(http, ms, redirect_uri):
    page = http.get(authorize_url(ms, redirect_uri=redirect_uri))
    assert page.status_code == 400 and 'AADSTS50011' in page.text and 'location' not in page.headers
    with pytest.raises(ValueError, match='AADSTS50011'):
        ms.authorize(OWNER, authorize_url(ms, redirect_uri=redirect_uri))


def test_a_missing_redirect_uri_is_an_error_page(http, ms):
    page = http.get(authorize_url(ms, redirect_uri=None))
    assert page.status_code == 400 and 'AADSTS900144' in page.text


@pytest.mark.parametrize('params, error, code', [
    ({'scope': 'OnlineMeetings.ReadWrite.All offline_access openid'}, 'invalid_scope', 650053),
    ({'scope': 'https://graph.microsoft.com/Mail.Read'}, 'invalid_scope', 650053),
    ({'scope': 'https://graph.microsoft.com/.default User.Read'}, 'invalid_scope', 70011),
    ({'scope': None}, 'invalid_request', 900144),
    ({'response_type': 'token'}, 'unsupported_response_type', 700051),
    ({'response_type': None}, 'invalid_request', 900144),
    ({'code_challenge': 'short'}, 'invalid_request', 501491),
    ({'code_challenge_method': 'S512'}, 'invalid_request', 90100),
    ({'prompt': 'none'}, 'login_required', 50058),
    ({'prompt': 'sometimes'}, 'invalid_request', 90100),
], ids=['application-permission', 'other-scope', 'default-mixed', 'no-scope', 'token', 'no-response-type',
        'short-challenge', 'method', 'prompt-none', 'prompt-bad'])
def test_request_errors_go_back_to_the_app_with_error_and_state(http, ms, params, error, code):
    response = http.get(authorize_url(ms, **params))
    assert response.status_code == 302
    parts, query = location(response)
    assert f'{parts.scheme}://{parts.netloc}{parts.path}' == REDIRECT_URI
    assert query['error'] == error and query['error_description'].startswith(f'AADSTS{code}: ')
    assert query['state'] == 'st-1' and 'code' not in query
    answer = ms.authorize(OWNER, authorize_url(ms, **params))
    assert answer['error'] == error and answer['state'] == 'st-1'


def test_an_application_permission_says_it_does_not_exist_on_the_resource(http, ms):
    _, query = location(http.get(authorize_url(ms, scope='OnlineMeetings.ReadWrite.All')))
    assert "asked for scope 'OnlineMeetings.ReadWrite.All' that doesn't exist on the resource" in \
        query['error_description']


def test_reserved_and_prefixed_scopes_are_fine_here(http, ms):
    for scope in ('openid profile offline_access', 'https://graph.microsoft.com/OnlineMeetings.ReadWrite openid',
                  'onlinemeetings.readwrite USER.READ', 'https://graph.microsoft.com/.default offline_access'):
        assert http.get(authorize_url(ms, scope=scope)).status_code == 200, scope


def test_an_unsupported_response_mode_is_an_error_page(http, ms):
    page = http.get(authorize_url(ms, response_mode='web_message'))
    assert page.status_code == 400 and 'AADSTS90100' in page.text


# --- the decision: accept, cancel, response modes, who may sign in where ---


def test_accept_redirects_with_code_state_and_session_state(http, ms):
    response = decide(http, ms)
    assert response.status_code == 302 and response.headers['cache-control'] == 'no-store'
    parts, query = location(response)
    assert f'{parts.scheme}://{parts.netloc}{parts.path}' == REDIRECT_URI
    assert set(query) == {'code', 'state', 'session_state'} and query['state'] == 'st-1'
    with_info = location(decide(http, ms, client_info='1'))[1]
    assert with_info['client_info'] == client_info(OWNER, ORG_TENANT)


def test_fragment_and_form_post_response_modes(http, ms):
    fragment = decide(http, ms, response_mode='fragment')
    parts = urlsplit(fragment.headers['location'])
    assert parts.query == '' and set(parse_qs(parts.fragment)) == {'code', 'state', 'session_state'}

    posted = decide(http, ms, response_mode='form_post')
    assert posted.status_code == 200 and 'location' not in posted.headers
    html = posted.text
    assert f'action="{REDIRECT_URI}"' in html and 'document.forms[0].submit()' in html
    assert re.search(r'name="code" value="[^"]+"', html) and 'name="state" value="st-1"' in html


def test_cancel_redirects_with_access_denied_65004(http, ms):
    _, query = location(decide(http, ms, decision='cancel'))
    assert query['error'] == 'access_denied' and query['state'] == 'st-1'
    assert query['error_description'].startswith('AADSTS65004: User declined to consent')


def test_the_decision_checks_everything_again(http, ms):
    assert 'AADSTS50011' in decide(http, ms, redirect_uri='https://evil.example/cb').text
    assert 'AADSTS700016' in decide(http, ms, client_id='other').text
    assert 'AADSTS50034' in decide(http, ms, user_id='99999999-9999-9999-9999-999999999999').text
    assert 'AADSTS90100' in decide(http, ms, decision='maybe').text


def test_personal_accounts_are_refused_on_organizations_unless_the_switch_is_on(http, ms):
    page = decide(http, ms, user_id=PERSONAL)
    assert page.status_code == 400 and 'AADSTS500200' in page.text and 'personal' in page.text
    ms.allow_personal_accounts_on_organizations = True
    assert decide(http, ms, user_id=PERSONAL).status_code == 302
    ms.allow_personal_accounts_on_organizations = False
    assert decide(http, ms, user_id=PERSONAL, tenant='common').status_code == 302


def test_a_tenant_guid_authority_admits_only_its_own_users(http, ms):
    assert decide(http, ms, user_id=OWNER, tenant=ORG_TENANT).status_code == 302
    refused = decide(http, ms, user_id=PERSONAL, tenant=ORG_TENANT)
    assert refused.status_code == 400 and 'AADSTS50020' in refused.text
    assert 'AADSTS50020' in decide(http, ms, user_id=OWNER, tenant='consumers').text


def test_authorize_also_accepts_a_form_post(http, ms):
    page = http.post(f'{ms.url}/organizations/oauth2/v2.0/authorize', data=authorize_params(ms))
    assert page.status_code == 200 and 'Permissions requested' in page.text


# --- the token endpoint ---


def test_the_code_grant_answers_like_entra(http, ms):
    response = redeem(http, ms, code_for(http, ms), client_info='1')
    assert response.status_code == 200 and 'no-store' in response.headers['cache-control']
    body = response.json()
    assert set(body) == {'token_type', 'scope', 'expires_in', 'ext_expires_in', 'access_token', 'refresh_token',
                         'id_token', 'client_info'}
    assert body['token_type'] == 'Bearer' and body['expires_in'] == body['ext_expires_in'] == 3599
    assert body['scope'].split() == ['OnlineMeetings.ReadWrite', 'User.Read', 'openid', 'profile', 'offline_access']
    header = base64.urlsafe_b64decode(body['id_token'].split('.')[0] + '==')
    assert header == b'{"alg":"RS256","typ":"JWT","kid":"sandbox"}'
    claims = jwt_claims(body['id_token'])
    assert claims['nonce'] == 'n-1' and claims['aud'] == ms.client_id and claims['tid'] == ORG_TENANT
    assert {'iat', 'nbf', 'exp', 'sub', 'oid', 'preferred_username', 'name', 'iss'} <= set(claims)
    assert claims['exp'] > claims['iat']
    assert jwt_claims(body['access_token'])['scp'] == 'OnlineMeetings.ReadWrite User.Read'


def test_without_openid_offline_access_or_client_info_there_is_no_id_token_refresh_token_or_client_info(http, ms):
    body = redeem(http, ms, code_for(http, ms, scope='OnlineMeetings.ReadWrite User.Read')).json()
    assert 'access_token' in body and not {'id_token', 'refresh_token', 'client_info'} & set(body)


def test_http_basic_client_authentication_works_too(http, ms):
    code = code_for(http, ms)
    response = token(http, ms, auth=(ms.client_id, ms.client_secret), grant_type='authorization_code', code=code,
                     redirect_uri=REDIRECT_URI, code_verifier=VERIFIER)
    assert response.status_code == 200, response.text


@pytest.mark.parametrize('form, auth, status, error, code', [
    ({'client_secret': 'wrong'}, None, 401, 'invalid_client', 7000215),
    ({'client_secret': None}, None, 401, 'invalid_client', 7000218),
    ({'client_secret': None}, ('sandbox-ms-client-id', 'wrong'), 401, 'invalid_client', 7000215),
    ({'client_id': 'other-app'}, None, 400, 'unauthorized_client', 700016),
    ({'client_id': None, 'client_secret': None}, None, 400, 'invalid_request', 900144),
    ({'client_assertion': 'eyJ.x.y'}, None, 401, 'invalid_client', 700027),
], ids=['wrong-secret', 'no-secret', 'wrong-basic', 'unknown-client', 'no-client', 'assertion'])
def test_client_authentication_failures(http, ms, form, auth, status, error, code):
    base = {'client_id': ms.client_id, 'client_secret': ms.client_secret, 'grant_type': 'authorization_code',
            'code': 'x', 'redirect_uri': REDIRECT_URI, **form}
    assert_entra_error(token(http, ms, auth=auth, **{k: v for k, v in base.items() if v is not None}),
                       status, error, code)


def test_a_client_failure_does_not_burn_the_code(http, ms):
    code = code_for(http, ms)
    assert redeem(http, ms, code, client_secret='wrong').status_code == 401
    assert redeem(http, ms, code).status_code == 200


def test_code_grant_failures(http, ms):
    assert_entra_error(redeem(http, ms, 'not-a-code'), 400, 'invalid_grant', 9002313)
    assert_entra_error(redeem(http, ms, None), 400, 'invalid_request', 900144)
    assert_entra_error(redeem(http, ms, code_for(http, ms), redirect_uri=None), 400, 'invalid_grant', 500112)
    assert_entra_error(redeem(http, ms, code_for(http, ms), code_verifier=None), 400, 'invalid_grant', 50148)
    assert_entra_error(redeem(http, ms, code_for(http, ms), code_verifier='x' * 43), 400, 'invalid_grant', 501481)
    burnt = code_for(http, ms)
    assert redeem(http, ms, burnt, code_verifier='x' * 43).status_code == 400
    assert_entra_error(redeem(http, ms, burnt), 400, 'invalid_grant', 54005)  # one attempt per code


def test_a_token_request_cannot_widen_the_consent(http, ms):
    body = assert_entra_error(redeem(http, ms, code_for(http, ms), scope='Calendars.ReadWrite openid'),
                              400, 'invalid_grant', 65001)
    assert body['suberror'] == 'consent_required'
    narrower = redeem(http, ms, code_for(http, ms), scope='https://graph.microsoft.com/User.Read offline_access')
    assert jwt_claims(narrower.json()['access_token'])['scp'] == 'User.Read'


def test_refresh_grant_failures_and_a_narrower_refresh(http, ms):
    tokens = redeem(http, ms, code_for(http, ms, user_id=DANA)).json()
    base = {'client_id': ms.client_id, 'client_secret': ms.client_secret, 'grant_type': 'refresh_token'}
    assert_entra_error(token(http, ms, **base), 400, 'invalid_request', 900144)
    assert_entra_error(token(http, ms, **base, refresh_token='garbage'), 400, 'invalid_grant', 9002313)
    narrower = token(http, ms, **base, refresh_token=tokens['refresh_token'], scope='User.Read')
    assert narrower.status_code == 200 and jwt_claims(narrower.json()['access_token'])['scp'] == 'User.Read'
    assert 'nonce' not in jwt_claims(narrower.json()['id_token'])


@pytest.mark.parametrize('grant_type, error, code', [(None, 'invalid_request', 900144),
                                                     ('password', 'unsupported_grant_type', 70003)])
def test_grant_type_problems(http, ms, grant_type, error, code):
    form = {'client_id': ms.client_id, 'client_secret': ms.client_secret, 'grant_type': grant_type}
    assert_entra_error(token(http, ms, **{k: v for k, v in form.items() if v is not None}), 400, error, code)


def test_the_token_endpoint_wants_a_form_post(http, ms):
    assert_entra_error(http.get(f'{ms.url}/organizations/oauth2/v2.0/token'), 400, 'invalid_request', 900561)
    assert_entra_error(http.post(f'{ms.url}/organizations/oauth2/v2.0/token', json={'grant_type': 'x'}),
                       400, 'invalid_request', 900144)
    bad = http.post(f'{ms.url}/organizations/oauth2/v2.0/token', content=b'\xff\xfe',
                    headers={'Content-Type': 'application/x-www-form-urlencoded'})
    assert bad.status_code == 400
    bad_basic = http.post(f'{ms.url}/organizations/oauth2/v2.0/token', data={'grant_type': 'refresh_token'},
                          headers={'Authorization': 'Basic %%%'})
    assert_entra_error(bad_basic, 401, 'invalid_client', 7000215)


def test_the_correlation_id_echoes_the_client_request_id(http, ms):
    request_id = '5d2ad1ce-0000-4000-8000-000000000001'
    response = http.post(f'{ms.url}/organizations/oauth2/v2.0/token', data={'grant_type': 'authorization_code'},
                         headers={'client-request-id': request_id})
    assert response.json()['correlation_id'] == request_id
