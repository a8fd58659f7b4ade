"""Fixtures: moto's AWS with the resources of template.yaml, and a tenant driven through the handlers."""

import json
import os

import boto3
import pytest
from integration_stack import Cloud, Queue, Stack, create_table, template_resources
from moto import mock_aws

from meetbridge import aws


@pytest.fixture
def cloud(monkeypatch):
    """moto's AWS with this stack's resources; returns handles tests inspect."""
    with mock_aws():
        aws.reset_clients()
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
        boto3.client('scheduler').create_schedule_group(Name=os.environ['SCHEDULE_GROUP'])
        boto3.client('ses').verify_email_identity(EmailAddress=os.environ['SENDER_EMAIL'])
        from meetbridge.config import settings
        settings.cache_clear()
        yield Cloud(queues=queues)
        settings.cache_clear()
        aws.reset_clients()


@pytest.fixture
def stack(cloud) -> Stack:
    return Stack(cloud)
