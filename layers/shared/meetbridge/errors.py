"""Domain errors; the HTTP functions answer them through meetbridge.web.errors, the others retry or record them."""


class MeetbridgeError(Exception):
    """Base class: the message is safe to show to the caller (never carries a secret)."""


class NotFound(MeetbridgeError):
    pass


class Unauthorized(MeetbridgeError):
    pass


class Forbidden(MeetbridgeError):
    pass


class InvalidInput(MeetbridgeError):
    """Bad input; `field` names the offending field in dotted form (e.g. booking.start)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


class RetryLater(MeetbridgeError):
    """A transient condition: the message will be processed again by its queue or scheduler."""


class Conflict(RetryLater):
    """Another request changed the same item at the same moment; the caller retries."""


class InvalidState(MeetbridgeError):
    """The request does not apply to the resource as it is (a cancelled or ended booking started); a retry
    cannot help."""


class EventIdReused(MeetbridgeError):
    """A booking platform sent an event id it used before with different content."""


class EventNotPublished(RetryLater):
    """A webhook's event is not known to be on the bus (not taken, not yet, or its publish may have timed out
    after the bus took it): the platform sends it again in `retry_after` seconds, and the event is applied once
    however often it is published."""

    # By default: a bus that did not take an event is back within seconds, and a platform retries sooner than it is
    # told anyway.
    def __init__(self, message: str, retry_after: int = 5):
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLarge(MeetbridgeError):
    pass
