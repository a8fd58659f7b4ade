"""Real MSAL Python against the sandbox: the auth-code flow (PKCE, state, the nonce echo, client_info),
silent refresh, revocation, and each way Entra refuses a code exchange."""

import json
import time

import msal
import pytest
from test_microsoft_support import (DANA, MSA_TENANT, ORG_TENANT, OWNER, PERSONAL, REDIRECT_URI, SCOPES, auth_query,
                                    connect, graph, ms, msal_app, start_flow)

from infra.sandboxes.microsoft import client_info, nonce_hash

__all__ = ['ms']  # the module-scoped sandbox fixture


@pytest.fixture(autouse=True)
def clean(ms):
    ms.clear_faults()
    ms.reset_calls()
    ms.allow_personal_accounts_on_organizations = False


def age_msal_access_tokens(cache: msal.SerializableTokenCache) -> None:
    """What an hour passing does to MSAL's cache: its access tokens are expired (MSAL keeps real time)."""
    state = json.loads(cache.serialize())
    for entry in state.get('AccessToken', {}).values():
        entry['expires_on'] = entry['extended_expires_on'] = str(int(time.time()) - 1)
    cache.deserialize(json.dumps(state))


def test_the_auth_code_flow_succeeds_with_tid_home_account_and_the_nonce_echo(ms):
    app = msal_app(ms)
    flow = start_flow(app)
    query = auth_query(flow['auth_uri'])
    assert flow['auth_uri'].startswith(ms.url + '/organizations/oauth2/v2.0/authorize?')
    assert query['code_challenge_method'] == 'S256' and query['response_mode'] == 'form_post'
    assert query['nonce'] == nonce_hash(flow['nonce'])  # TV-9: MSAL sends the hash, keeps the raw nonce
    assert set(query['scope'].split()) == {'OnlineMeetings.ReadWrite', 'User.Read', 'openid', 'profile',
                                           'offline_access'}

    response = ms.authorize(OWNER, flow['auth_uri'])
    assert set(response) == {'code', 'state', 'client_info', 'session_state'}
    assert response['state'] == flow['state'] and response['client_info'] == client_info(OWNER, ORG_TENANT)

    result = app.acquire_token_by_auth_code_flow(flow, response)  # MSAL raises if the nonce is not echoed
    claims = result['id_token_claims']
    assert claims['tid'] == ORG_TENANT and claims['oid'] == OWNER and claims['aud'] == ms.client_id
    assert claims['nonce'] == query['nonce'] and claims['preferred_username'] == 'owner@contoso.example'
    assert claims['iss'] == f'https://login.microsoftonline.com/{ORG_TENANT}/v2.0'
    assert result['token_type'] == 'Bearer' and result['expires_in'] == 3599 and result['refresh_token']
    assert result['client_info'] == client_info(OWNER, ORG_TENANT)
    [account] = app.get_accounts()
    assert account['home_account_id'] == f'{OWNER}.{ORG_TENANT}'  # TV-10
    assert account['username'] == 'owner@contoso.example' and account['environment'] == ms.authority_host
    assert [c['operation'] for c in ms.calls()] == ['discovery', 'token']


def test_msal_refuses_an_id_token_whose_nonce_is_not_the_flows(ms):
    app = msal_app(ms)
    flow = start_flow(app)
    response = ms.authorize(OWNER, flow['auth_uri'])
    flow['nonce'] = 'somethingelse123'  # as if the IdP had echoed another nonce
    with pytest.raises(RuntimeError, match='nonce'):
        app.acquire_token_by_auth_code_flow(flow, response)


def test_query_response_mode_and_a_tenant_guid_authority_work_too(ms):
    app = msal_app(ms, authority=f'https://{ms.authority_host}/{ORG_TENANT}')
    with pytest.warns(UserWarning, match='form_post'):  # MSAL recommends form_post, and says so
        flow = app.initiate_auth_code_flow(SCOPES, redirect_uri=REDIRECT_URI, response_mode='query')
    result = app.acquire_token_by_auth_code_flow(flow, ms.authorize(DANA, flow['auth_uri']))
    assert result['id_token_claims']['oid'] == DANA
    assert app.get_accounts()[0]['realm'] == ORG_TENANT


@pytest.mark.parametrize('reserved', ['offline_access', 'openid', 'profile'])
def test_msal_itself_raises_on_reserved_scopes(ms, reserved):
    with pytest.raises(ValueError, match='reserved'):
        msal_app(ms).initiate_auth_code_flow(['OnlineMeetings.ReadWrite', reserved], redirect_uri=REDIRECT_URI)


def test_an_application_permission_comes_back_as_invalid_scope(ms):
    app = msal_app(ms)
    flow = start_flow(app, ['OnlineMeetings.ReadWrite.All'])
    response = ms.authorize(OWNER, flow['auth_uri'])
    assert response['error'] == 'invalid_scope' and response['state'] == flow['state']
    assert "doesn't exist on the resource" in response['error_description']
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert result['error'] == 'invalid_scope'
    assert ms.calls('token') == []


def test_cancel_at_consent_is_access_denied(ms):
    app = msal_app(ms)
    flow = start_flow(app)
    response = ms.authorize(OWNER, flow['auth_uri'], accept=False)
    assert response['error'] == 'access_denied' and response['error_description'].startswith('AADSTS65004')
    assert app.acquire_token_by_auth_code_flow(flow, response)['error'] == 'access_denied'


def test_a_redeemed_code_cannot_be_redeemed_again(ms):
    app = msal_app(ms)
    flow = start_flow(app)
    response = ms.authorize(OWNER, flow['auth_uri'])
    assert 'access_token' in app.acquire_token_by_auth_code_flow(flow, response)
    again = app.acquire_token_by_auth_code_flow(flow, response)
    assert again['error'] == 'invalid_grant' and again['error_codes'] == [54005]
    assert 'already redeemed' in again['error_description']


def test_a_code_expires(ms):
    app = msal_app(ms)
    flow = start_flow(app)
    response = ms.authorize(OWNER, flow['auth_uri'])
    ms.advance(ms.code_ttl + 1)
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert result['error'] == 'invalid_grant' and result['error_codes'] == [70008]


def test_another_redirect_uri_at_the_token_endpoint_is_invalid_grant(ms):
    app = msal_app(ms)
    flow = start_flow(app)
    response = ms.authorize(OWNER, flow['auth_uri'])
    flow['redirect_uri'] = REDIRECT_URI + '/'
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert result['error'] == 'invalid_grant' and result['error_codes'] == [500112]


def test_a_tampered_pkce_verifier_is_invalid_grant(ms):
    app = msal_app(ms)
    flow = start_flow(app)
    response = ms.authorize(OWNER, flow['auth_uri'])
    flow['code_verifier'] = flow['code_verifier'][::-1]
    result = app.acquire_token_by_auth_code_flow(flow, response)
    assert result['error'] == 'invalid_grant' and result['error_codes'] == [501481]


def test_a_wrong_client_secret_is_invalid_client(ms):
    app = msal_app(ms, secret='not-the-secret')
    flow = start_flow(app)
    result = app.acquire_token_by_auth_code_flow(flow, ms.authorize(OWNER, flow['auth_uri']))
    assert result['error'] == 'invalid_client' and result['error_codes'] == [7000215]


def test_a_state_mismatch_is_msals_own_value_error(ms):
    app = msal_app(ms)
    flow = start_flow(app)
    response = dict(ms.authorize(OWNER, flow['auth_uri']), state='forged')
    with pytest.raises(ValueError, match='state mismatch'):
        app.acquire_token_by_auth_code_flow(flow, response)
    assert ms.calls('token') == []


def test_expired_access_tokens_are_refused_by_graph_and_refreshed_by_msal(ms, http):
    app, result = connect(ms)
    [account] = app.get_accounts()
    ms.expire_access_tokens()
    refused = graph(http, ms, result, 'GET', '/me')
    assert refused.status_code == 401 and refused.json()['error']['code'] == 'InvalidAuthenticationToken'
    assert refused.json()['error']['message'] == 'Lifetime validation failed, the token is expired.'
    # MSAL's cache keeps its own (real) clock: it still hands out the token Graph now refuses…
    cached = app.acquire_token_silent_with_error(SCOPES, account)
    assert cached['access_token'] == result['access_token'] and ms.refresh_count(OWNER) == 0
    # …so after a 401 the app forces a refresh.
    fresh = app.acquire_token_silent_with_error(SCOPES, account, force_refresh=True)
    assert fresh['token_source'] == 'identity_provider' and ms.refresh_count(OWNER) == 1
    assert graph(http, ms, fresh, 'GET', '/me').status_code == 200


def test_when_an_hour_passes_on_both_clocks_msal_refreshes_silently(ms, http):
    cache = msal.SerializableTokenCache()
    app, result = connect(ms, DANA, msal_app(ms, cache=cache))
    before = ms.refresh_count(DANA)
    # A new invocation: a fresh cache from the stored blob, a fresh app.
    stored = msal.SerializableTokenCache()
    stored.deserialize(cache.serialize())
    ms.advance(3600)
    age_msal_access_tokens(stored)
    later = msal_app(ms, cache=stored)
    fresh = later.acquire_token_silent_with_error(SCOPES, later.get_accounts()[0])
    assert fresh['token_source'] == 'identity_provider' and ms.refresh_count(DANA) == before + 1
    assert stored.has_state_changed
    assert graph(http, ms, result, 'GET', '/me').status_code == 401
    assert graph(http, ms, fresh, 'GET', '/me').status_code == 200


def test_revoked_refresh_tokens_give_invalid_grant_50173(ms):
    app, result = connect(ms, DANA)
    ms.revoke_refresh_tokens(DANA)
    error = app.acquire_token_silent_with_error(SCOPES, app.get_accounts()[0], force_refresh=True)
    assert error['error'] == 'invalid_grant' and error['error_codes'] == [50173]
    assert error['suberror'] == 'bad_token' and 'revoked' in error['error_description']
    assert msal_app(ms).acquire_token_by_refresh_token(result['refresh_token'], SCOPES)['error'] == 'invalid_grant'
    _, again = connect(ms, DANA)  # signing in again gives refresh tokens that work
    assert 'access_token' in msal_app(ms).acquire_token_by_refresh_token(again['refresh_token'], SCOPES)


def test_a_used_refresh_token_stays_valid_unlike_zoom(ms):
    _, result = connect(ms, OWNER)
    first = msal_app(ms).acquire_token_by_refresh_token(result['refresh_token'], SCOPES)
    second = msal_app(ms).acquire_token_by_refresh_token(result['refresh_token'], SCOPES)
    assert 'access_token' in first and 'access_token' in second
    assert len({result['refresh_token'], first['refresh_token'], second['refresh_token']}) == 3
    assert 'nonce' not in first['id_token_claims']  # only the code grant echoes a nonce


def test_refresh_tokens_expire_after_ninety_days(ms):
    _, result = connect(ms, OWNER)
    ms.advance(90 * 86400 + 1)
    error = msal_app(ms).acquire_token_by_refresh_token(result['refresh_token'], SCOPES)
    assert error['error'] == 'invalid_grant' and error['error_codes'] == [700082]


def test_a_personal_account_cannot_sign_in_on_organizations(ms):
    flow = start_flow(msal_app(ms))
    with pytest.raises(ValueError, match='AADSTS500200'):
        ms.authorize(PERSONAL, flow['auth_uri'])


def test_a_personal_account_gets_the_msa_tenant_when_let_through(ms):
    ms.allow_personal_accounts_on_organizations = True  # so the app's tid backstop can be tested (TV-11)
    _, result = connect(ms, PERSONAL)
    assert result['id_token_claims']['tid'] == MSA_TENANT
    common = msal_app(ms, authority=f'https://{ms.authority_host}/common')
    ms.allow_personal_accounts_on_organizations = False
    _, on_common = connect(ms, PERSONAL, common)  # `common` lets personal accounts in, always
    assert on_common['id_token_claims']['tid'] == MSA_TENANT
    assert common.get_accounts()[0]['home_account_id'] == f'{PERSONAL}.{MSA_TENANT}'


def test_a_token_endpoint_5xx_is_raised_by_msal_a_4xx_is_returned(ms):
    app = msal_app(ms)
    flow = start_flow(app)
    response = ms.authorize(OWNER, flow['auth_uri'])
    ms.fail('token', 503, headers={'Retry-After': '0'})
    with pytest.raises(msal.exceptions.MsalServiceError, match='503'):  # MSAL raises on 5xx, it does not return
        app.acquire_token_by_auth_code_flow(flow, response)
    ms.fail('token', 400, body={'error': 'invalid_request', 'error_description': 'AADSTS90100: injected'})
    assert app.acquire_token_by_auth_code_flow(flow, response)['error'] == 'invalid_request'
    # MSAL replays an identical failed 400 token request from its own cache for 60 s (pitfall 28)…
    assert app.acquire_token_by_auth_code_flow(flow, response)['error'] == 'invalid_request'
    assert [c['status'] for c in ms.calls('token')] == [503, 400]
    # …another app instance asks again, and the code still works: the faults answered before it was looked at.
    assert 'access_token' in msal_app(ms).acquire_token_by_auth_code_flow(flow, response)
