"""A local Google (OAuth 2.0 for web server apps + Calendar events with Google Meet) for tests and the
local stack.

    from infra.sandboxes.google import GoogleSandbox
    with GoogleSandbox(redirect_uris=('http://127.0.0.1:3000/oauth/google/callback',)) as google:
        ...  # the app's authorize URL on google.authorize_url, its token calls on google.token_url
        answer = google.authorize('105000000000000000001', auth_uri)  # {state, code, scope, authuser, prompt}

Alone: ``python -m infra.sandboxes.google --port 9095``.
"""

from .sandbox import CALENDAR_OWNED_SCOPE, EMAIL_SCOPE, OPERATIONS, GoogleSandbox
from ..oauth import jwt_claims, s256_challenge
from .tokens import ID_TOKEN_KEY

__all__ = ['CALENDAR_OWNED_SCOPE', 'EMAIL_SCOPE', 'ID_TOKEN_KEY', 'OPERATIONS', 'GoogleSandbox', 'jwt_claims',
           's256_challenge']
