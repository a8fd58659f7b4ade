"""Pure helpers for the OAuth side (PKCE and base64url are infra.sandboxes.oauth's): the id_token (a three-part JWT), Google's token-endpoint error
bodies and the look of its codes and tokens. No state here."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from typing import Any

from ..oauth import b64url
from ..web import Response, json_response

ISSUER = 'https://accounts.google.com'
# The id_token's HS256 key: fixed and public, because nobody may trust a sandbox token (the app does not
# verify Google's id_token signature either; it came from the token endpoint over TLS).
ID_TOKEN_KEY = b'meetbridge-google-sandbox-id-token-key'
ID_TOKEN_TTL = 3600
TOKEN_JSON = 'application/json; charset=utf-8'
NO_STORE = {'Cache-Control': 'no-cache, no-store, max-age=0, must-revalidate', 'Pragma': 'no-cache'}


def id_token(claims: dict[str, Any]) -> str:
    """An HS256 JWT of ``claims`` under ``ID_TOKEN_KEY``."""
    header = b64url(json.dumps({'alg': 'HS256', 'typ': 'JWT', 'kid': 'sandbox'}, separators=(',', ':')).encode())
    payload = b64url(json.dumps(claims, separators=(',', ':')).encode())
    signing_input = f'{header}.{payload}'.encode('ascii')
    return f'{header}.{payload}.{b64url(hmac.new(ID_TOKEN_KEY, signing_input, hashlib.sha256).digest())}'


def new_code() -> str:
    return '4/0A' + secrets.token_urlsafe(54)


def new_access_token() -> str:
    return 'ya29.a0' + secrets.token_urlsafe(120)


def new_refresh_token() -> str:
    return '1//0' + secrets.token_urlsafe(72)


def oauth_error(status: int, error: str, description: str) -> Response:
    """The token and revoke endpoints' error: ``{"error": "invalid_grant", "error_description": "Bad Request"}``."""
    return json_response(status, {'error': error, 'error_description': description}, NO_STORE,
                         content_type=TOKEN_JSON)
