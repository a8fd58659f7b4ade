"""Where moto 5.2.5 differs from AWS in ways the app would notice, patched in this process only.

moto's app is served in-process (``stack.MotoServer``), so its backends and response classes
can be adjusted here; nothing in the app changes.

1. EventBridge -> SQS: moto renders matched events with its default input template, which drops
   ``account`` (so Powertools' ``EventBridgeModel`` rejects the message) and substitutes
   ``<source>``, ``<time>`` ... textually after inserting ``detail``, so a detail containing such
   text is corrupted. Without an InputTransformer the target gets the event as is, like AWS.
   moto also sends to an SQS target whatever its queue policy says, and a target it cannot reach
   makes PutEvents itself fail. EventBridge accepts the event and delivers it asynchronously: only
   a queue whose policy lets ``events.amazonaws.com`` send from that rule (``aws:SourceArn``) gets
   it; otherwise it goes to the target's ``DeadLetterConfig`` queue (under the same policy check),
   with EventBridge's message attributes, or is dropped with a warning when there is none.
2. SES: moto keeps only the HTML part of a SendEmail that has both HTML and text. The request's
   parts and the acceptance time are kept on moto's message object for the local outbox.
3. SQS long polls: moto wakes a waiting ReceiveMessage when a message is sent, else once a second,
   so a delayed (or hidden) message that becomes visible meanwhile was handed over up to a second
   late. SQS hands it over as soon as it is visible: the wait now ends then.
4. DynamoDB transactions: moto backs up the whole table (a deep copy) for each item of a
   TransactWriteItems, to roll back a cancelled one, so a transaction's cost grew with the table: 200
   meetings re-homed at once spent most of their time copying it. Only the items a transaction names
   are backed up and restored now, and transactions run one at a time, as they are atomic on AWS.
5. SNS SMS: moto answers CheckIfPhoneNumberIsOptedOut "yes" for any number ending in 99, starts every account
   with sample numbers on its opt-out list, records a Publish to an opted-out number, takes a number without
   its "+" and counts the 1600-byte limit in characters. Now the opt-out list starts empty (a new account's),
   is what CheckIfPhoneNumberIsOptedOut answers from (the local stack's ``POST /_local/sms/reply`` STOP and
   START change it), a Publish to an opted-out number is accepted and not delivered, as on AWS, and a Publish
   needs an E.164 number and at most 1600 bytes (UTF-8), else InvalidParameter. Each SMS keeps when it was
   accepted and its message attributes (the origination identity's), for the local outbox.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import logging
import re
import threading
import time
from typing import Any

from moto.core.utils import iso_8601_datetime_without_milliseconds, utcfromtimestamp

log = logging.getLogger("infra.local.moto_patches")

_applied = False
_tls = threading.local()

EVENT_KEYS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")


def apply() -> None:
    global _applied
    if _applied:
        return
    _patch_eventbridge_targets()
    _patch_ses_capture()
    _patch_sqs_long_poll()
    _patch_dynamodb_transactions()
    patch_sns_sms()
    _applied = True


# E.164 as SNS publishes to it: the "+" and at most 15 digits, the whole text (fullmatch: "$" lets a trailing
# newline by).
SMS_NUMBER = re.compile(r"\+[1-9][0-9]{1,14}")
MAXIMUM_SMS_BYTES = 1600
_sns_patched = False


def patch_sns_sms() -> None:
    """Item 5 of the module's docstring; the integration tests of SMS delivery apply it on their own."""
    global _sns_patched
    if _sns_patched:
        return
    from moto.moto_api._internal import mock_random
    from moto.sns.exceptions import SNSInvalidParameter
    from moto.sns.models import SMS, SNSBackend

    backend_init = SNSBackend.__init__
    publish = SNSBackend.publish

    @functools.wraps(backend_init)
    def init_with_empty_opt_outs(self: SNSBackend, *args: Any, **kwargs: Any) -> None:
        backend_init(self, *args, **kwargs)
        self.opt_out_numbers = []

    def check_if_phone_number_is_opted_out(self: SNSBackend, number: str) -> bool:
        return number in self.opt_out_numbers

    @functools.wraps(publish)
    def publish_sms_as_sns_does(self: SNSBackend, message: str, arn: str | None, phone_number: str | None = None,
                                *args: Any, **kwargs: Any) -> str:
        if phone_number is None:
            return publish(self, message, arn, phone_number, *args, **kwargs)
        if not SMS_NUMBER.fullmatch(phone_number):
            raise SNSInvalidParameter("Invalid parameter: PhoneNumber Reason: input incorrectly formatted")
        if len(message.encode("utf-8")) > MAXIMUM_SMS_BYTES:
            raise SNSInvalidParameter("Invalid parameter: Message too long")
        if phone_number in self.opt_out_numbers:
            return str(mock_random.uuid4())  # accepted, never delivered
        message_id = publish(self, message, arn, phone_number, *args, **kwargs)
        attributes = kwargs.get("message_attributes") or {}
        sms: SMS = self.sms_message_objects[message_id]
        sms.local_sent_at = time.time()  # type: ignore[attr-defined]
        sms.local_attributes = {name: value.get("Value") for name, value in attributes.items()}  # type: ignore[attr-defined]
        return message_id

    SNSBackend.__init__ = init_with_empty_opt_outs  # type: ignore[method-assign]
    SNSBackend.check_if_phone_number_is_opted_out = check_if_phone_number_is_opted_out  # type: ignore[method-assign]
    SNSBackend.publish = publish_sms_as_sns_does  # type: ignore[method-assign]
    _sns_patched = True


def _patch_dynamodb_transactions() -> None:
    import copy

    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import Table

    transact_write_items = DynamoDBBackend.transact_write_items
    one_at_a_time = threading.Lock()

    def kept_as_is(self: Table, memo: dict[int, Any]) -> Table:
        return self  # moto's whole-table backup: the items named are backed up instead (below)

    @functools.wraps(transact_write_items)
    def transact_with_item_backups(self: Any, transact_items: list[dict[str, Any]]) -> None:
        with one_at_a_time:
            backups = []
            for entry in transact_items:
                op = next(iter(entry.values()), {})
                table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
                if table is None:
                    continue
                try:
                    hash_key, range_key = self.get_keys_value(table, op.get("Key") or op.get("Item") or {})
                except Exception:  # moto's own validation answers it
                    continue
                backups.append((table, hash_key, range_key, copy.deepcopy(table.get_item(hash_key, range_key))))
            Table.__deepcopy__ = kept_as_is  # type: ignore[attr-defined]
            try:
                return transact_write_items(self, transact_items)
            except Exception:
                for table, hash_key, range_key, item in reversed(backups):
                    _restore(table, hash_key, range_key, item)
                raise
            finally:
                del Table.__deepcopy__  # type: ignore[attr-defined]

    DynamoDBBackend.transact_write_items = transact_with_item_backups  # type: ignore[method-assign]


def _restore(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    """Puts an item back as it was before a cancelled transaction (None: it did not exist)."""
    if range_key is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
    elif item is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


def _patch_sqs_long_poll() -> None:
    from moto.core.utils import unix_time_millis
    from moto.sqs.models import Queue

    def wait_for_messages(self: Any, timeout: int) -> None:
        with self._messages_lock:
            if self.messages:
                return
            now = unix_time_millis()
            # A message is visible once both its delay and its visibility timeout are over (moto: strictly after).
            upcoming = [max(m.delayed_until, m.visible_at) - now for m in self._messages]
            soonest = min([timeout * 1000.0, *(ms for ms in upcoming if ms >= 0)])
            self._messages_lock.wait(timeout=(soonest + 1) / 1000)

    Queue.wait_for_messages = wait_for_messages  # type: ignore[method-assign]


def _patch_eventbridge_targets() -> None:
    from moto.events import utils as events_utils

    parser = events_utils.EventTemplateParser
    original = parser.parse

    def parse(input_template: str | None, input_paths_map: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        if not input_template and not input_paths_map:
            return {key: json.loads(json.dumps(event[key])) for key in EVENT_KEYS if key in event}
        return original(input_template=input_template, input_paths_map=input_paths_map, event=event)

    parser.parse = staticmethod(parse)  # type: ignore[method-assign]

    from moto.events.models import Rule

    Rule._send_to_sqs_queue = _delivered_as_eventbridge_delivers  # type: ignore[method-assign]


def _delivered_as_eventbridge_delivers(rule: Any, resource_id: str, event: dict[str, Any], group_id: str | None = None) -> None:
    """One SQS target of ``rule``: delivered if its queue lets the rule send, else dead-lettered."""
    from moto.sqs import sqs_backends

    backend = sqs_backends[rule.account_id][rule.region_name]
    target = next((t for t in rule.targets if str(t.get("Arn", "")).split(":")[2:3] == ["sqs"]
                   and str(t["Arn"]).split(":")[5] == resource_id), {})
    target_arn = target.get("Arn") or f"arn:aws:sqs:{rule.region_name}:{rule.account_id}:{resource_id}"
    if "time" in event:
        event["time"] = iso_8601_datetime_without_milliseconds(utcfromtimestamp(float(event["time"])))
    refusal = _refusal(backend, rule.arn, target_arn)
    if refusal is None:
        backend.send_message(queue_name=resource_id, message_body=json.dumps(event), group_id=group_id)
        return
    dead_letters = (target.get("DeadLetterConfig") or {}).get("Arn")
    if dead_letters is None or _refusal(backend, rule.arn, dead_letters) is not None:
        log.warning("event %s not delivered to %s (%s) and has no dead-letter queue it may go to; dropped",
                    event.get("id"), target_arn, refusal[1])
        return
    code, message = refusal
    attributes = {"ERROR_CODE": code, "ERROR_MESSAGE": message, "RETRY_ATTEMPTS": "0", "RULE_ARN": rule.arn,
                  "TARGET_ARN": target_arn}
    backend.send_message(queue_name=dead_letters.split(":")[5], message_body=json.dumps(event),
                         message_attributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()})
    log.warning("event %s not delivered to %s (%s): sent to its dead-letter queue", event.get("id"), target_arn, message)


def _refusal(backend: Any, rule_arn: str, queue_arn: str) -> tuple[str, str] | None:
    """Why EventBridge may not send from ``rule_arn`` to the queue, or None when it may."""
    queue = backend.queues.get(queue_arn.split(":")[5])
    if queue is None:
        return "RESOURCE_NOT_FOUND", f"queue {queue_arn} does not exist"
    statements = json.loads(queue.policy)["Statement"] if queue.policy else []
    if isinstance(statements, dict):
        statements = [statements]
    applicable = [s for s in statements if _names_eventbridge_sending(s, queue_arn, rule_arn)]
    if any(s.get("Effect") == "Deny" for s in applicable) or not any(s.get("Effect") == "Allow" for s in applicable):
        return "NO_PERMISSIONS", f"the policy of queue {queue_arn} does not let {rule_arn} send to it"
    return None


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _names_eventbridge_sending(statement: dict[str, Any], queue_arn: str, rule_arn: str) -> bool:
    """Whether the statement is about events.amazonaws.com sending to the queue from this rule."""
    principal = statement.get("Principal")
    services = _as_list(principal.get("Service", [])) if isinstance(principal, dict) else [principal]
    if "events.amazonaws.com" not in services and "*" not in services:
        return False
    if not any(action in ("sqs:SendMessage", "sqs:*", "*") for action in _as_list(statement.get("Action", []))):
        return False
    if not any(resource in (queue_arn, "*") for resource in _as_list(statement.get("Resource", "*"))):
        return False
    for operator, keys in (statement.get("Condition") or {}).items():
        for key, values in keys.items():
            if operator not in ("ArnEquals", "ArnLike") or key.lower() != "aws:sourcearn":
                return False  # a condition this check does not know: it is not taken to allow anything
            if not any(fnmatch.fnmatchcase(rule_arn, value) if operator == "ArnLike" else rule_arn == value
                       for value in _as_list(values)):
                return False
    return True


def _patch_ses_capture() -> None:
    from moto.ses import models as ses_models
    from moto.ses import responses as ses_responses
    from moto.sesv2 import responses as sesv2_responses

    def response_wrapper(original: Any, extract: Any) -> Any:
        @functools.wraps(original)
        def wrapper(self: Any) -> Any:
            try:
                _tls.parts = extract(self)
            except Exception:  # noqa: BLE001 - capture is best effort; moto validates the request
                _tls.parts = None
            try:
                return original(self)
            finally:
                _tls.parts = None

        return wrapper

    def v1_parts(self: Any) -> dict[str, Any]:
        return {
            "html": self._get_param("Message.Body.Html.Data"),
            "text": self._get_param("Message.Body.Text.Data"),
            "reply_to": self._get_param("ReplyToAddresses") or [],
        }

    def v2_parts(self: Any) -> dict[str, Any]:
        params = json.loads(self.body)
        simple = (params.get("Content") or {}).get("Simple") or {}
        body = simple.get("Body") or {}
        return {
            "html": (body.get("Html") or {}).get("Data"),
            "text": (body.get("Text") or {}).get("Data"),
            "reply_to": params.get("ReplyToAddresses") or [],
        }

    ses_responses.EmailResponse.send_email = response_wrapper(ses_responses.EmailResponse.send_email, v1_parts)
    sesv2_responses.SESV2Response.send_email = response_wrapper(sesv2_responses.SESV2Response.send_email, v2_parts)

    def backend_wrapper(original: Any) -> Any:
        @functools.wraps(original)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            message = original(self, *args, **kwargs)
            try:
                message.local_sent_at = time.time()
                message.local_parts = getattr(_tls, "parts", None)
            except AttributeError:
                pass
            return message

        return wrapper

    backend = ses_models.SESBackend
    for name in ("send_email", "send_raw_email", "send_templated_email", "send_bulk_templated_email"):
        setattr(backend, name, backend_wrapper(getattr(backend, name)))
