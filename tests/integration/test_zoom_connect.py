"""Connecting Zoom: the admin's link, PKCE S256, single-use state, and a readable page for every failure."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from helpers import handler, oauth_event
from integration_stack import ZOOM_REDIRECT_URI, connect_zoom

from meetbridge.store.models import AccountItem, tenant_pk
from meetbridge.store.repository import account_used_by


def _start(stack, provider_id=None, return_url=None) -> dict:
    status, link = stack.admin('POST', 'connections/zoom/connect-link',
                               {'provider_id': provider_id, 'return_url': return_url})
    assert status == 200
    intent = parse_qs(urlsplit(link['url']).query)['intent'][0]
    started = handler('oauth')(oauth_event('zoom', 'start', {'intent': intent}), stack.context)
    assert started['statusCode'] == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(started['headers']['Location']).query).items()}


def _callback(stack, query: dict) -> dict:
    return handler('oauth')(oauth_event('zoom', 'callback', query), stack.context)


def _stored_text(stack) -> str:
    return json.dumps([item.attribute_values for item in AccountItem.query(tenant_pk(stack.tenant.tenant_id))],
                      default=str)


def test_the_company_connects_zoom_through_consent(stack, zoom):
    flow = connect_zoom(stack, zoom)

    authorize = flow['authorize']
    assert authorize['code_challenge_method'] == ['S256'] and authorize['redirect_uri'] == [ZOOM_REDIRECT_URI]
    assert flow['page']['statusCode'] == 200 and 'owner@zoom.example' in flow['page']['body']
    status, account = stack.admin('GET', 'accounts/default')
    assert status == 200 and account['type'] == 'zoom' and account['status'] == 'active'
    assert account['email'] == 'owner@zoom.example'
    # Tokens are sealed: neither the access nor the refresh token is readable in the table.
    from meetbridge.store.tokens import open_state
    item = account_used_by(stack.tenant.tenant_id, 'company')
    opened = open_state(item, stack.tenant.tenant_id)
    stored = _stored_text(stack)
    assert opened['access_token'] and opened['access_token'] not in stored and opened['refresh_token'] not in stored


def test_a_connect_link_can_return_to_the_booking_platform(stack, zoom):
    assert stack.admin('PUT', 'settings/return-origins', {'origins': ['https://platform.example']})[0] == 200
    query = _start(stack, return_url='https://platform.example/settings?tab=video')
    code = zoom.authorize('zoom-owner', code_challenge=query['code_challenge'], code_challenge_method='S256',
                          redirect_uri=query['redirect_uri'], state=query['state'])

    page = _callback(stack, {'code': code, 'state': query['state']})

    assert page['statusCode'] == 302
    assert page['headers']['Location'] == 'https://platform.example/settings?tab=video&connected=zoom'


def test_denied_consent_reused_state_and_reused_code_get_pages_not_errors(stack, zoom):
    query = _start(stack)
    denied = _callback(stack, {'error': 'access_denied', 'state': query['state']})
    assert denied['statusCode'] == 400 and 'Connection cancelled' in denied['body']

    query = _start(stack)
    code = zoom.authorize('zoom-owner', code_challenge=query['code_challenge'], code_challenge_method='S256',
                          redirect_uri=query['redirect_uri'], state=query['state'])
    assert _callback(stack, {'code': code, 'state': query['state']})['statusCode'] == 200
    reused_state = _callback(stack, {'code': code, 'state': query['state']})
    assert reused_state['statusCode'] == 400 and 'already used' in reused_state['body']

    # The same code with a fresh state: Zoom refuses a code twice.
    fresh = _start(stack)
    reused_code = _callback(stack, {'code': code, 'state': fresh['state']})
    assert reused_code['statusCode'] == 400 and 'did not accept' in reused_code['body']


def test_unknown_or_expired_links_and_states_get_pages(stack, zoom):
    unknown = handler('oauth')(oauth_event('zoom', 'start', {'intent': 'made-up'}), stack.context)
    assert unknown['statusCode'] == 400 and 'expired' in unknown['body']
    missing = handler('oauth')(oauth_event('zoom', 'start', {}), stack.context)
    assert missing['statusCode'] == 400
    assert _callback(stack, {'code': 'x', 'state': 'made-up'})['statusCode'] == 400
    assert _callback(stack, {})['statusCode'] == 400
    other = handler('oauth')(oauth_event('webex', 'start', {'intent': 'x'}), stack.context)
    assert other['statusCode'] == 404


def test_a_code_issued_for_another_redirect_uri_is_refused(stack, zoom):
    other_uri = 'https://elsewhere.test/oauth/zoom/callback'
    zoom.allow_redirect_uri(other_uri)
    query = _start(stack)
    code = zoom.authorize('zoom-owner', code_challenge=query['code_challenge'], code_challenge_method='S256',
                          redirect_uri=other_uri, state=query['state'])

    page = _callback(stack, {'code': code, 'state': query['state']})

    assert page['statusCode'] == 400
    assert stack.admin('GET', 'accounts/default')[0] == 404


def test_a_provider_connects_their_own_zoom(stack, zoom):
    stack.setup_online_service()
    flow = connect_zoom(stack, zoom, user_id='zoom-eli', provider_id='dana')

    assert flow['page']['statusCode'] == 200
    status, account = stack.admin('GET', 'providers/dana/account')
    assert status == 200 and account['type'] == 'zoom' and account['email'] == 'eli@zoom.example'
    assert stack.admin('POST', 'connections/zoom/connect-link', {'provider_id': 'nobody'})[0] == 404
    assert stack.admin('POST', 'connections/zoom/connect-link', {'return_url': 'http://evil.test/'})[0] == 400


def test_a_connect_link_works_once(stack, zoom):
    status, link = stack.admin('POST', 'connections/zoom/connect-link', {})
    intent = parse_qs(urlsplit(link['url']).query)['intent'][0]
    first = handler('oauth')(oauth_event('zoom', 'start', {'intent': intent}), stack.context)
    second = handler('oauth')(oauth_event('zoom', 'start', {'intent': intent}), stack.context)

    assert first['statusCode'] == 302
    assert second['statusCode'] == 400 and 'already used' in second['body']


def test_rotated_app_credentials_reach_a_warm_container(stack, zoom):
    import boto3
    from aws_lambda_powertools.utilities import parameters

    from meetbridge.providers import zoom as zoom_provider
    before = zoom_provider.credentials()['webhook_secret_token']
    arn = boto3.client('secretsmanager').list_secrets()['SecretList'][0]['ARN']
    boto3.client('secretsmanager').put_secret_value(SecretId=arn, SecretString=json.dumps(
        {'client_id': zoom.client_id, 'client_secret': zoom.client_secret, 'webhook_secret_token': 'rotated'}))
    parameters.clear_caches()  # stands for the five minutes Powertools keeps a value

    assert (before, zoom_provider.credentials()['webhook_secret_token']) == ('zoom-webhook-secret', 'rotated')


def test_wrong_app_credentials_end_on_a_page(stack, zoom):
    import boto3
    from aws_lambda_powertools.utilities import parameters
    arn = boto3.client('secretsmanager').list_secrets()['SecretList'][0]['ARN']
    boto3.client('secretsmanager').put_secret_value(SecretId=arn, SecretString=json.dumps(
        {'client_id': zoom.client_id, 'client_secret': 'the-development-secret', 'webhook_secret_token': 'x'}))
    parameters.clear_caches()
    query = _start(stack)
    code = zoom.authorize('zoom-owner', code_challenge=query['code_challenge'], code_challenge_method='S256',
                          redirect_uri=query['redirect_uri'], state=query['state'])

    page = _callback(stack, {'code': code, 'state': query['state']})

    assert page['statusCode'] == 400 and 'did not accept' in page['body']
    assert 'the-development-secret' not in page['body']


def test_return_url_must_be_on_an_origin_the_tenant_registered(stack, zoom):
    def link(return_url):
        return stack.admin('POST', 'connections/zoom/connect-link', {'return_url': return_url})

    status, answer = link('https://platform.example/settings')
    assert status == 400 and answer['field'] == 'return_url' and 'return origins' in answer['message']

    status, origins = stack.admin('PUT', 'settings/return-origins',
                                  {'origins': ['https://Platform.Example:443/', 'https://admin.platform.example:8443']})
    assert status == 200 and origins == {'origins': ['https://admin.platform.example:8443', 'https://platform.example']}
    assert stack.admin('GET', 'settings/return-origins') == (200, origins)

    assert link('https://platform.example/settings?tab=video')[0] == 200
    assert link('https://admin.platform.example:8443/back')[0] == 200
    for elsewhere in ('https://evil.example/', 'https://platform.example.evil.example/', 'http://platform.example/',
                      'https://admin.platform.example/back', 'https://platform.example@evil.example/',
                      'javascript:alert(1)', '//platform.example/', 'https://platform.example:bad/'):
        status, answer = link(elsewhere)
        assert status == 400 and answer['field'] == 'return_url', elsewhere

    for bad in (['https://platform.example/path'], ['http://platform.example'], ['ftp://platform.example'],
                ['https://platform.example?x=1'], ['https://a.example'] * 21):
        status, answer = stack.admin('PUT', 'settings/return-origins', {'origins': bad})
        assert status == 400 and answer['field'].startswith('origins'), bad

    assert stack.admin('PUT', 'settings/return-origins', {'origins': []}) == (200, {'origins': []})
    assert link('https://platform.example/settings')[0] == 400


@pytest.mark.usefixtures('account_events')  # the disconnect's reconciliation runs, and with it the revocation
def test_disconnecting_one_of_two_accounts_of_the_same_zoom_user_keeps_the_authorisation_the_other_needs(stack, zoom):
    """Zoom's authorisation is one per user and app: revoking it for one account would end the other's access."""
    stack.setup_online_service()
    assert connect_zoom(stack, zoom)['page']['statusCode'] == 200
    assert connect_zoom(stack, zoom, provider_id='dana')['page']['statusCode'] == 200  # the same Zoom user
    zoom.reset_calls()

    assert stack.admin('DELETE', 'providers/dana/account')[0] == 200
    stack.pump()
    assert [c for c in zoom.calls() if c['operation'] == 'revoke'] == []
    assert account_used_by(stack.tenant.tenant_id, 'provider:dana').secret_sealed is None
    assert stack.admin('GET', 'accounts/default')[1]['status'] == 'active'

    assert stack.admin('DELETE', 'accounts/default')[0] == 200  # the last account of that user: revoked
    stack.pump()
    assert [c['operation'] for c in zoom.calls() if c['operation'] == 'revoke'] == ['revoke']
