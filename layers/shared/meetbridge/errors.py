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
    """The event bus did not take a webhook's event; nothing was published, the platform sends it again."""


class PayloadTooLarge(MeetbridgeError):
    pass
