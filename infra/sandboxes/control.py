"""``/_sandbox/...``: what the local dev stack (or a person with curl) uses to steer a sandbox.

Never part of the provider's API: not logged in ``calls()`` and not subject to faults. ``ROUTES`` here
are the endpoints every sandbox has (faults, calls, clock, access-token expiry, redirect URIs); each
provider's ``control.ROUTES`` adds its own, and the sandbox dispatches on its ``CONTROL_ROUTES``.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .web import Request, Response, json_response

if TYPE_CHECKING:
    from .sandbox import Sandbox


def _error(status: int, message: str) -> Response:
    return json_response(status, {'error': message})


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object (an empty body is ``{}``); ValueError, answered 400, for anything else."""
    try:
        body = json.loads(request.body.decode('utf-8') or '{}')
    except (UnicodeDecodeError, ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise ValueError('the body must be a JSON object')
    return body


def clock_text(sandbox: 'Sandbox') -> str:
    return sandbox.now().strftime('%Y-%m-%dT%H:%M:%SZ')


def handle_control(sandbox: 'Sandbox', request: Request) -> Response:
    routes = sandbox.CONTROL_ROUTES
    key = (request.method, '/'.join(request.segments[1:]))
    try:
        # A route may end in `*`: one path segment, which its handler reads from the request.
        handler = routes.get(key) or routes.get((request.method, '/'.join([*request.segments[1:-1], '*'])))
        if handler is None:
            known = {path for _, path in routes}
            return _error(405 if key[1] in known else 404, f'no control endpoint {request.method} {request.path}')
        return handler(sandbox, request)
    except (ValueError, TypeError, KeyError) as exc:
        return _error(400, str(exc) or exc.__class__.__name__)


def _add_fault(sandbox: 'Sandbox', request: Request) -> Response:
    body = json_body(request)
    if body.get('operation') not in sandbox.OPERATIONS:
        raise ValueError(f'operation must be one of {list(sandbox.OPERATIONS)}')
    sandbox.fail(body['operation'], body.get('status'), body.get('body'), body.get('headers'), body.get('times', 1),
                 after=bool(body.get('after', False)))
    return json_response(201, {'faults': sandbox.pending_faults()})


def _list_faults(sandbox: 'Sandbox', request: Request) -> Response:
    return json_response(200, {'faults': sandbox.pending_faults()})


def _clear_faults(sandbox: 'Sandbox', request: Request) -> Response:
    sandbox.clear_faults()
    return Response(204)


def _calls(sandbox: 'Sandbox', request: Request) -> Response:
    return json_response(200, {'calls': sandbox.calls(request.query.get('operation') or None)})


def _reset_calls(sandbox: 'Sandbox', request: Request) -> Response:
    sandbox.reset_calls()
    return Response(204)


def _advance(sandbox: 'Sandbox', request: Request) -> Response:
    seconds = json_body(request).get('seconds')
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValueError('seconds must be a non-negative number')
    sandbox.advance(seconds)
    return json_response(200, {'now': clock_text(sandbox)})


def _expire_tokens(sandbox: 'Sandbox', request: Request) -> Response:
    sandbox.expire_access_tokens()
    return Response(204)


def _allow_redirect_uri(sandbox: 'Sandbox', request: Request) -> Response:
    uri = json_body(request).get('uri')
    if not isinstance(uri, str) or not uri:
        raise ValueError('uri must be a non-empty string')
    sandbox.allow_redirect_uri(uri)
    return json_response(200, {'redirect_uris': sandbox.redirect_uris})


ROUTES = {
    ('POST', 'faults'): _add_fault,
    ('GET', 'faults'): _list_faults,
    ('DELETE', 'faults'): _clear_faults,
    ('GET', 'calls'): _calls,
    ('DELETE', 'calls'): _reset_calls,
    ('POST', 'advance'): _advance,
    ('POST', 'expire-access-tokens'): _expire_tokens,
    ('POST', 'redirect-uris'): _allow_redirect_uri,
}
