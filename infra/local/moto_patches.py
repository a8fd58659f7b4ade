"""Where moto 5.2.5 differs from AWS in ways the app would notice, patched in this process only.

The moto server runs in-process (``ThreadedMotoServer``), so its backends and response classes
can be adjusted here; nothing in the app changes.

1. EventBridge -> SQS: moto renders matched events with its default input template, which drops
   ``account`` (so Powertools' ``EventBridgeModel`` rejects the message) and substitutes
   ``<source>``, ``<time>`` ... textually after inserting ``detail``, so a detail containing such
   text is corrupted. Without an InputTransformer the target gets the event as is, like AWS.
2. SES: moto keeps only the HTML part of a SendEmail that has both HTML and text. The request's
   parts and the acceptance time are kept on moto's message object for the local outbox.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from typing import Any

_applied = False
_tls = threading.local()

EVENT_KEYS = ("version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail")


def apply() -> None:
    global _applied
    if _applied:
        return
    _patch_eventbridge_targets()
    _patch_ses_capture()
    _applied = True


def _patch_eventbridge_targets() -> None:
    from moto.events import utils as events_utils

    parser = events_utils.EventTemplateParser
    original = parser.parse

    def parse(input_template: str | None, input_paths_map: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
        if not input_template and not input_paths_map:
            return {key: json.loads(json.dumps(event[key])) for key in EVENT_KEYS if key in event}
        return original(input_template=input_template, input_paths_map=input_paths_map, event=event)

    parser.parse = staticmethod(parse)  # type: ignore[method-assign]


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
