"""Zoom's webhook signature and URL-validation answer.

Pure functions, no state: the sandbox signs what it sends with them, and tests check them against
the published vectors (docs: provider-apis.md, Test vectors TV-1..TV-7).
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_VERSION = 'v0'


def _bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode('utf-8')


def sign(secret: str | bytes, timestamp: int | str, raw_body: str | bytes) -> str:
    """The ``x-zm-signature`` value for these exact body bytes: ``v0=`` + hex HMAC-SHA256 of ``v0:{ts}:{body}``.

    ``timestamp`` is the ``x-zm-request-timestamp`` header, in seconds. Sign the raw bytes that go on
    the wire; re-serialised JSON gives another signature.
    """
    message = b'%s:%s:%s' % (SIGNATURE_VERSION.encode(), _bytes(str(timestamp)), _bytes(raw_body))
    return f'{SIGNATURE_VERSION}=' + hmac.new(_bytes(secret), message, hashlib.sha256).hexdigest()


def verify_signature(secret: str | bytes, timestamp: int | str | None, raw_body: str | bytes,
                     signature: str | None) -> bool:
    """True when ``signature`` is ``sign(secret, timestamp, raw_body)``; a missing part is False, never an error."""
    if not signature or timestamp is None or str(timestamp) == '':
        return False
    try:
        expected = sign(secret, timestamp, raw_body).encode('ascii')
        given = signature.encode('ascii')
    except (UnicodeError, AttributeError):
        return False
    return hmac.compare_digest(expected, given)


def encrypted_token(secret: str | bytes, plain_token: str) -> str:
    return hmac.new(_bytes(secret), _bytes(plain_token), hashlib.sha256).hexdigest()


def url_validation_response(secret: str | bytes, plain_token: str) -> dict[str, str]:
    """The JSON a webhook endpoint answers to ``endpoint.url_validation``."""
    return {'plainToken': plain_token, 'encryptedToken': encrypted_token(secret, plain_token)}
