"""Shared test setup: AWS is moto, in-process; resources are made from template.yaml itself."""

import datetime
import os
from pathlib import Path

import pytest

# Every variable of every function (fixtures replace the placeholders per test: KMS_KEY_ID, the secrets'
# ARNs, the sandboxes' URLs), so any handler can be imported and run.
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
    NOTIFICATIONS_QUEUE_ARN='arn:aws:sqs:us-east-1:123456789012:notifications',
    MEETINGS_QUEUE_URL='https://sqs.us-east-1.amazonaws.com/123456789012/meetings',
    MEETINGS_DEAD_LETTER_QUEUE_URL='https://sqs.us-east-1.amazonaws.com/123456789012/meetings-dlq',
    NOTIFICATIONS_DEAD_LETTER_QUEUE_URL='https://sqs.us-east-1.amazonaws.com/123456789012/notifications-dlq',
    START_QUEUE_URL='https://sqs.us-east-1.amazonaws.com/123456789012/start',
    HEALTH_QUEUE_URL='https://sqs.us-east-1.amazonaws.com/123456789012/health',
    ALERTS_QUEUE_ARN='arn:aws:sqs:us-east-1:123456789012:alerts',
    ALERT_WEBHOOK_QUEUE_URL='https://sqs.us-east-1.amazonaws.com/123456789012/alert-webhooks',
    CALLBACKS_QUEUE_URL='https://sqs.us-east-1.amazonaws.com/123456789012/callbacks',
    SCHEDULER_ROLE_ARN='arn:aws:iam::123456789012:role/scheduler',
    SCHEDULER_DLQ_ARN='arn:aws:sqs:us-east-1:123456789012:scheduler-dlq',
    AUTO_START_LEAD_SECONDS='60',
    KMS_KEY_ID='arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000',
    ZOOM_CLIENT_SECRET_ARN='arn:aws:secretsmanager:us-east-1:123456789012:secret:zoom-app',
    MICROSOFT_CLIENT_SECRET_ARN='arn:aws:secretsmanager:us-east-1:123456789012:secret:microsoft-app',
    GOOGLE_CLIENT_SECRET_ARN='arn:aws:secretsmanager:us-east-1:123456789012:secret:google-app',
    AUTO_START_FUNCTION_ARN='arn:aws:lambda:us-east-1:123456789012:function:meetbridge-test-auto-start',
    PUBLIC_BASE_URL='https://meet.test',
    SENDER_EMAIL='meetings@example.com',
    SMS_ORIGINATION_IDENTITY='+15550100001',
    POWERTOOLS_SERVICE_NAME='meetbridge',
    POWERTOOLS_METRICS_NAMESPACE='meetbridge',
    POWERTOOLS_DEV='0',
    POWERTOOLS_LOG_LEVEL='WARNING',
    # aws-lambda-env-modeler's own switch: settings are read from the environment at every use, so a
    # fixture's change of a variable reaches the next handler call (a Lambda container caches them).
    LAMBDA_ENV_MODELER_DISABLE_CACHE='true',
)
os.environ.pop('AWS_ENDPOINT_URL', None)

from meetbridge import config  # noqa: E402  (after the environment it reads)


class EverySetting(*config.CONCERNS):
    """Test code that calls shared code itself, outside any handler, runs as a function declaring everything."""


@pytest.fixture
def every_setting():
    with config.using(EverySetting):
        yield


def pytest_configure(config):
    # One screenshot folder per run for the browser tests (tests/e2e/browser), named here, before
    # xdist starts its workers, which inherit the environment.
    if not hasattr(config, 'workerinput'):
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y%m%dT%H%M%SZ')
        os.environ.setdefault('BROWSER_SCREENSHOTS', str(Path(config.rootpath, '.meetbridge', 'screenshots', stamp)))


def pytest_terminal_summary(terminalreporter):
    folder = Path(os.environ['BROWSER_SCREENSHOTS'])
    if folder.is_dir() and any(folder.iterdir()):
        terminalreporter.write_sep('-', f'browser screenshots: {folder}')
