import pytest

from meetbridge.domain.templates import (
    CLIENT_LINK,
    PROVIDER_LINK,
    TEMPLATE_NAMES,
    VARIABLES,
    bracket_to_jinja,
    enabled_by_default,
    forbidden_variables,
    name_of,
    recipient_of,
)


def test_template_names_cover_both_recipients_and_every_change():
    assert set(TEMPLATE_NAMES) == {
        'client_created', 'client_rescheduled', 'client_cancelled',
        'provider_created', 'provider_rescheduled', 'provider_cancelled',
        'starting_client', 'starting_provider', 'reminder_client', 'reminder_provider',
        'details_changed_client', 'details_changed_provider', 'in_person_client', 'in_person_provider',
        'alert_connection_broken', 'alert_connection_expiring', 'alert_meeting_failed', 'alert_booking_problem',
        'alert_accounts_reconciled',
    }
    assert len(TEMPLATE_NAMES) == 19


def test_recipient_of_template():
    assert recipient_of('client_rescheduled') == 'client'
    assert recipient_of('provider_created') == 'provider'
    assert recipient_of('starting_client') == 'client'
    assert recipient_of('reminder_provider') == 'provider'


def test_each_recipient_and_change_names_its_template():
    assert name_of('client', 'created') == 'client_created'
    assert name_of('provider', 'starting') == 'starting_provider'
    assert name_of('client', 'reminder') == 'reminder_client'
    assert name_of('provider', 'details_changed') == 'details_changed_provider'
    assert name_of('client', 'in_person') == 'in_person_client'


def test_every_template_sends_by_default_but_starting_client():
    assert [name for name in TEMPLATE_NAMES if not enabled_by_default(name)] == ['starting_client']


def test_known_bracket_variables_become_jinja_and_others_stay_as_written():
    text = 'Join: [online_meeting_link] ([note]) [client_name] [ client_name ] [online_meeting_link_x] [[x]]'

    assert bracket_to_jinja(text) == (
        'Join: {{ online_meeting_link }} ([note]) {{ client_name }} [ client_name ] [online_meeting_link_x] [[x]]'
    )


@pytest.mark.parametrize('name', VARIABLES)
def test_every_variable_has_a_bracket_form(name):
    assert bracket_to_jinja(f'<p>[{name}]</p>') == f'<p>{{{{ {name} }}}}</p>'


def test_text_without_brackets_is_unchanged():
    text = '<p>{{ client_name }} — {% if online_meeting_password %}pw{% endif %}</p>'

    assert bracket_to_jinja(text) == text


@pytest.mark.parametrize(
    'text',
    ['[online_meeting_provider_link]', '{{ online_meeting_provider_link }}', '{{online_meeting_provider_link|e}}',
     '<a href="[online_meeting_provider_link]">host</a>'],
)
@pytest.mark.parametrize('name', ['client_created', 'client_rescheduled', 'client_cancelled', 'starting_client',
                                  'reminder_client', 'details_changed_client'])
def test_provider_link_is_forbidden_in_client_templates(name, text):
    assert forbidden_variables(name, text) == {PROVIDER_LINK}


@pytest.mark.parametrize('name', ['provider_created', 'provider_rescheduled', 'provider_cancelled',
                                  'starting_provider', 'reminder_provider'])
def test_provider_link_is_allowed_in_provider_templates(name):
    assert forbidden_variables(name, '[online_meeting_provider_link] [online_meeting_link]') == set()


def test_client_link_is_allowed_in_client_templates():
    assert forbidden_variables('client_created', f'[{CLIENT_LINK}] {{{{ {CLIENT_LINK} }}}}') == set()
