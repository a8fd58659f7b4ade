"""PUT/GET/DELETE /v1/tenants/{tenant}/sources/{source}: a booking platform's settings, keys sealed."""

import json

import pytest

PEM = '-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----'
BODIES = {
    'simplybook': ({'company': 'acme', 'api_key': 'sb-api-key-1', 'secret_key': 'sb-secret-key-1',
                    'timezone': 'Europe/Madrid'}, {'company': 'acme', 'timezone': 'Europe/Madrid'}),
    'calcom': ({'secret': 'cal-secret-1'}, {}),
    'calendly': ({'signing_key': 'calendly-key-1'}, {}),
    'acuity': ({'user_id': '123456', 'api_key': 'acuity-key-1'}, {'user_id': '123456'}),
    'square': ({'signature_key': 'sq-sig-1', 'notification_url': 'https://hooks.example.com/webhooks/square/t',
                'access_token': 'sq-token-1'}, {'notification_url': 'https://hooks.example.com/webhooks/square/t'}),
    'wix': ({'public_key': PEM}, {'public_key': PEM}),
}
SECRETS = ('sb-api-key-1', 'sb-secret-key-1', 'cal-secret-1', 'calendly-key-1', 'acuity-key-1', 'sq-sig-1',
           'sq-token-1')


@pytest.mark.parametrize('source', list(BODIES))
def test_a_source_is_configured_shown_without_its_keys_and_removed(stack, source):
    body, shown = BODIES[source]
    tenant_id = stack.tenant.tenant_id

    status, answer = stack.admin('PUT', f'sources/{source}', {**body, 'online': 'all'})

    assert status == 200
    assert answer['webhook_url'] == f'https://api.test/webhooks/{source}/{tenant_id}'
    assert {name: answer[name] for name in shown} == shown and answer['online'] == 'all'
    secrets = set(body) - set(shown)
    assert {f'has_{name}' for name in secrets} == {name for name in answer if name.startswith('has_')}
    assert stack.admin('GET', f'sources/{source}') == (200, answer)
    assert not any(secret in json.dumps(answer) for secret in SECRETS)

    assert stack.admin('DELETE', f'sources/{source}') == (200, answer)
    assert stack.admin('GET', f'sources/{source}')[0] == 404


def test_the_keys_are_sealed_in_the_table(stack):
    from meetbridge.logic.sources import settings_of
    from meetbridge.store.models import SourceItem

    stack.admin('PUT', 'sources/square', BODIES['square'][0])

    item = SourceItem.get(*SourceItem.key(stack.tenant.tenant_id, 'square'))
    stored = json.dumps(item.settings.as_dict()) + repr(item.secret_sealed)
    assert 'sq-token-1' not in stored and 'sq-sig-1' not in stored
    opened = settings_of(stack.tenant.tenant_id, 'square')
    assert opened.access_token.get_secret_value() == 'sq-token-1' and opened.online == 'by_service'


@pytest.mark.parametrize(('source', 'body', 'field'), [
    ('calcom', {}, 'secret'),
    ('calcom', {'secret': ''}, 'secret'),
    ('calcom', {'secret': 's', 'online': 'sometimes'}, 'online'),
    ('calcom', {'secret': 's', 'extra': 1}, 'extra'),
    ('simplybook', {**BODIES['simplybook'][0], 'timezone': 'Mars/Olympus'}, 'timezone'),
    ('simplybook', {**BODIES['simplybook'][0], 'company': 'a b'}, 'company'),
    ('square', {**BODIES['square'][0], 'notification_url': 'http://hooks.example.com/x'}, 'notification_url'),
    ('wix', {'public_key': 'not a key'}, 'public_key'),
])
def test_a_bad_body_is_400_naming_the_field(stack, source, body, field):
    status, answer = stack.admin('PUT', f'sources/{source}', body)

    assert status == 400 and answer['field'] == field
    assert stack.admin('GET', f'sources/{source}')[0] == 404


def test_a_body_that_is_not_an_object_is_400(stack):
    assert stack.admin('PUT', 'sources/calcom', ['secret'])[0] == 400


def test_an_unknown_source_is_404(stack):
    assert stack.admin('PUT', 'sources/myspace', {'secret': 's'})[0] == 404
    assert stack.admin('GET', 'sources/generic')[0] == 404


def test_a_generic_booking_is_found_by_its_own_id(stack):
    from bookings import booking_event

    stack.setup_online_service()
    stack.book(booking_event(booking_id='b1'))

    status, found = stack.admin('GET', 'sources/generic/bookings/b1')

    assert status == 200 and found == {**stack.view('b1')[1], 'source': 'generic', 'external_id': 'b1'}
