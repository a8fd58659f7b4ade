"""Each handler runs with its own execution role's permissions: the paths that once needed more than the
role gave (a refresh of an expired Zoom token outside the meetings function) now succeed."""

import os
from datetime import UTC, datetime, timedelta

import pytest
from bookings import booking_event
from helpers import acting_as, handler, join_event
from integration_stack import connect_zoom

from infra.local import iam


def test_a_hosts_click_after_the_token_expired_refreshes_it_as_the_join_function(stack, zoom):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    stack.book(booking_event(start=datetime.now(UTC) - timedelta(minutes=1)))
    host_link = stack.view('b1')[1]['links']['provider']
    zoom.expire_access_tokens()

    answer = handler('join')(join_event(host_link.rsplit('/', 1)[1], 'POST'), stack.context)

    assert answer['statusCode'] == 303 and 'zak=' in answer['headers']['Location']
    assert zoom.refresh_count() == 1


def test_the_users_list_after_the_token_expired_refreshes_it_as_the_admin_function(stack, zoom):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    zoom.expire_access_tokens()

    status, users = stack.admin('GET', 'accounts/default/users')

    assert status == 200 and {user['id'] for user in users} == {'zoom-owner', 'zoom-dana', 'zoom-eli'}
    assert zoom.refresh_count() == 1


def test_a_call_outside_the_role_is_refused_as_aws_refuses_it(cloud, monkeypatch):
    from botocore.exceptions import ClientError

    from meetbridge.logic.tenants import create_tenant

    monkeypatch.setattr(iam, 'denials', [])  # this denial is the point, not a finding
    with acting_as('booking_webhook'), pytest.raises(ClientError) as refused:
        create_tenant('Acme Clinic')  # seals the tenant's secrets: the webhook function only opens them

    error = refused.value.response['Error']
    assert error['Code'] == 'AccessDeniedException'
    assert error['Message'] == (
        'User: arn:aws:sts::123456789012:assumed-role/BookingWebhookFunctionRole/BookingWebhookFunction is not '
        f"authorized to perform: kms:GenerateDataKey on resource: {os.environ['KMS_KEY_ID']} because no "
        'identity-based policy allows the kms:GenerateDataKey action')
    assert [denial.action for denial in iam.denials] == ['kms:GenerateDataKey']
