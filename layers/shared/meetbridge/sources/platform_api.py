"""Calls to a booking platform's API, for the lookups of sources whose webhooks carry only ids.

One pooled client per container and API base. What the platform answers decides what happens to the
lookup: 429, 5xx, a timeout or a refused connection is an outage (PlatformUnavailable: retried with the
meetings queue's growing delay). 401 and 403 refuse the source's credentials, not the booking: the webhook
was verified, so the booking is real and waits the same way (its reason shown on it) until the admin
fixes the source's settings, or ends replayable in the dead-letter queue. 400, 404, 410 and 422 refuse the
lookup itself (LookupRefused: nothing changes). The error messages name the status and the path, never a
key or a token.
"""

import functools
from typing import Any

import httpx2

from meetbridge import budget
from meetbridge.sources.base import LookupRefused, PlatformUnavailable

TIMEOUT = httpx2.Timeout(10.0, connect=3.0)
REFUSING = frozenset({400, 404, 410, 422})
CREDENTIALS_REFUSED = frozenset({401, 403})


@functools.cache
def _pooled_client(base_url: str) -> httpx2.Client:
    return httpx2.Client(base_url=base_url, timeout=TIMEOUT)


def call(platform: str, base_url: str, method: str, path: str, **request: Any) -> httpx2.Response:
    """`request`: httpx2's keyword arguments (headers, json, auth, params). Answers a 2xx response."""
    try:
        response = _pooled_client(base_url).request(method, path, timeout=budget.http_timeout(TIMEOUT), **request)
    except httpx2.RequestError as exc:  # transport errors and timeouts, and a body that cannot be decoded
        raise PlatformUnavailable(f'{platform} did not answer {method} {path}: {type(exc).__name__}') from None
    if response.status_code in CREDENTIALS_REFUSED:
        raise PlatformUnavailable(f'{platform} refused the source\'s credentials for {method} {path} '
                                  f'(HTTP {response.status_code}): check the source\'s settings')
    if response.status_code in REFUSING:
        raise LookupRefused(f'{platform} refused {method} {path}: HTTP {response.status_code}')
    if not response.is_success:
        raise PlatformUnavailable(f'{platform} answered {method} {path}: HTTP {response.status_code}')
    return response
