"""Lambda's SQS event source mapping, locally: long-poll a queue, invoke with a batch, settle it."""

from __future__ import annotations

import base64
import concurrent.futures
import logging
import threading
import time
from typing import Any

import boto3

from .lambdas import FunctionError, LocalFunction, TooManyRequests
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
    """One event source mapping: a long poll while it has a free slot, each batch invoked in a thread of its own.

    As Lambda scales its pollers with the backlog: when messages wait, every receive that returns some
    starts another batch at once, until ``concurrency`` batches are in flight (the mapping's
    ``MaximumConcurrency``, up to the function's workers); when the queue is empty, one long poll at a
    time is all the mapping asks of SQS."""

    def __init__(
        self,
        function: LocalFunction,
        *,
        event_name: str,
        queue_arn: str,
        batch_size: int,
        report_batch_item_failures: bool,
        stop: threading.Event,
        concurrency: int = 1,
        wait_seconds: int = 1,
        sqs: Any = None,
    ):
        super().__init__(name=f"sqs-{function.logical_id}-{event_name}", daemon=True)
        self.function = function
        self.queue_arn = queue_arn
        self.batch_size = max(1, min(int(batch_size), 10))
        self.report_batch_item_failures = report_batch_item_failures
        self.stop = stop
        self.concurrency = concurrency
        self.wait_seconds = wait_seconds
        self.sqs = sqs or boto3.client("sqs", region_name=REGION)
        parts = queue_arn.split(":")
        self.queue_url = self.sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        self.invocations = 0
        # SQS requests this mapping made that returned messages, and its deletes (its empty long polls aside).
        self.receives = 0
        self.deletes = 0
        self.busy = 0  # batches in flight
        self._in_flight = threading.Lock()
        self._slots = threading.Semaphore(concurrency)
        self._batches = concurrent.futures.ThreadPoolExecutor(concurrency, thread_name_prefix=self.name)

    def run(self) -> None:
        while not self.stop.is_set():
            if not self._slots.acquire(timeout=0.5):
                continue
            try:
                messages = self.receive()
            except Exception:  # noqa: BLE001 - the loop must survive anything
                self._slots.release()
                log.exception("%s: poller error", self.name)
                self.stop.wait(1)
                continue
            if not messages:
                self._slots.release()
                continue
            with self._in_flight:
                self.busy += 1
            self._batches.submit(self._settle, messages)
        # A batch in flight ends within its function's Timeout (the stack refuses new invocations once stopping),
        # and the stack's own join of this thread is bounded.
        self._batches.shutdown(wait=True, cancel_futures=True)

    def receive(self) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages") or []
        if messages:
            self.receives += 1
        return messages

    def _settle(self, messages: list[dict[str, Any]]) -> None:
        try:
            self._process(messages)
        except Exception:  # noqa: BLE001 - a lost delete leaves the batch to come back, as on AWS
            log.exception("%s: settling a batch failed", self.name)
        finally:
            with self._in_flight:
                self.busy -= 1
            self._slots.release()

    def _process(self, messages: list[dict[str, Any]]) -> None:
        records = [to_lambda_record(m, self.queue_arn) for m in messages]
        ids = [r["messageId"] for r in records]
        started = time.monotonic()
        self.invocations += 1
        try:
            result = self.function.invoke({"Records": records})
        except TooManyRequests:
            log.info("%s: stopping, a batch of %d stays on %s", self.function.logical_id, len(records),
                     self.queue_arn.rsplit(":", 1)[-1])
            return
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


def mapping_concurrency(event_properties: dict[str, Any], max_workers: int) -> int:
    """How many batches a mapping runs at once: its ``ScalingConfig.MaximumConcurrency`` (Lambda's default
    without one is the function's concurrency), up to the function's workers."""
    concurrency = (event_properties.get("ScalingConfig") or {}).get("MaximumConcurrency")
    return max(1, min(int(concurrency), max_workers)) if concurrency else max_workers


def pollers_from_functions(functions: list[LocalFunction], stop: threading.Event, **kwargs: Any) -> list[SqsPoller]:
    pollers = []
    for fn in functions:
        for ev in fn.events:
            if ev.type != "SQS":
                continue
            if ev.properties.get("Enabled") is False:
                continue
            pollers.append(
                SqsPoller(
                    fn,
                    event_name=ev.name,
                    queue_arn=str(ev.properties["Queue"]),
                    batch_size=int(ev.properties.get("BatchSize", 10)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in (ev.properties.get("FunctionResponseTypes") or []),
                    stop=stop,
                    concurrency=mapping_concurrency(ev.properties, fn.max_workers),
                    **kwargs,
                )
            )
    return pollers
