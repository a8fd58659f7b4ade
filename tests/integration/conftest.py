"""Fixtures: moto's AWS with the resources of template.yaml, and a tenant driven through the handlers."""

import json
import os

import boto3
import pytest
from integration_stack import (GOOGLE_REDIRECT_URI, MICROSOFT_REDIRECT_URI, ZOOM_REDIRECT_URI, Cloud, Queue, Stack, WebhookReceiver,
                               aws_calls_one_at_a_time, create_table, template_resources)
from moto import mock_aws

from infra.local import iam, moto_patches
from meetbridge import aws, caching


@pytest.fixture(scope='session', autouse=True)
def no_call_outside_a_role():
    """Handlers swallow some errors (batch reports, pages), so a denied call may not fail its test."""
    yield
    assert not iam.denials, 'calls the execution roles do not allow:\n' + iam.denial_report(iam.denials)


@pytest.fixture
def cloud(monkeypatch, every_setting):
    """moto's AWS with this stack's resources; returns handles tests inspect. The test itself runs with
    every setting, each handler it calls with its own. Tests that run handlers in threads get each AWS
    call applied whole, as AWS applies it."""
    # SNS's SMS as on AWS (an opt-out list fed by STOP replies), for every test alike, whichever ran first.
    moto_patches.patch_sns_sms()
    with mock_aws(), aws_calls_one_at_a_time():
        aws.reset_clients()
        caching.clear_all()  # data keys and tenants of another test's account
        resources = template_resources()
        create_table(os.environ['TABLE_NAME'], resources['Table']['Properties'])
        create_table(os.environ['IDEMPOTENCY_TABLE_NAME'], resources['IdempotencyTable']['Properties'])
        key_id = boto3.client('kms').create_key()['KeyMetadata']['Arn']
        monkeypatch.setenv('KMS_KEY_ID', key_id)
        sqs = boto3.client('sqs')
        dlq = sqs.create_queue(QueueName='scheduler-dlq')['QueueUrl']
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
        monkeypatch.setenv('SCHEDULER_DLQ_ARN', dlq_arn)
        events = boto3.client('events')
        events.create_event_bus(Name=os.environ['EVENT_BUS_NAME'])
        queues = {}
        for rule_id, queue in (('BookingEventsRule', 'meetings'), ('NotificationEventsRule', 'notifications')):
            url = sqs.create_queue(QueueName=queue)['QueueUrl']
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
            pattern = resources[rule_id]['Properties']['EventPattern']
            events.put_rule(Name=rule_id, EventBusName=os.environ['EVENT_BUS_NAME'], EventPattern=json.dumps(pattern))
            events.put_targets(Rule=rule_id, EventBusName=os.environ['EVENT_BUS_NAME'], Targets=[{'Id': queue, 'Arn': arn}])
            queues[queue] = Queue(url, arn)
        dead = sqs.create_queue(QueueName='meetings-dlq')['QueueUrl']
        queues['meetings-dlq'] = Queue(dead, sqs.get_queue_attributes(
            QueueUrl=dead, AttributeNames=['QueueArn'])['Attributes']['QueueArn'])
        sqs.set_queue_attributes(QueueUrl=queues['meetings'].url, Attributes={'RedrivePolicy': json.dumps(
            {'deadLetterTargetArn': queues['meetings-dlq'].arn, 'maxReceiveCount': '40'})})
        dead = sqs.create_queue(QueueName='notifications-dlq')['QueueUrl']
        queues['notifications-dlq'] = Queue(dead, sqs.get_queue_attributes(
            QueueUrl=dead, AttributeNames=['QueueArn'])['Attributes']['QueueArn'])
        sqs.set_queue_attributes(QueueUrl=queues['notifications'].url, Attributes={'RedrivePolicy': json.dumps(
            {'deadLetterTargetArn': queues['notifications-dlq'].arn, 'maxReceiveCount': '12'})})
        for name in ('start-dlq', 'start', 'health'):
            url = sqs.create_queue(QueueName=name)['QueueUrl']
            queues[name] = Queue(url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])['Attributes']['QueueArn'])
        sqs.set_queue_attributes(QueueUrl=queues['start'].url, Attributes={'RedrivePolicy': json.dumps(
            {'deadLetterTargetArn': queues['start-dlq'].arn, 'maxReceiveCount': '5'})})
        # The alerts: their rule's queue, and the webhook queue with its dead-letter queue.
        url = sqs.create_queue(QueueName='alerts')['QueueUrl']
        queues['alerts'] = Queue(url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])['Attributes']['QueueArn'])
        events.put_rule(Name='AlertEventsRule', EventBusName=os.environ['EVENT_BUS_NAME'],
                        EventPattern=json.dumps(resources['AlertEventsRule']['Properties']['EventPattern']))
        events.put_targets(Rule='AlertEventsRule', EventBusName=os.environ['EVENT_BUS_NAME'],
                           Targets=[{'Id': 'alerts', 'Arn': queues['alerts'].arn}])
        for name in ('alert-webhooks-dlq', 'alert-webhooks'):
            url = sqs.create_queue(QueueName=name)['QueueUrl']
            queues[name] = Queue(url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])['Attributes']['QueueArn'])
        sqs.set_queue_attributes(QueueUrl=queues['alert-webhooks'].url, Attributes={'RedrivePolicy': json.dumps(
            {'deadLetterTargetArn': queues['alert-webhooks-dlq'].arn, 'maxReceiveCount': '10'})})
        # The callbacks: their rule's queue (the deliveries go there too) with its dead-letter queue.
        for name in ('callbacks-dlq', 'callbacks'):
            url = sqs.create_queue(QueueName=name)['QueueUrl']
            queues[name] = Queue(url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])['Attributes']['QueueArn'])
        sqs.set_queue_attributes(QueueUrl=queues['callbacks'].url, Attributes={'RedrivePolicy': json.dumps(
            {'deadLetterTargetArn': queues['callbacks-dlq'].arn, 'maxReceiveCount': '31'})})
        events.put_rule(Name='CallbackEventsRule', EventBusName=os.environ['EVENT_BUS_NAME'],
                        EventPattern=json.dumps(resources['CallbackEventsRule']['Properties']['EventPattern']))
        events.put_targets(Rule='CallbackEventsRule', EventBusName=os.environ['EVENT_BUS_NAME'],
                           Targets=[{'Id': 'callbacks', 'Arn': queues['callbacks'].arn}])
        boto3.client('scheduler').create_schedule_group(Name=os.environ['SCHEDULE_GROUP'])
        boto3.client('ses').verify_email_identity(EmailAddress=os.environ['SENDER_EMAIL'])
        yield Cloud(queues=queues)
        aws.reset_clients()


@pytest.fixture
def account_events(cloud) -> None:
    """AccountEventsRule: the connection.* events the meetings function acts on reach the meetings queue. Asked for
    by the tests of those paths only: elsewhere each account a test sets up would put its connection.connected
    among the messages the test reads from the queue."""
    bus = os.environ['EVENT_BUS_NAME']
    pattern = template_resources()['AccountEventsRule']['Properties']['EventPattern']
    events = boto3.client('events')
    events.put_rule(Name='AccountEventsRule', EventBusName=bus, EventPattern=json.dumps(pattern))
    events.put_targets(Rule='AccountEventsRule', EventBusName=bus,
                       Targets=[{'Id': 'meetings', 'Arn': cloud.queues['meetings'].arn}])


@pytest.fixture
def stack(cloud) -> Stack:
    return Stack(cloud)


@pytest.fixture
def zoom(cloud, monkeypatch):
    """A Zoom sandbox on loopback, its app credentials in Secrets Manager, the adapter pointed at it."""
    from aws_lambda_powertools.utilities import parameters

    from infra.sandboxes.zoom import ZoomSandbox

    sandbox = ZoomSandbox(webhook_secret_token='zoom-webhook-secret').start()
    sandbox.allow_redirect_uri(ZOOM_REDIRECT_URI)
    secret = boto3.client('secretsmanager').create_secret(Name='zoom-app', SecretString=json.dumps({
        'client_id': sandbox.client_id, 'client_secret': sandbox.client_secret,
        'webhook_secret_token': 'zoom-webhook-secret'}))['ARN']
    monkeypatch.setenv('ZOOM_CLIENT_SECRET_ARN', secret)
    monkeypatch.setenv('ZOOM_OAUTH_BASE', sandbox.url)
    monkeypatch.setenv('ZOOM_API_BASE', sandbox.api_base)
    parameters.clear_caches()
    yield sandbox
    sandbox.stop()
    parameters.clear_caches()


@pytest.fixture
def microsoft(cloud, monkeypatch):
    """The Microsoft sandbox on loopback (MSAL's https authority routed to it), credentials in Secrets Manager."""
    from aws_lambda_powertools.utilities import parameters

    from infra.sandboxes.microsoft import MicrosoftSandbox

    sandbox = MicrosoftSandbox().start()
    sandbox.allow_redirect_uri(MICROSOFT_REDIRECT_URI)
    secret = boto3.client('secretsmanager').create_secret(Name='microsoft-app', SecretString=json.dumps({
        'client_id': sandbox.client_id, 'client_secret': sandbox.client_secret}))['ARN']
    monkeypatch.setenv('MICROSOFT_CLIENT_SECRET_ARN', secret)
    monkeypatch.setenv('MICROSOFT_AUTHORITY', sandbox.authority)
    monkeypatch.setenv('MICROSOFT_AUTHORITY_ORIGIN', sandbox.url)
    monkeypatch.setenv('GRAPH_BASE', sandbox.graph_base)
    parameters.clear_caches()
    yield sandbox
    sandbox.stop()
    parameters.clear_caches()


@pytest.fixture
def google(cloud, monkeypatch):
    """The Google sandbox on loopback, the OAuth client's credentials in Secrets Manager, the provider pointed at it."""
    from aws_lambda_powertools.utilities import parameters

    from infra.sandboxes.google import GoogleSandbox

    sandbox = GoogleSandbox().start()
    sandbox.allow_redirect_uri(GOOGLE_REDIRECT_URI)
    secret = boto3.client('secretsmanager').create_secret(Name='google-app', SecretString=json.dumps({
        'client_id': sandbox.client_id, 'client_secret': sandbox.client_secret}))['ARN']
    monkeypatch.setenv('GOOGLE_CLIENT_SECRET_ARN', secret)
    monkeypatch.setenv('GOOGLE_AUTHORIZE_URL', sandbox.authorize_url)
    monkeypatch.setenv('GOOGLE_TOKEN_URL', sandbox.token_url)
    monkeypatch.setenv('GOOGLE_REVOKE_URL', sandbox.revoke_url)
    monkeypatch.setenv('GOOGLE_CALENDAR_BASE', sandbox.calendar_base)
    parameters.clear_caches()
    yield sandbox
    sandbox.stop()
    parameters.clear_caches()


@pytest.fixture
def alert_receiver(monkeypatch):
    """An alert webhook receiver on loopback (plain http, as the local stack allows), stopped and joined after."""
    monkeypatch.setenv('ALERT_WEBHOOK_ALLOW_HTTP_LOOPBACK', 'true')
    receiver = WebhookReceiver()
    receiver.thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
    receiver.thread.join(timeout=5)
    assert not receiver.thread.is_alive()


@pytest.fixture
def dynamodb_calls(monkeypatch) -> list[str]:
    """The DynamoDB operations made, by name (a list is served by Query alone, a notice's templates by one batch)."""
    from botocore.client import BaseClient

    calls = []
    make_api_call = BaseClient._make_api_call

    def recording(client, operation, params):
        if client.meta.service_model.service_name == 'dynamodb':
            calls.append(operation)
        return make_api_call(client, operation, params)

    monkeypatch.setattr(BaseClient, '_make_api_call', recording)
    return calls
