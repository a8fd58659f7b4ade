"""What the provider sandboxes' OAuth sides share: PKCE (RFC 7636), base64url, and reading a JWT's claims.

Pure functions, no state: the sandboxes check what apps send with them, and tests build what an app
would send (docs: provider-apis.md TV-8).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from typing import Any

# A code challenge, and a code verifier: 43 to 128 unreserved characters (RFC 7636 §4.1, §4.2).
PKCE_RE = re.compile(r'[A-Za-z0-9._~-]{43,128}')


def b64url(data: bytes) -> str:
    """base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b'=').decode('ascii')


def b64url_decode(text: str) -> bytes:
    """The inverse of ``b64url``; raises ``ValueError`` on anything that is not base64url."""
    if not isinstance(text, str) or not re.fullmatch(r'[A-Za-z0-9_-]*', text):
        raise ValueError('not base64url')
    try:
        return base64.urlsafe_b64decode(text + '=' * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise ValueError('not base64url') from None


def s256_challenge(code_verifier: str) -> str:
    """PKCE S256: base64url(SHA-256(verifier)) without padding (RFC 7636, TV-8)."""
    return b64url(hashlib.sha256(code_verifier.encode('utf-8')).digest())


def jwt_claims(token: str) -> dict[str, Any] | None:
    """The claims of a three-part JWT, unverified; None when it is not one."""
    parts = token.split('.') if isinstance(token, str) else []
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(b64url_decode(parts[1]))
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return claims if isinstance(claims, dict) else None
