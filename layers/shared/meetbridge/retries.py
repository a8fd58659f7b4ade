"""Failed SQS records come back after a growing delay, not after the queue's fixed visibility timeout."""

from collections.abc import Callable, Collection

from botocore.exceptions import ClientError

from meetbridge import aws
from meetbridge.observability import logger


def growing_delay(receive_count: int, first_seconds: int, longest_seconds: int) -> int:
    """`first_seconds` after the first receive, twice as long at each one after, `longest_seconds` at most."""
    return min(first_seconds * 2 ** (max(receive_count, 1) - 1), longest_seconds)


def delay_failed(event: dict, response: dict, delay: Callable[[int], int],
                 queue_names: Collection[str] | None = None) -> None:
    """Each record the batch reported failed (of the queues named, or of any) becomes visible again after
    `delay(its receive count)` seconds."""
    failed = {failure['itemIdentifier'] for failure in response['batchItemFailures']}
    sqs = aws.client('sqs')
    for record in event['Records']:
        if record['messageId'] not in failed:
            continue
        _, _, _, region, account, name = record['eventSourceARN'].split(':')
        if queue_names is not None and name not in queue_names:
            continue
        try:
            sqs.change_message_visibility(QueueUrl=f'https://sqs.{region}.amazonaws.com/{account}/{name}',
                                          ReceiptHandle=record['receiptHandle'],
                                          VisibilityTimeout=delay(int(record['attributes'].get('ApproximateReceiveCount', 1))))
        except ClientError as error:
            # The record still comes back, after the queue's own visibility timeout.
            logger.warning('retry delay not set', extra={'message_id': record['messageId'],
                                                         'error': error.response['Error']['Code']})
