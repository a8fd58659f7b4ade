"""Calls to a booking platform's API, for the lookups of sources whose webhooks carry only ids.

One pooled client per container and API base. What the platform answers decides what happens to the
lookup: 429, 5xx, a timeout or a refused connection is an outage (PlatformUnavailable: retried with the
meetings queue's growing delay); 401, 403 and 404 refuse it (LookupRefused: nothing changes). The error
messages name the status and the path, never a key or a token.
"""

import functools
from typing import Any

import httpx2

from meetbridge.sources.base import LookupRefused, PlatformUnavailable

TIMEOUT = httpx2.Timeout(10.0, connect=3.0)
REFUSING = frozenset({400, 401, 403, 404, 410, 422})


@functools.cache
def _pooled_client(base_url: str) -> httpx2.Client:
    return httpx2.Client(base_url=base_url, timeout=TIMEOUT)


def call(platform: str, base_url: str, method: str, path: str, **request: Any) -> httpx2.Response:
    """`request`: httpx2's keyword arguments (headers, json, auth, params). Answers a 2xx response."""
    try:
        response = _pooled_client(base_url).request(method, path, **request)
    except httpx2.TransportError as exc:
        raise PlatformUnavailable(f'{platform} did not answer {method} {path}: {type(exc).__name__}') from None
    if response.status_code in REFUSING:
        raise LookupRefused(f'{platform} refused {method} {path}: HTTP {response.status_code}')
    if not response.is_success:
        raise PlatformUnavailable(f'{platform} answered {method} {path}: HTTP {response.status_code}')
    return response
