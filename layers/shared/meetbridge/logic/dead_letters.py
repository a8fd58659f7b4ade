"""Messages that reached a dead-letter queue: listed, and replayed onto the queue they came from.

SQS has no way to read a queue without receiving it: a listing receives every message, hiding each for
HOLD_SECONDS so the next receive gets the others, then makes them all visible again at once. A replay
sends the message's body to its source queue as a new message and deletes it from the dead-letter
queue. It is not swallowed by any dedupe: the webhook's dedupe is before the bus, and the meetings
function's idempotency record of an event is deleted each time the event fails, so the replayed event
is applied as new.
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from meetbridge import aws
from meetbridge.errors import NotFound

HOLD_SECONDS = 30
MOST_LISTED = 1000


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    tenant_id: str | None
    detail_type: str | None
    event_id: str | None
    booking_id: str | None
    sent_at: datetime
    receive_count: int
    body: str

    def summary(self) -> dict:
        """What is shown of a dead letter: never its body (a notice can carry a join link)."""
        return {'id': self.message_id, 'tenant_id': self.tenant_id, 'type': self.detail_type,
                'event_id': self.event_id, 'booking_id': self.booking_id, 'sent_at': self.sent_at.isoformat(),
                'receive_count': self.receive_count}


def _letter(message: dict) -> DeadLetter:
    try:
        envelope = json.loads(message['Body'])
    except ValueError:
        envelope = None
    detail = envelope.get('detail') if isinstance(envelope, dict) else None
    detail = detail if isinstance(detail, dict) else {}
    booking = detail.get('booking') if isinstance(detail.get('booking'), dict) else {}
    attributes = message.get('Attributes', {})
    return DeadLetter(
        message_id=message['MessageId'], tenant_id=detail.get('tenant_id'),
        detail_type=envelope.get('detail-type') if isinstance(envelope, dict) else None,
        event_id=detail.get('event_id') or detail.get('notice_id'), booking_id=detail.get('booking_id') or booking.get('id'),
        sent_at=datetime.fromtimestamp(int(attributes.get('SentTimestamp', 0)) / 1000, UTC),
        receive_count=int(attributes.get('ApproximateReceiveCount', 0)), body=message['Body'],
    )


def _received_all(queue_url: str) -> list[dict]:
    sqs = aws.client('sqs')
    messages: dict[str, dict] = {}
    while len(messages) < MOST_LISTED:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=HOLD_SECONDS,
                                    MessageSystemAttributeNames=['All']).get('Messages', [])
        if not batch:
            break
        messages.update((message['MessageId'], message) for message in batch)
    return list(messages.values())


def _release(queue_url: str, messages: list[dict]) -> None:
    sqs = aws.client('sqs')
    for message in messages:
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message['ReceiptHandle'], VisibilityTimeout=0)


def list_letters(queue_url: str, tenant_id: str | None = None) -> list[DeadLetter]:
    """The queue's messages (a tenant's only, when named), oldest first."""
    messages = _received_all(queue_url)
    _release(queue_url, messages)
    letters = [_letter(message) for message in messages]
    return sorted((letter for letter in letters if tenant_id is None or letter.tenant_id == tenant_id),
                  key=lambda letter: letter.sent_at)


def replay(queue_url: str, source_queue_url: str, message_id: str, tenant_id: str | None = None) -> DeadLetter:
    """Sends one message back to the queue it came from. Raises NotFound (also for another tenant's)."""
    messages = _received_all(queue_url)
    found = next((message for message in messages if message['MessageId'] == message_id), None)
    letter = found and _letter(found)
    try:
        if letter is None or (tenant_id is not None and letter.tenant_id != tenant_id):
            raise NotFound('no such dead letter')
        sqs = aws.client('sqs')
        sqs.send_message(QueueUrl=source_queue_url, MessageBody=found['Body'])
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=found['ReceiptHandle'])
        return letter
    finally:
        _release(queue_url, [message for message in messages if message is not found])


def redrives(name_prefix: str = '') -> dict[str, str]:
    """Every dead-letter queue (its URL) with the queue it takes failures from, among the queues named so."""
    sqs = aws.client('sqs')
    urls = [url for page in sqs.get_paginator('list_queues').paginate(QueueNamePrefix=name_prefix)
            for url in page.get('QueueUrls', [])]
    by_arn = {}
    for url in urls:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn', 'RedrivePolicy'])['Attributes']
        by_arn[attributes['QueueArn']] = (url, attributes.get('RedrivePolicy'))
    found = {}
    for source_url, policy in by_arn.values():
        if policy and json.loads(policy)['deadLetterTargetArn'] in by_arn:
            found[by_arn[json.loads(policy)['deadLetterTargetArn']][0]] = source_url
    return found
