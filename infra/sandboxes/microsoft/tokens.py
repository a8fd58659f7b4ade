"""Pure helpers for the identity side (PKCE and base64url are infra.sandboxes.oauth's): ``client_info``, the
nonce hash MSAL sends, unsigned JWTs, and Entra's token-endpoint error bodies.

No state here; the sandbox and the tests use the same functions (docs: provider-apis.md TV-8..TV-10).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

from ..oauth import b64url
from ..web import Response, json_response

GUID_RE = re.compile(r'[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}')
ENTRA_JSON = 'application/json; charset=utf-8'
NO_STORE = {'Cache-Control': 'no-store, no-cache', 'Pragma': 'no-cache'}


def compact_json(value: Any) -> bytes:
    return json.dumps(value, separators=(',', ':'), ensure_ascii=False).encode('utf-8')


def client_info(uid: str, utid: str) -> str:
    """What Entra returns as ``client_info``: base64url (no padding) of ``{"uid":…,"utid":…}`` (TV-10).

    MSAL keys its accounts ``"{uid}.{utid}"`` from it (the home account id).
    """
    return b64url(compact_json({'uid': uid, 'utid': utid}))


def nonce_hash(raw_nonce: str) -> str:
    """What MSAL sends as ``nonce`` for its raw flow nonce: lowercase SHA-256 hex (TV-9).

    The sandbox never needs this (it echoes what it received); tests use it to check the echo.
    """
    return hashlib.sha256(raw_nonce.encode('ascii')).hexdigest()


def is_guid(value: Any) -> bool:
    return isinstance(value, str) and GUID_RE.fullmatch(value) is not None


def unsigned_jwt(claims: dict[str, Any], key: bytes, kid: str = 'sandbox') -> str:
    """A JWS-shaped token: header ``{"alg":"RS256","typ":"JWT","kid":…}``, the claims, and a signature
    segment that is an HMAC of the first two under the sandbox's own key (not RS256: nothing outside
    the sandbox can or should verify it; MSAL does not verify id_tokens, Graph clients must not read
    access tokens)."""
    header = b64url(compact_json({'alg': 'RS256', 'typ': 'JWT', 'kid': kid}))
    payload = b64url(compact_json(claims))
    signing_input = f'{header}.{payload}'.encode('ascii')
    signature = hashlib.sha256(key + signing_input).digest() + hashlib.sha256(signing_input + key).digest()
    return f'{header}.{payload}.{b64url(signature * 4)}'


def new_guid() -> str:
    return str(uuid.uuid4())


def opaque_token(prefix: str = '1.A') -> str:
    """An opaque Entra-looking code or refresh token (``1.AXkA…``): URL-safe, long, random."""
    return prefix + secrets.token_urlsafe(96)


def entra_timestamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime('%Y-%m-%d %H:%M:%SZ')


def entra_error(status: int, error: str, code: int, message: str, *, now: datetime,
                correlation_id: str | None = None, **extra: Any) -> Response:
    """A token-endpoint (or discovery) error as Entra words it::

        {"error": "invalid_grant", "error_description": "AADSTS54005: … Trace ID: … Correlation ID: …
         Timestamp: …", "error_codes": [54005], "timestamp": …, "trace_id": …, "correlation_id": …,
         "error_uri": "https://login.microsoftonline.com/error?code=54005"}
    """
    trace_id = new_guid()
    correlation_id = correlation_id if is_guid(correlation_id) else new_guid()
    stamp = entra_timestamp(now)
    body = {'error': error,
            'error_description': f'AADSTS{code}: {message} Trace ID: {trace_id} Correlation ID: {correlation_id} '
                                 f'Timestamp: {stamp}',
            'error_codes': [code], 'timestamp': stamp, 'trace_id': trace_id, 'correlation_id': correlation_id,
            'error_uri': f'https://login.microsoftonline.com/error?code={code}', **extra}
    return json_response(status, body, {**NO_STORE, 'x-ms-request-id': trace_id}, content_type=ENTRA_JSON)
