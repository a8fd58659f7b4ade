"""Templates per level (service+provider, service, provider, tenant), channel and locale, through the admin API;
the notification settings; services' links_in_messages."""

from datetime import UTC, datetime

import pytest

from meetbridge.logic import templates
from meetbridge.logic.templates import TemplateBook
from meetbridge.notify import locales
from meetbridge.store.models import TemplateItem

NAME = 'client_created'
EMAIL = {'subject': 'Your [service_name]', 'body': '<p>Hello [client_name]: [online_meeting_link]</p>'}


def _call(stack, method: str, rest: str, body: dict | None = None, **query) -> tuple[int, dict | None]:
    return stack.admin(method, rest, body, query=query)


@pytest.fixture
def levels(stack):
    """A service and a provider to set templates for."""
    assert stack.admin('PUT', 'services/svc', {'name': 'Consultation', 'online': True})[0] == 200
    assert stack.admin('PUT', 'providers/dana', {'name': 'Dana Doe', 'email': 'dana@example.com'})[0] == 200
    return stack


def _contract_builtin(name: str, channel: str, locale: str):
    """notify.defaults.builtin as interfaces promise it: a text for every tag in BUILTIN_LOCALES, none else."""
    if locale not in locales.BUILTIN_LOCALES:
        return None
    return (f'Built-in {locale}' if channel == 'email' else None), f'Built-in {channel} {locale} [client_name]'


def test_a_template_is_set_read_and_removed_at_each_level(levels):
    ids = {'tenant': {}, 'service': {'service_id': 'svc'}, 'provider': {'provider_id': 'dana'},
           'service+provider': {'service_id': 'svc', 'provider_id': 'dana'}}
    for level, query in ids.items():
        text = {'subject': f'{level} subject', 'body': f'<p>{level} [online_meeting_link]</p>'}
        status, answer = _call(levels, 'PUT', f'templates/{NAME}', text, **query, locale='FR_ca')
        assert status == 200, answer
        assert {key: answer[key] for key in ('level', 'channel', 'locale', 'subject', 'default', 'enabled')} == {
            'level': level, 'channel': 'email', 'locale': 'fr-CA', 'subject': f'{level} subject', 'default': False,
            'enabled': True}
        assert (answer['service_id'], answer['provider_id']) == (query.get('service_id'), query.get('provider_id'))
        assert _call(levels, 'GET', f'templates/{NAME}', **query, locale='fr-CA') == (200, answer)
    for level, query in ids.items():
        assert _call(levels, 'DELETE', f'templates/{NAME}', **query, locale='fr-CA') == (204, None)
        status, answer = _call(levels, 'GET', f'templates/{NAME}', **query, locale='fr-CA')
        if level == 'tenant':  # the built-in text until the tenant writes its own
            assert status == 200 and answer['default'] is True and answer['level'] == 'tenant'
        else:
            assert status == 404 and level in answer['message'], answer
    # Removing what is not there is not an error.
    assert _call(levels, 'DELETE', f'templates/{NAME}', service_id='svc', locale='da') == (204, None)


def test_unknown_services_providers_and_templates_are_404s_naming_them(levels):
    for query, named in (({'service_id': 'nope'}, "service 'nope'"), ({'provider_id': 'ghost'}, "provider 'ghost'")):
        for method in ('GET', 'PUT', 'DELETE'):
            status, answer = _call(levels, method, f'templates/{NAME}', EMAIL if method == 'PUT' else None, **query)
            assert status == 404 and named in answer['message'], (method, answer)
    assert _call(levels, 'GET', 'templates/client_birthday/effective')[0] == 404


def test_the_effective_template_follows_language_then_level(levels, monkeypatch):
    monkeypatch.setattr(templates, 'builtin', _contract_builtin)
    assert _call(levels, 'PUT', f'templates/{NAME}', EMAIL, locale='en')[0] == 200

    def effective(**query) -> tuple[str, str]:
        status, answer = _call(levels, 'GET', f'templates/{NAME}/effective', **query)
        assert status == 200, answer
        return answer['level'], answer['locale']

    # A French client of a tenant that only customised English gets the built-in French.
    assert effective(service_id='svc', provider_id='dana', locale='fr') == ('default', 'fr')
    assert effective(service_id='svc', provider_id='dana', locale='en-GB') == ('tenant', 'en')
    french = {'subject': 'Votre [service_name]', 'body': '<p>Bonjour [client_name]</p>'}
    assert _call(levels, 'PUT', f'templates/{NAME}', french, service_id='svc', locale='fr')[0] == 200
    # The service's French template beats the built-in French; an fr-CA client takes it.
    assert effective(service_id='svc', provider_id='dana', locale='fr-CA') == ('service', 'fr')
    # Another service's client gets the built-in French.
    assert effective(provider_id='dana', locale='fr') == ('default', 'fr')
    # A language nobody has: the tenant's default locale (its own text), then English.
    assert effective(service_id='svc', locale='de') == ('tenant', 'en')
    assert _call(levels, 'PUT', 'settings/notifications', {'default_locale': 'da'})[0] == 200
    assert effective(service_id='svc', locale='de') == ('default', 'da')
    assert effective(service_id='svc') == ('default', 'da')  # no client locale: the default


def test_the_effective_template_previews_with_an_ordinary_booking(levels):
    status, answer = _call(levels, 'GET', f'templates/{NAME}/effective', service_id='svc', provider_id='dana')
    assert status == 200 and answer['level'] == 'default' and answer['default'] is True, answer
    assert 'Chris Client' in answer['preview']['html'] and answer['preview']['subject']

    sms = {'body': 'Hi [client_name] & co <3 {{ service_name }}: [online_meeting_link]'}
    assert _call(levels, 'PUT', f'templates/{NAME}', sms, channel='sms', service_id='svc')[0] == 200
    status, answer = _call(levels, 'GET', f'templates/{NAME}/effective', service_id='svc', channel='sms')
    assert status == 200 and answer['level'] == 'service' and answer['subject'] is None
    preview = answer['preview']
    # Plain text: nothing escaped.
    assert preview['body'] == 'Hi Chris Client & co <3 Consultation: https://meet.example.com/j/Q2xpZW50TGluaw'
    assert (preview['segments'], preview['encoding']) == (1, 'GSM-7')


def test_an_sms_template_is_refused_past_the_segment_limit_with_its_count(levels):
    long_text = {'body': '[client_name], ' + 'é' * 300}  # 'Chris Client, ' and 300 septets
    status, answer = _call(levels, 'PUT', f'templates/{NAME}', long_text, channel='sms')
    assert status == 400 and answer['field'] == 'body', answer
    assert 'the SMS is 3 segments (GSM-7, 314 septets)' in answer['message'], answer['message']
    assert 'the limit is 2' in answer['message']
    ucs2 = {'body': 'Привіт, [client_name]! ' + 'Ж' * 120}
    status, answer = _call(levels, 'PUT', f'templates/{NAME}', ucs2, channel='sms')
    assert status == 400 and '3 segments (UCS-2, 142 UTF-16 units)' in answer['message'], answer
    # The tenant raises its limit: the same text is taken.
    assert _call(levels, 'PUT', 'settings/notifications', {'sms_max_segments': 3})[0] == 200
    assert _call(levels, 'PUT', f'templates/{NAME}', long_text, channel='sms')[0] == 200


def test_sms_and_alert_templates_take_what_their_channel_has(levels):
    refusals = [
        ({'subject': 'Hi', 'body': 'Hi'}, {'channel': 'sms'}, 'subject'),
        ({'body': 'Start: [online_meeting_provider_link]'}, {'channel': 'sms'}, 'body'),  # a client's: no host link
        ({'body': '{% include "x" %}'}, {'channel': 'sms'}, 'body'),
        ({'body': '{{ 1 / 0 }}'}, {'channel': 'sms'}, 'body'),
        ({'body': 'Hi'}, {}, 'subject'),  # an email takes subject and body together
    ]
    for body, query, field in refusals:
        status, answer = _call(levels, 'PUT', f'templates/{NAME}', body, **query)
        assert status == 400 and answer['field'] == field, (body, answer)
    assert _call(levels, 'PUT', 'templates/provider_created', {'body': 'Start: [online_meeting_provider_link]'},
                 channel='sms')[0] == 200
    for method in ('GET', 'PUT', 'DELETE'):
        status, answer = _call(levels, method, 'templates/alert_meeting_failed', {'body': 'x'} if method == 'PUT'
                               else None, channel='sms')
        assert status == 400 and answer['field'] == 'channel', answer
    status, answer = _call(levels, 'PUT', 'templates/alert_meeting_failed', EMAIL, service_id='svc')
    assert status == 400 and answer['field'] == 'service_id', answer


def test_the_switch_is_per_level_and_channel_for_every_locale(levels):
    status, answer = _call(levels, 'PUT', f'templates/{NAME}', {'enabled': False}, service_id='svc', channel='sms')
    assert status == 200 and (answer['switch'], answer['enabled'], answer['body']) == (False, False, None), answer
    assert _call(levels, 'GET', f'templates/{NAME}', service_id='svc', channel='sms', locale='uk')[1]['enabled'] is False
    assert _call(levels, 'GET', f'templates/{NAME}/effective', service_id='svc')[1]['enabled'] is True  # email
    assert _call(levels, 'GET', f'templates/{NAME}', channel='sms')[1]['enabled'] is True  # the tenant level
    # The service's provider level switched on does not override the service's off; the pair's level does.
    assert _call(levels, 'PUT', f'templates/{NAME}', {'enabled': True}, provider_id='dana', channel='sms')[0] == 200
    effective = _call(levels, 'GET', f'templates/{NAME}/effective', service_id='svc', provider_id='dana',
                      channel='sms')[1]
    assert effective['enabled'] is False
    assert _call(levels, 'PUT', f'templates/{NAME}', {'enabled': True}, service_id='svc', provider_id='dana',
                 channel='sms')[0] == 200
    assert _call(levels, 'GET', f'templates/{NAME}/effective', service_id='svc', provider_id='dana',
                 channel='sms')[1]['enabled'] is True
    # null clears a level's switch.
    status, answer = _call(levels, 'PUT', f'templates/{NAME}', {'enabled': None}, service_id='svc', channel='sms')
    assert status == 200 and (answer['switch'], answer['body'], answer['enabled']) == (None, None, True), answer
    assert _call(levels, 'GET', f'templates/{NAME}', service_id='svc', channel='sms')[0] == 404  # nothing set there
    assert _call(levels, 'GET', f'templates/{NAME}/effective', service_id='svc', channel='sms')[1]['enabled'] is True
    assert _call(levels, 'PUT', f'templates/{NAME}', {}, service_id='svc')[1]['field'] is None  # nothing to change


def test_the_list_shows_what_is_set_at_which_level_in_pages_of_one_query(levels, dynamodb_calls):
    _call(levels, 'PUT', f'templates/{NAME}', EMAIL)
    _call(levels, 'PUT', f'templates/{NAME}', {'body': 'Hi [client_name]', 'enabled': False}, channel='sms',
          service_id='svc', provider_id='dana', locale='uk')
    _call(levels, 'PUT', 'templates/reminder_provider', {'enabled': False}, provider_id='dana')
    dynamodb_calls.clear()
    pages, cursor = [], None
    while True:
        status, page = _call(levels, 'GET', 'templates', limit=2, **({'next': cursor} if cursor else {}))
        assert status == 200, page
        pages.append(page['items'])
        cursor = page['next']
        if cursor is None:
            break
    assert [len(page) for page in pages] == [2, 2]
    assert set(dynamodb_calls) == {'GetItem', 'Query'} and dynamodb_calls.count('Query') == 2  # tenant, items
    listed = {(item['name'], item['channel'], item['level'], item['locale']): item for page in pages for item in page}
    assert set(listed) == {(NAME, 'email', 'tenant', 'en'), (NAME, 'sms', 'service+provider', 'uk'),
                           (NAME, 'sms', 'service+provider', '*'), ('reminder_provider', 'email', 'provider', '*')}
    assert listed[NAME, 'sms', 'service+provider', '*']['enabled'] is False
    assert listed[NAME, 'sms', 'service+provider', 'uk']['body'] == 'Hi [client_name]'
    assert listed['reminder_provider', 'email', 'provider', '*']['provider_id'] == 'dana'
    assert _call(levels, 'GET', 'templates', next='not-a-cursor')[0] == 400


def _legacy(stack, **fields) -> None:
    TemplateItem(*TemplateItem.legacy_key(stack.tenant.tenant_id, NAME), name=NAME, updated_at=datetime.now(UTC),
                 **fields).save()


def _stored_sort_keys(stack) -> set[str]:
    return {item.sk for item in TemplateItem.query(f'TENANT#{stack.tenant.tenant_id}',
                                                   TemplateItem.sk.startswith('TEMPLATE#'))}


def test_a_template_written_before_levels_is_the_tenant_email_until_replaced(levels):
    _legacy(levels, subject='Old subject', body='<p>Old [online_meeting_link]</p>', enabled=False)
    status, answer = _call(levels, 'GET', f'templates/{NAME}')
    assert status == 200 and (answer['subject'], answer['level'], answer['locale'], answer['enabled']) == (
        'Old subject', 'tenant', 'en', False)
    assert _call(levels, 'GET', 'templates')[1]['items'][0]['locale'] == 'en'
    # A write at the tenant level moves what it still says to the new items and removes it, in one transaction.
    status, answer = _call(levels, 'PUT', f'templates/{NAME}', EMAIL, locale='fr')
    assert status == 200 and answer['enabled'] is False  # its switch was kept
    assert _call(levels, 'GET', f'templates/{NAME}', locale='en')[1]['subject'] == 'Old subject'
    assert _stored_sort_keys(levels) == {f'TEMPLATE#{NAME}#email###fr', f'TEMPLATE#{NAME}#email###en',
                                         f'TEMPLATE#{NAME}#email###*'}


def test_replacing_a_legacy_template_in_the_default_locale_leaves_one_truth(levels):
    _legacy(levels, subject='Old subject', body='<p>Old</p>')
    status, answer = _call(levels, 'PUT', f'templates/{NAME}', {**EMAIL, 'enabled': True})
    assert status == 200 and answer['subject'] == EMAIL['subject']
    assert _stored_sort_keys(levels) == {f'TEMPLATE#{NAME}#email###en', f'TEMPLATE#{NAME}#email###*'}
    # A legacy template that only switched the default off, removed by a DELETE: the switch stays.
    TemplateItem(*TemplateItem.key(levels.tenant.tenant_id, NAME, 'email', None, None, TemplateItem.SWITCH)).delete()
    _legacy(levels, enabled=False)
    assert _call(levels, 'DELETE', f'templates/{NAME}', service_id='svc')[0] == 204  # not the tenant level
    assert f'TEMPLATE#{NAME}' in _stored_sort_keys(levels)
    assert _call(levels, 'DELETE', f'templates/{NAME}')[0] == 204
    assert _stored_sort_keys(levels) == {f'TEMPLATE#{NAME}#email###*'}
    assert _call(levels, 'GET', f'templates/{NAME}')[1]['enabled'] is False


def test_a_notice_book_is_one_batch_get(levels, dynamodb_calls):
    tenant_id = levels.tenant.tenant_id
    _call(levels, 'PUT', f'templates/{NAME}', EMAIL, service_id='svc', locale='fr')
    dynamodb_calls.clear()
    # The worst case of one notice: two names, both channels, all four levels, a regional client of a tenant
    # whose default is regional too.
    book = TemplateBook.read(tenant_id, [NAME, 'provider_created'], ['email', 'sms'], 'svc', 'dana', ['fr-CA'],
                             'da-DK')
    assert dynamodb_calls == ['BatchGetItem']
    chosen = book.choose(NAME, 'email', 'fr-CA')
    assert (chosen.level, chosen.locale, chosen.subject) == ('service', 'fr', EMAIL['subject'])
    assert dynamodb_calls == ['BatchGetItem']  # choosing reads nothing more


HOSTILE_QUERIES = [
    ({'locale': 'x' * 36}, 'locale'), ({'locale': 'fr ca'}, 'locale'), ({'locale': 'fr--CA'}, 'locale'),
    ({'locale': '🇫🇷'}, 'locale'), ({'locale': ''}, 'locale'), ({'channel': 'fax'}, 'channel'),
    ({'channel': ''}, 'channel'), ({'service_id': '../etc'}, 'service_id'), ({'service_id': 'x' * 129}, 'service_id'),
    ({'provider_id': 'a#b'}, 'provider_id'), ({'provider_id': ''}, 'provider_id'),
]


@pytest.mark.parametrize('query, field', HOSTILE_QUERIES)
def test_hostile_query_parameters_are_400s_naming_them(levels, query, field):
    for method, rest in (('GET', f'templates/{NAME}'), ('PUT', f'templates/{NAME}'), ('DELETE', f'templates/{NAME}'),
                         ('GET', f'templates/{NAME}/effective')):
        status, answer = _call(levels, method, rest, EMAIL if method == 'PUT' else None, **query)
        assert status == 400 and answer['field'] == field, (method, rest, answer)


@pytest.mark.parametrize('body', [
    {'enabled': 'yes please'}, {'subject': 7, 'body': 'x'}, {'subject': '', 'body': 'x'}, {'body': 'x' * 50_001},
    {'subject': 'x', 'body': 'y', 'colour': 'red'}, {'subject': 'x' * 501, 'body': 'y'}, {'body': None},
    {'subject': 'Hi', 'body': '{{ range(10**9)|list }}'}, {'subject': 'Hi', 'body': '{{ "x" * 10**9 }}'},
])
def test_hostile_template_bodies_are_4xx(levels, body):
    for channel in ('email', 'sms'):
        status, answer = _call(levels, 'PUT', f'templates/{NAME}', body, channel=channel, service_id='svc')
        assert 400 <= status < 500 and answer['error'] == 'invalid_request', (channel, body, answer)
    assert _call(levels, 'GET', f'templates/{NAME}', service_id='svc')[0] == 404  # nothing was stored


def test_notification_settings_keep_what_a_put_leaves_out(levels):
    defaults = {'sms': False, 'links_in_messages': True, 'hidden_link_text': None, 'default_locale': 'en',
                'sms_max_segments': 2}
    assert levels.admin('GET', 'settings/notifications') == (200, defaults)
    status, answer = levels.admin('PUT', 'settings/notifications', {'sms': True, 'default_locale': 'FR_ca'})
    assert (status, answer) == (200, {**defaults, 'sms': True, 'default_locale': 'fr-CA'})
    changed = {**defaults, 'sms': True, 'default_locale': 'fr-CA', 'links_in_messages': False,
               'hidden_link_text': 'Votre lien est dans votre espace client.'}
    assert levels.admin('PUT', 'settings/notifications', {'links_in_messages': False,
                                                          'hidden_link_text': changed['hidden_link_text']}) == (
        200, changed)
    assert levels.admin('GET', 'settings/notifications') == (200, changed)
    # null takes the text back to the built-in sentence.
    assert levels.admin('PUT', 'settings/notifications', {'hidden_link_text': None})[1]['hidden_link_text'] is None
    # The default locale is the tenant level's: a template PUT without a locale writes it.
    assert _call(levels, 'PUT', f'templates/{NAME}', EMAIL)[1]['locale'] == 'fr-CA'


@pytest.mark.parametrize('body, field', [
    ({'default_locale': 'not a tag'}, 'default_locale'), ({'default_locale': 'x' * 36}, 'default_locale'),
    ({'default_locale': None}, 'default_locale'), ({'hidden_link_text': ''}, 'hidden_link_text'),
    ({'hidden_link_text': 'x' * 301}, 'hidden_link_text'), ({'sms': None}, 'sms'), ({'sms': 'sometimes'}, 'sms'),
    ({'links_in_messages': None}, 'links_in_messages'), ({'sms_max_segments': 0}, 'sms_max_segments'),
    ({'sms_max_segments': 11}, 'sms_max_segments'), ({'sms_max_segments': 2.5}, 'sms_max_segments'),
    ({'colour': 'red'}, 'colour'),
])
def test_bad_notification_settings_are_400s_naming_the_field(levels, body, field):
    status, answer = levels.admin('PUT', 'settings/notifications', body)
    assert status == 400 and answer['field'] == field, answer
    assert levels.admin('GET', 'settings/notifications')[1]['default_locale'] == 'en'  # nothing changed


def test_a_service_says_whether_its_messages_show_links(levels):
    status, service = levels.admin('PUT', 'services/svc', {'name': 'Consultation', 'links_in_messages': False})
    assert status == 200 and service['links_in_messages'] is False
    assert levels.admin('GET', 'services/svc')[1]['links_in_messages'] is False
    assert levels.admin('PUT', 'services/svc', {'name': 'Consultation'})[1]['links_in_messages'] is None
    status, answer = levels.admin('PUT', 'services/svc', {'name': 'Consultation', 'links_in_messages': 'maybe'})
    assert status == 400 and answer['field'] == 'links_in_messages'


def test_a_template_write_that_races_another_is_a_409(levels, monkeypatch):
    from botocore.exceptions import ClientError
    from pynamodb.connection.base import Connection
    from pynamodb.exceptions import TransactWriteError

    def cancelled(*args, **kwargs):
        cause = ClientError({'Error': {'Code': 'TransactionCanceledException', 'Message': 'conflict'}},
                            'TransactWriteItems')
        raise TransactWriteError('Failed to write transaction items', cause)

    monkeypatch.setattr(Connection, 'transact_write_items', cancelled)
    status, answer = _call(levels, 'PUT', f'templates/{NAME}', EMAIL, service_id='svc')
    assert status == 409 and answer['error'] == 'conflict', answer
    assert _call(levels, 'DELETE', f'templates/{NAME}')[0] == 409
