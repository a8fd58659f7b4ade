"""Shared test setup: AWS is moto, in-process; resources are made from template.yaml itself."""

import os

# Set before any meetbridge module reads its settings.
os.environ.update(
    AWS_DEFAULT_REGION='us-east-1',
    AWS_ACCESS_KEY_ID='testing',
    AWS_SECRET_ACCESS_KEY='testing',
    AWS_SECURITY_TOKEN='testing',
    AWS_SESSION_TOKEN='testing',
    TABLE_NAME='meetbridge-test',
    IDEMPOTENCY_TABLE_NAME='meetbridge-test-idempotency',
    EVENT_BUS_NAME='meetbridge-test-events',
    SCHEDULE_GROUP='meetbridge-test-meetings',
    MEETINGS_QUEUE_ARN='arn:aws:sqs:us-east-1:123456789012:meetings',
    SCHEDULER_ROLE_ARN='arn:aws:iam::123456789012:role/scheduler',
    AUTO_START_FUNCTION_ARN='arn:aws:lambda:us-east-1:123456789012:function:meetbridge-test-auto-start',
    PUBLIC_BASE_URL='https://meet.test',
    SENDER_EMAIL='meetings@example.com',
    POWERTOOLS_SERVICE_NAME='meetbridge',
    POWERTOOLS_METRICS_NAMESPACE='meetbridge',
    POWERTOOLS_DEV='0',
    POWERTOOLS_LOG_LEVEL='WARNING',
)
os.environ.pop('AWS_ENDPOINT_URL', None)
