import json
import os
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
import yaml
from moto import mock_aws

from meetbridge import aws

TEMPLATE = Path(__file__).resolve().parents[2] / 'template.yaml'


class _CfnLoader(yaml.SafeLoader):
    pass


_CfnLoader.add_multi_constructor('!', lambda loader, suffix, node: None)


def template_resources() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)['Resources']


def _create_table(name: str, properties: dict) -> None:
    client = boto3.client('dynamodb')
    spec = {k: properties[k] for k in ('AttributeDefinitions', 'KeySchema', 'BillingMode', 'GlobalSecondaryIndexes')
            if k in properties}
    client.create_table(TableName=name, **spec)
    ttl = properties['TimeToLiveSpecification']
    client.update_time_to_live(TableName=name, TimeToLiveSpecification=ttl)


@pytest.fixture
def cloud(monkeypatch):
    """moto's AWS with this stack's resources; returns handles tests inspect."""
    with mock_aws():
        aws.reset_clients()
        resources = template_resources()
        _create_table(os.environ['TABLE_NAME'], resources['Table']['Properties'])
        _create_table(os.environ['IDEMPOTENCY_TABLE_NAME'], resources['IdempotencyTable']['Properties'])
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


@dataclass
class Queue:
    url: str
    arn: str

    def receive(self) -> list[dict]:
        """Everything waiting, as the records of a real SQS event."""
        sqs = boto3.client('sqs')
        records = []
        while True:
            batch = sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=['All']).get('Messages', [])
            if not batch:
                return records
            for message in batch:
                sqs.delete_message(QueueUrl=self.url, ReceiptHandle=message['ReceiptHandle'])
                records.append({
                    'messageId': message['MessageId'], 'receiptHandle': message['ReceiptHandle'],
                    'body': message['Body'], 'attributes': message.get('Attributes', {}), 'messageAttributes': {},
                    'md5OfBody': message['MD5OfBody'], 'eventSource': 'aws:sqs', 'eventSourceARN': self.arn,
                    'awsRegion': 'us-east-1',
                })


@dataclass
class Cloud:
    queues: dict[str, Queue]
