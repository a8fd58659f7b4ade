import pytest

from meetbridge.domain.templates import (CLIENT_LINK, LINK_HIDDEN, PROVIDER_LINK, TEMPLATE_NAMES, VARIABLES, forbidden_variables,
                                         recipient_of, sample_variables)
from meetbridge.notify.defaults import DEFAULT_TEMPLATES
from meetbridge.notify.render import check, render, text_alternative

CLIENT_URL = 'https://meet.test/j/client-token-123'
PROVIDER_URL = 'https://meet.test/j/provider-token-456'


def all_variables() -> dict[str, str]:
    values = {name: f'value-of-{name}' for name in VARIABLES}
    values.update({CLIENT_LINK: CLIENT_URL, PROVIDER_LINK: PROVIDER_URL, LINK_HIDDEN: False})
    return values


CLIENT_TEMPLATES = [name for name in TEMPLATE_NAMES if recipient_of(name) == 'client']


def test_every_template_name_has_a_default_and_nothing_else():
    assert set(DEFAULT_TEMPLATES) == set(TEMPLATE_NAMES)


@pytest.mark.parametrize('name', CLIENT_TEMPLATES)
def test_client_defaults_never_mention_the_provider_link(name):
    subject, body = DEFAULT_TEMPLATES[name]

    assert PROVIDER_LINK not in subject + body
    assert forbidden_variables(name, subject + body) == set()


@pytest.mark.parametrize('name', ['provider_created', 'provider_rescheduled', 'starting_provider', 'reminder_provider',
                                  'details_changed_provider'])
def test_provider_defaults_for_created_and_rescheduled_carry_the_host_link(name):
    _, body = render(*DEFAULT_TEMPLATES[name], all_variables())

    assert PROVIDER_URL in body
    assert CLIENT_URL not in body


@pytest.mark.parametrize('name', TEMPLATE_NAMES)
def test_every_default_passes_check_and_renders_every_variable(name):
    subject, body = DEFAULT_TEMPLATES[name]
    check(subject, body)

    rendered_subject, rendered_body = render(subject, body, all_variables())

    for variable in VARIABLES:
        assert f'[{variable}]' not in rendered_subject + rendered_body
    assert '{{' not in rendered_body and '{%' not in rendered_body
    assert 'value-of-company_name' in rendered_body
    assert rendered_subject and len(rendered_subject) <= 250


@pytest.mark.parametrize('name', ['client_created', 'client_rescheduled', 'starting_client', 'reminder_client',
                                  'details_changed_client'])
def test_client_created_and_rescheduled_carry_the_client_link(name):
    _, body = render(*DEFAULT_TEMPLATES[name], all_variables())

    assert f'href="{CLIENT_URL}"' in body
    assert CLIENT_URL in text_alternative(body)
    assert PROVIDER_URL not in body


# The messages that carry a link: the person needs the room's password with it, a moved meeting included.
LINK_TEMPLATES = ['client_created', 'client_rescheduled', 'provider_created', 'provider_rescheduled',
                  'starting_client', 'starting_provider', 'reminder_client', 'reminder_provider',
                  'details_changed_client', 'details_changed_provider']


@pytest.mark.parametrize('name', LINK_TEMPLATES)
def test_messages_with_a_link_show_password_and_description_only_when_there_are_some(name):
    with_details = render(*DEFAULT_TEMPLATES[name], all_variables())[1]
    without = render(*DEFAULT_TEMPLATES[name],
                     {**all_variables(), 'online_meeting_password': '', 'online_meeting_description': ''})[1]

    assert 'Password: value-of-online_meeting_password' in with_details
    assert 'Password: value-of-online_meeting_password' in text_alternative(with_details)
    assert 'value-of-online_meeting_description' in with_details
    assert 'Password:' not in without
    assert '<p></p>' not in without


@pytest.mark.parametrize('name', ['client_cancelled', 'provider_cancelled'])
def test_cancelled_defaults_carry_no_link(name):
    _, body = render(*DEFAULT_TEMPLATES[name], all_variables())

    assert CLIENT_URL not in body and PROVIDER_URL not in body



def _own_link(name: str) -> str:
    return CLIENT_LINK if recipient_of(name) == 'client' else PROVIDER_LINK


@pytest.mark.parametrize('example', sample_variables())
@pytest.mark.parametrize('name', ['starting_client', 'starting_provider', 'reminder_client', 'reminder_provider'])
def test_starting_and_reminder_defaults_render_with_every_sample(name, example):
    variables = sample_variables()[example]

    subject, body = render(*DEFAULT_TEMPLATES[name], variables)

    if name.startswith('starting_'):
        assert subject.startswith('Starting now: ') and 'starts now' in body
    else:
        assert subject.startswith('Reminder: ')
        assert variables['start_time'] in body
    if variables[_own_link(name)] and not (recipient_of(name) == 'client' and variables[LINK_HIDDEN]):
        assert f'href="{variables[_own_link(name)]}"' in body
