"""A local Zoom (OAuth + REST + webhook sender) for tests and the local stack.

    from infra.sandboxes.zoom import ZoomSandbox
    with ZoomSandbox(redirect_uris=('http://127.0.0.1:3000/oauth/zoom/callback',)) as zoom:
        code = zoom.authorize('zoom-dana')
        ...  # POST zoom.url + '/oauth/token', then zoom.api_base + '/users/me/meetings'

Alone: ``python -m infra.sandboxes.zoom --port 9090``.
"""

from .sandbox import OPERATIONS, Request, Response, ZoomSandbox
from ..oauth import s256_challenge
from .signing import sign, url_validation_response, verify_signature

__all__ = ['OPERATIONS', 'Request', 'Response', 'ZoomSandbox', 's256_challenge', 'sign', 'url_validation_response',
           'verify_signature']
