"""A local Microsoft (Entra ID v2.0 + Graph online meetings) for tests and the local stack.

    from infra.sandboxes.microsoft import MicrosoftSandbox
    with MicrosoftSandbox(redirect_uris=('http://127.0.0.1:3000/oauth/microsoft/callback',)) as ms:
        ...  # MSAL with authority=ms.authority and an http_client sending https://login.microsoft.sandbox to ms.url
        response = ms.authorize('00000000-0000-0000-0000-000000000001', flow['auth_uri'])

Alone: ``python -m infra.sandboxes.microsoft --port 9091``.
"""

from .sandbox import MSA_TENANT, OPERATIONS, ORG_TENANT, MicrosoftSandbox
from ..oauth import jwt_claims, s256_challenge
from .tokens import client_info, nonce_hash

__all__ = ['MSA_TENANT', 'OPERATIONS', 'ORG_TENANT', 'MicrosoftSandbox', 'client_info', 'jwt_claims', 'nonce_hash',
           's256_challenge']
