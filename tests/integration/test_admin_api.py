"""/v1/tenants/{tenant}/...: the admin API a booking platform's backend calls."""

import json
from pathlib import Path

from bookings import booking_event
from integration_stack import Stack, sent_emails

from meetbridge.logic.tenants import create_tenant


def test_requests_need_this_tenants_api_key(stack):
    assert stack.admin('GET', 'services/svc', api_key=None)[0] == 401
    assert stack.admin('GET', 'services/svc', api_key='mbk_wrong')[0] == 403
    other = create_tenant('Other Co')
    status, answer = stack.admin('GET', 'services/svc', api_key=other.api_key)
    assert status == 403 and answer['error'] == 'forbidden'
    # A key is checked before the body: an unauthenticated caller learns nothing about validation.
    assert stack.admin('PUT', 'services/svc', {'bogus': 1}, api_key=None)[0] == 401


def test_an_unknown_tenant_is_404(stack):
    from helpers import admin_event, handler

    response = handler('admin')(admin_event('GET', 't_nobody', 'services/svc', stack.tenant.api_key), stack.context)
    assert response['statusCode'] == 404


def test_services_are_not_online_unless_they_say_so(stack):
    status, service = stack.admin('PUT', 'services/cut', {'name': 'Haircut'})
    assert status == 200 and service == {'id': 'cut', 'name': 'Haircut', 'online': False,
                                         'kind': 'appointment', 'links_in_messages': None}
    assert stack.admin('GET', 'services/cut')[1]['online'] is False
    assert stack.admin('GET', 'services/nope')[0] == 404


def test_invalid_bodies_are_400_naming_the_field(stack):
    status, answer = stack.admin('PUT', 'services/svc', {'name': 'X', 'kind': 'workshop'})
    assert status == 400 and answer['field'] == 'kind'
    status, answer = stack.admin('PUT', 'providers/p', {'name': 'P', 'timezone': 'Nowhere/City'})
    assert status == 400 and answer['field'] == 'timezone'
    status, answer = stack.admin('PUT', 'accounts/default', {'type': 'custom_link', 'url': 'javascript:alert(1)'})
    assert status == 400 and answer['field'] == 'url'
    status, answer = stack.admin('PUT', 'services/bad%23id', {'name': 'X'})
    assert status == 400
    assert stack.admin('GET', 'nothing/here')[0] == 404


def test_account_passwords_are_never_returned(stack):
    stack.setup_online_service(password='s3cret-pass')
    status, account = stack.admin('GET', 'accounts/default')
    assert status == 200 and account['has_password'] is True
    assert 's3cret-pass' not in json.dumps(account)


def test_templates_start_as_defaults_and_can_be_replaced(stack):
    status, template = stack.admin('GET', 'templates/client_created')
    assert status == 200 and template['default'] is True and '[online_meeting_link]' in template['body']

    custom = {'subject': 'See you, [client_name]', 'body': '<p>Join: {{ online_meeting_link }} at [start_time]</p>'}
    status, template = stack.admin('PUT', 'templates/client_created', custom)
    assert status == 200 and template['default'] is False

    stack.setup_online_service()
    stack.book(booking_event())
    [mail] = [m for m in sent_emails() if 'c1@example.org' in m.destinations['ToAddresses']]
    assert mail.subject == 'See you, Client c1'
    assert stack.view('b1')[1]['links']['clients']['c1'] in mail.body


def test_a_client_template_cannot_show_the_host_link(stack):
    body = {'subject': 'Hi', 'body': '<p>[online_meeting_provider_link]</p>'}
    status, answer = stack.admin('PUT', 'templates/client_created', body)
    assert status == 400 and 'online_meeting_provider_link' in answer['message']
    assert stack.admin('PUT', 'templates/provider_created', body)[0] == 200


def test_broken_templates_are_refused_and_unknown_names_are_404(stack):
    status, answer = stack.admin('PUT', 'templates/client_created', {'subject': 'x', 'body': '{% if %}'})
    assert status == 400 and 'line 1' in answer['message']
    assert stack.admin('GET', 'templates/client_birthday')[0] == 404


def test_templates_the_sandbox_refuses_are_rejected_when_saved(stack):
    sneaky = {'subject': 'Hi', 'body': "{{ ''.__class__.__mro__[1].__subclasses__() }}"}
    status, answer = stack.admin('PUT', 'templates/client_created', sneaky)
    assert status == 400 and 'is not allowed in a template' in answer['message']


def test_a_template_that_fails_only_with_real_data_falls_back_to_the_default(stack):
    # Renders with the sample values checked at save time; divides by zero for a 9-letter client name.
    fragile = {'subject': 'Hi', 'body': '{{ 100 / (client_name|length - 9) }}'}
    assert stack.admin('PUT', 'templates/client_created', fragile)[0] == 200
    stack.setup_online_service()

    stack.book(booking_event())  # the client is named "Client c1"

    [mail] = [m for m in sent_emails() if 'c1@example.org' in m.destinations['ToAddresses']]
    assert 'Join the meeting' in mail.body
    booking = stack.view('b1')[1]['booking']
    assert booking['notice_problem'] == ('the client_created email template could not be used (ZeroDivisionError while '
                                         'rendering); the default template was sent')
    assert booking['problem'] is None


def test_a_template_over_a_bound_at_send_time_falls_back_and_says_which_bound(stack):
    # No sample context at save time has this client, so only the real booking reaches the bound.
    huge = {'subject': 'Hi', 'body': "{% if client_name == 'Client c1' %}{{ 'x'|center(10**6) }}{% endif %}"}
    assert stack.admin('PUT', 'templates/client_created', huge)[0] == 200
    stack.setup_online_service()

    stack.book(booking_event())

    [mail] = [m for m in sent_emails() if 'c1@example.org' in m.destinations['ToAddresses']]
    assert 'Join the meeting' in mail.body and len(mail.body) < 10_000
    assert stack.view('b1')[1]['booking']['notice_problem'] == (
        'the client_created email template could not be used (the center filter would make a value longer than 100000 '
        'characters); the default template was sent')


def test_a_template_stored_before_the_bounds_cannot_hold_up_the_notifications(stack):
    # Saved before templates were bounded: the render stops at the first bound, the default is sent.
    from datetime import UTC, datetime

    from meetbridge.store.models import TemplateItem
    TemplateItem(*TemplateItem.legacy_key(stack.tenant.tenant_id, 'client_created'), name='client_created', subject='Hi',
                 body="{{ 'x'|center(1000000000) }}{% for i in range(10**8) %}{% endfor %}",
                 updated_at=datetime.now(UTC)).save()
    stack.setup_online_service()

    stack.book(booking_event())

    [mail] = [m for m in sent_emails() if 'c1@example.org' in m.destinations['ToAddresses']]
    assert 'Join the meeting' in mail.body
    assert 'the center filter would make a value longer' in stack.view('b1')[1]['booking']['notice_problem']


def test_unbounded_templates_are_refused_at_save_with_the_reason(stack):
    for body, reason in (("{{ 'x'|center(1000000000) }}", 'the center filter would make a value longer'),
                         ('{{ "%0200000d" % 1 }}', 'a width or precision in % formatting is over 100'),
                         ('{{ ' + '(' * 90 + '1' + ')' * 90 + ' }}', 'nested more than 24 levels deep'),
                         ('{% macro m() %}{% endmacro %}', 'macro is not allowed in a template')):
        status, answer = stack.admin('PUT', 'templates/client_created', {'subject': 'Hi', 'body': body})
        assert status == 400 and answer['field'] == 'body' and reason in answer['message'], answer


def test_customer_data_is_escaped_in_emails(cloud):
    stack = Stack(cloud)
    stack.setup_online_service()
    body = booking_event()
    body['booking']['client']['name'] = '<img src=x onerror=alert(1)>'

    stack.book(body)

    mails = sent_emails()
    assert mails and all('<img src=x' not in m.body for m in mails)
    assert any('&lt;img src=x onerror=alert(1)&gt;' in m.body for m in mails)


def test_the_committed_openapi_document_matches_the_code():
    from infra.openapi import generate

    committed = Path(__file__).resolve().parents[2] / 'docs' / 'openapi.json'
    assert committed.read_text() == generate(), 'docs/openapi.json is stale: run `make openapi`'


def test_a_moved_room_reaches_existing_bookings_and_disconnect_clears_the_password(stack):
    from datetime import UTC, datetime, timedelta

    from helpers import handler, join_event
    stack.setup_online_service(url='https://meet.example.com/old')
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))
    link = stack.view('b1')[1]['links']['clients']['c1']

    moved = {'type': 'custom_link', 'url': 'https://meet.example.com/new', 'password': 'pw'}
    assert stack.admin('PUT', 'accounts/default', moved)[0] == 200
    page = handler('join')(join_event(link.rsplit('/', 1)[1], 'POST'), stack.context)
    assert page['headers']['Location'] == 'https://meet.example.com/new'

    status, account = stack.admin('DELETE', 'accounts/default')
    assert status == 200 and account['status'] == 'disconnected' and account['has_password'] is False


def test_a_body_without_content_type_is_read_as_json(stack):
    from helpers import admin_event, handler
    event = admin_event('PUT', stack.tenant.tenant_id, 'services/svc', stack.tenant.api_key, {'name': 'Consult'})
    del event['headers']['content-type']
    response = handler('admin')(event, stack.context)
    assert response['statusCode'] == 200


def test_a_forbidden_variable_in_the_subject_names_the_subject(stack):
    body = {'subject': 'Host: [online_meeting_provider_link]', 'body': '<p>hi</p>'}
    status, answer = stack.admin('PUT', 'templates/client_cancelled', body)
    assert status == 400 and answer['field'] == 'subject'


def test_malformed_json_is_a_400_that_says_so(stack):
    from helpers import admin_event, handler
    event = admin_event('PUT', stack.tenant.tenant_id, 'services/svc', stack.tenant.api_key)
    event['body'] = '{"name": '
    response = handler('admin')(event, stack.context)
    answer = json.loads(response['body'])
    assert response['statusCode'] == 400
    assert answer['message'].startswith('the body is not valid JSON (') and answer['field'] is None
