"""HMAC signatures over raw request bytes, compared in constant time."""

import hashlib
import hmac
from collections.abc import Sequence


class SignatureError(Exception):
    """Missing, malformed, stale or wrong signature. The message names which, never the secret."""


def hmac_sha256_hex(secret: bytes, message: bytes) -> str:
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def parse_timestamped_header(header: str | None) -> tuple[int, list[str]]:
    """Parses `t=<unix seconds>,v1=<hex>[,v1=<hex>]` (several v1 values are allowed during secret rotation)."""
    if not header:
        raise SignatureError('missing signature header')
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(','):
        key, sep, value = part.strip().partition('=')
        if not sep:
            raise SignatureError('malformed signature header')
        if key == 't':
            if not value.isascii() or not value.isdigit() or len(value) > 12:
                raise SignatureError('malformed signature timestamp')
            timestamp = int(value)
        elif key == 'v1':
            candidates.append(value)
    if timestamp is None or not candidates:
        raise SignatureError('malformed signature header')
    return timestamp, candidates


def verify_timestamped(
    secrets: Sequence[bytes], header: str | None, body: bytes, now: float, tolerance_seconds: int
) -> int:
    """Verifies HMAC-SHA256(secret, "<t>.<body>") with any of `secrets` (several while a secret is being
    rotated) and the freshness of t; returns t."""
    timestamp, candidates = parse_timestamped_header(header)
    if abs(now - timestamp) > tolerance_seconds:
        raise SignatureError('signature timestamp outside the allowed window')
    signed = str(timestamp).encode() + b'.' + body
    expected = [hmac_sha256_hex(secret, signed) for secret in secrets]
    # Every comparison is made, so the time taken does not say which secret or candidate matched.
    matched = [hmac.compare_digest(e, c.encode('ascii', 'replace').decode()) for e in expected for c in candidates]
    if not any(matched):
        raise SignatureError('signature does not match')
    return timestamp


def verify_zoom(secret: bytes, timestamp: str | None, signature: str | None, body: bytes, now: float,
                tolerance_seconds: int = 300) -> None:
    """Zoom's scheme: x-zm-signature = "v0=" + hex HMAC-SHA256(secret, "v0:<ts>:<raw body>"),
    x-zm-request-timestamp in seconds (the body's event_ts is in milliseconds)."""
    if not timestamp or not signature:
        raise SignatureError('missing signature header')
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise SignatureError('malformed signature timestamp')
    if abs(now - int(timestamp)) > tolerance_seconds:
        raise SignatureError('signature timestamp outside the allowed window')
    expected = 'v0=' + hmac_sha256_hex(secret, b'v0:' + timestamp.encode() + b':' + body)
    if not hmac.compare_digest(expected, signature.encode('ascii', 'replace').decode()):
        raise SignatureError('signature does not match')
