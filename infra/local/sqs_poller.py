"""Lambda's SQS event source mapping, locally: long-poll a queue, invoke with a batch, settle it."""

from __future__ import annotations

import base64
import logging
import threading
import time
from typing import Any

import boto3

from .lambdas import FunctionError, LocalFunction
from .template import REGION

log = logging.getLogger("infra.local.sqs")


def to_lambda_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """An SQS API message in the shape Lambda's event source mapping delivers it."""
    attributes = {}
    for name, attr in (message.get("MessageAttributes") or {}).items():
        binary = attr.get("BinaryValue")
        attributes[name] = {
            "stringValue": attr.get("StringValue"),
            "binaryValue": base64.b64encode(binary).decode() if isinstance(binary, bytes) else binary,
            "stringListValues": attr.get("StringListValues", []),
            "binaryListValues": [
                base64.b64encode(b).decode() if isinstance(b, bytes) else b for b in attr.get("BinaryListValues", [])
            ],
            "dataType": attr.get("DataType"),
        }
        attributes[name] = {k: v for k, v in attributes[name].items() if v is not None}
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def failed_ids(result: Any, batch_ids: list[str], report_batch_item_failures: bool) -> list[str]:
    """Which messages stay on the queue, by Lambda's partial-batch-response rules."""
    if not report_batch_item_failures or not isinstance(result, dict):
        return []
    failures = result.get("batchItemFailures")
    if failures is None:
        return []
    if not isinstance(failures, list):
        return list(batch_ids)
    ids = []
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not item or item not in batch_ids:
            # Lambda treats a null, empty or unknown identifier as a failure of the whole batch.
            log.warning("invalid batchItemFailures entry %r: the whole batch fails", failure)
            return list(batch_ids)
        ids.append(item)
    return ids


class SqsPoller(threading.Thread):
    def __init__(
        self,
        function: LocalFunction,
        *,
        event_name: str,
        queue_arn: str,
        batch_size: int,
        report_batch_item_failures: bool,
        stop: threading.Event,
        wait_seconds: int = 1,
    ):
        super().__init__(name=f"sqs-{function.logical_id}-{event_name}", daemon=True)
        self.function = function
        self.queue_arn = queue_arn
        self.batch_size = max(1, min(int(batch_size), 10))
        self.report_batch_item_failures = report_batch_item_failures
        self.stop = stop
        self.wait_seconds = wait_seconds
        self.sqs = boto3.client("sqs", region_name=REGION)
        parts = queue_arn.split(":")
        self.queue_url = self.sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        self.invocations = 0
        # SQS requests this mapping made that returned messages, and its deletes (its empty long polls aside).
        self.receives = 0
        self.deletes = 0
        self.busy = False

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - the loop must survive anything
                log.exception("%s: poller error", self.name)
                self.stop.wait(1)

    def poll_once(self) -> int:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages") or []
        if not messages:
            return 0
        self.receives += 1
        self.busy = True
        try:
            self._process(messages)
        finally:
            self.busy = False
        return len(messages)

    def _process(self, messages: list[dict[str, Any]]) -> None:
        records = [to_lambda_record(m, self.queue_arn) for m in messages]
        ids = [r["messageId"] for r in records]
        started = time.monotonic()
        self.invocations += 1
        try:
            result = self.function.invoke({"Records": records})
        except Exception as exc:  # noqa: BLE001 - a function error fails the whole batch
            # A function error's traceback is in the function's own log lines, above.
            log.error("%s failed on a batch of %d from %s; all stay on the queue: %s",
                      self.function.logical_id, len(records), self.queue_arn.rsplit(":", 1)[-1], exc,
                      exc_info=not isinstance(exc, FunctionError))
            failed = ids
        else:
            failed = failed_ids(result, ids, self.report_batch_item_failures)
        by_id = {m["MessageId"]: m for m in messages}
        done = [by_id[i] for i in ids if i not in failed]
        # As on AWS, a failed message is left alone: it comes back when its visibility runs out (the
        # queue's timeout, or what the function set with ChangeMessageVisibility), and the queue's
        # RedrivePolicy moves it to its DLQ after maxReceiveCount receives.
        for chunk in _chunks(done, 10):
            self.deletes += 1
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)],
            )
        log.info("%s <- %s: %d message(s), %d ok, %d retry, %d ms", self.function.logical_id,
                 self.queue_arn.rsplit(":", 1)[-1], len(messages), len(done), len(failed),
                 (time.monotonic() - started) * 1000)


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def poller_count(event_properties: dict[str, Any], max_workers: int) -> int:
    """One poller, or as many as the mapping's ``ScalingConfig.MaximumConcurrency`` lets run side by side
    (up to the function's workers): batches due at the same moment are not queued behind each other."""
    concurrency = (event_properties.get("ScalingConfig") or {}).get("MaximumConcurrency")
    return max(1, min(int(concurrency), max_workers)) if concurrency else 1


def pollers_from_functions(functions: list[LocalFunction], stop: threading.Event, **kwargs: Any) -> list[SqsPoller]:
    pollers = []
    for fn in functions:
        for ev in fn.events:
            if ev.type != "SQS":
                continue
            if ev.properties.get("Enabled") is False:
                continue
            count = poller_count(ev.properties, fn.max_workers)
            for number in range(count):
                pollers.append(
                    SqsPoller(
                        fn,
                        event_name=ev.name if count == 1 else f"{ev.name}-{number + 1}",
                        queue_arn=str(ev.properties["Queue"]),
                        batch_size=int(ev.properties.get("BatchSize", 10)),
                        report_batch_item_failures="ReportBatchItemFailures"
                        in (ev.properties.get("FunctionResponseTypes") or []),
                        stop=stop,
                        **kwargs,
                    )
                )
    return pollers
