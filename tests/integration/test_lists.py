"""The tenant's general settings, and the lists of its services, providers and bookings."""

import json
import urllib.parse

import pytest

from meetbridge.logic import listing
from meetbridge.logic.tenants import create_tenant


def test_the_tenants_time_zone_is_utc_until_set_and_only_an_iana_name(stack):
    assert stack.admin('GET', 'settings/general') == (200, {'timezone': 'UTC'})
    assert stack.admin('PUT', 'settings/general', {'timezone': 'Europe/Paris'}) == (200, {'timezone': 'Europe/Paris'})
    assert stack.admin('GET', 'settings/general') == (200, {'timezone': 'Europe/Paris'})
    for bad in ({'timezone': 'Mars/Olympus'}, {'timezone': ''}, {'timezone': 7}, {'timezone': 'UTC', 'zone': 'x'}):
        status, answer = stack.admin('PUT', 'settings/general', bad)
        assert status == 400 and answer['field'] in ('timezone', 'zone'), (bad, answer)
    assert stack.admin('GET', 'settings/general') == (200, {'timezone': 'Europe/Paris'})


def _list(stack, rest: str, **query) -> tuple[int, dict]:
    from helpers import admin_event, handler

    event = admin_event('GET', stack.tenant.tenant_id, rest, stack.tenant.api_key)
    event['queryStringParameters'] = {name: str(value) for name, value in query.items()} or None
    event['rawQueryString'] = urllib.parse.urlencode(query)
    response = handler('admin')(event, stack.context)
    return response['statusCode'], json.loads(response['body'])


@pytest.fixture
def dynamodb_calls(monkeypatch) -> list[str]:
    """The DynamoDB operations made, by name: a list is served by Query alone, never a Scan."""
    from botocore.client import BaseClient

    calls = []
    make_api_call = BaseClient._make_api_call

    def recording(client, operation, params):
        if client.meta.service_model.service_name == 'dynamodb':
            calls.append(operation)
        return make_api_call(client, operation, params)

    monkeypatch.setattr(BaseClient, '_make_api_call', recording)
    return calls


def _every_page(stack, rest: str, limit: int) -> list[list[dict]]:
    pages, cursor = [], None
    while True:
        status, page = _list(stack, rest, limit=limit, **({'next': cursor} if cursor else {}))
        assert status == 200, page
        pages.append(page['items'])
        cursor = page['next']
        if cursor is None:
            return pages


def test_services_and_providers_are_listed_by_id_in_pages_by_query_alone(stack, dynamodb_calls):
    for number in range(7):
        assert stack.admin('PUT', f'services/svc{number}', {'name': f'Service {number}', 'online': number % 2 == 0})[0] == 200
        assert stack.admin('PUT', f'providers/p{number}', {'name': f'Provider {number}'})[0] == 200
    stack.admin('PUT', 'accounts/default', {'type': 'custom_link', 'url': 'https://meet.example.com/r'})
    dynamodb_calls.clear()

    pages = _every_page(stack, 'services', limit=3)
    assert [len(page) for page in pages] == [3, 3, 1]  # the last full page knows it is not the last
    assert [service['id'] for page in pages for service in page] == [f'svc{n}' for n in range(7)]
    assert pages[0][0] == {'id': 'svc0', 'name': 'Service 0', 'online': True, 'kind': 'appointment'}
    assert [len(page) for page in _every_page(stack, 'services', limit=7)] == [7]
    assert [provider['id'] for page in _every_page(stack, 'providers', limit=2) for provider in page] == [
        f'p{n}' for n in range(7)]
    status, page = _list(stack, 'providers')
    assert status == 200 and len(page['items']) == 7 and page['next'] is None
    assert page['items'][0] == {'id': 'p0', 'name': 'Provider 0', 'email': None, 'timezone': None,
                                'company_user': None}
    assert 'Query' in dynamodb_calls and 'Scan' not in dynamodb_calls


def test_a_limit_outside_1_to_200_or_a_cursor_not_handed_out_here_is_400(stack):
    for limit in (0, 201, 'ten'):
        status, answer = _list(stack, 'services', limit=limit)
        assert status == 400 and answer['field'] == 'limit', answer
    assert _list(stack, 'services', limit=200)[0] == 200
    for number in range(3):
        stack.admin('PUT', f'services/svc{number}', {'name': 'S'})
        stack.admin('PUT', f'providers/p{number}', {'name': 'P'})
    services_cursor = _list(stack, 'services', limit=1)[1]['next']
    other = create_tenant('Other Co')
    foreign = listing.encode_cursor(other.tenant_id, 'services', {}, {'pk': f'TENANT#{other.tenant_id}',
                                                                      'sk': 'SERVICE#svc0'})
    outside = listing.encode_cursor(stack.tenant.tenant_id, 'services', {}, {'pk': f'TENANT#{stack.tenant.tenant_id}',
                                                                             'sk': 'KEY#0'})
    for rest, cursor in (('providers', services_cursor), ('services', foreign), ('services', outside),
                         ('services', services_cursor[:-4]), ('services', '%%%'), ('services', 'x' * 3000)):
        status, answer = _list(stack, rest, next=cursor)
        assert status == 400 and answer['field'] == 'next', (rest, cursor, answer)
