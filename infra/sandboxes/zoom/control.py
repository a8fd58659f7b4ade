"""``/_sandbox/...``: what the local dev stack (or a person with curl) uses to steer the sandbox.

Never part of Zoom's API: not logged in ``calls()`` and not subject to faults.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .sandbox import OPERATIONS, Request, Response, json_response

if TYPE_CHECKING:
    from .sandbox import ZoomSandbox


def _error(status: int, message: str) -> Response:
    return json_response(status, {'error': message})


def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.body.decode('utf-8') or '{}')
    except (UnicodeDecodeError, ValueError, RecursionError):
        body = None
    if not isinstance(body, dict):
        raise ValueError('the body must be a JSON object')
    return body


def handle_control(sandbox: 'ZoomSandbox', request: Request) -> Response:
    key = (request.method, '/'.join(request.segments[1:]))
    try:
        handler = ROUTES.get(key)
        if handler is None:
            known = {path for _, path in ROUTES}
            return _error(405 if key[1] in known else 404, f'no control endpoint {request.method} {request.path}')
        return handler(sandbox, request)
    except (ValueError, TypeError, KeyError) as exc:
        return _error(400, str(exc) or exc.__class__.__name__)


def _add_fault(sandbox: 'ZoomSandbox', request: Request) -> Response:
    body = _body(request)
    if body.get('operation') not in OPERATIONS:
        raise ValueError(f'operation must be one of {list(OPERATIONS)}')
    sandbox.fail(body['operation'], body.get('status'), body.get('body'), body.get('headers'), body.get('times', 1),
                 after=bool(body.get('after', False)))
    return json_response(201, {'faults': sandbox.pending_faults()})


def _list_faults(sandbox: 'ZoomSandbox', request: Request) -> Response:
    return json_response(200, {'faults': sandbox.pending_faults()})


def _clear_faults(sandbox: 'ZoomSandbox', request: Request) -> Response:
    sandbox.clear_faults()
    return Response(204)


def _calls(sandbox: 'ZoomSandbox', request: Request) -> Response:
    return json_response(200, {'calls': sandbox.calls(request.query.get('operation') or None)})


def _reset_calls(sandbox: 'ZoomSandbox', request: Request) -> Response:
    sandbox.reset_calls()
    return Response(204)


def _advance(sandbox: 'ZoomSandbox', request: Request) -> Response:
    seconds = _body(request).get('seconds')
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValueError('seconds must be a non-negative number')
    sandbox.advance(seconds)
    return json_response(200, {'now': sandbox.now().strftime('%Y-%m-%dT%H:%M:%SZ')})


def _expire_tokens(sandbox: 'ZoomSandbox', request: Request) -> Response:
    sandbox.expire_access_tokens()
    return Response(204)


def _allow_redirect_uri(sandbox: 'ZoomSandbox', request: Request) -> Response:
    uri = _body(request).get('uri')
    if not isinstance(uri, str) or not uri:
        raise ValueError('uri must be a non-empty string')
    sandbox.allow_redirect_uri(uri)
    return json_response(200, {'redirect_uris': sandbox.redirect_uris})


def _state(sandbox: 'ZoomSandbox', request: Request) -> Response:
    meetings = sandbox.meetings
    return json_response(200, {
        'url': sandbox.url, 'now': sandbox.now().strftime('%Y-%m-%dT%H:%M:%SZ'), 'client_id': sandbox.client_id,
        'redirect_uris': sandbox.redirect_uris, 'users': list(sandbox.users.values()),
        'meetings': [dict(m, registrants=sandbox.registrants(mid)) for mid, m in meetings.items()],
        'refresh_counts': {user_id: sandbox.refresh_count(user_id) for user_id in sandbox.users}})


def _send_webhook(sandbox: 'ZoomSandbox', request: Request) -> Response:
    body = _body(request)
    target, event = body.get('target_url'), body.get('event')
    if not isinstance(target, str) or not target:
        raise ValueError('target_url is required')
    try:
        if event == 'endpoint.url_validation':
            return json_response(200, sandbox.validate_endpoint(target))
        if event == 'app_deauthorized':
            if not isinstance(body.get('user_id'), str):
                raise ValueError('user_id is required for app_deauthorized')
            status, headers, answer = sandbox.deauthorize(body['user_id'], target)
        elif isinstance(event, dict):
            status, headers, answer = sandbox.send_webhook(target, event)
        else:
            raise ValueError('event must be "endpoint.url_validation", "app_deauthorized" or an event object')
    except OSError as exc:  # refused, timed out, unreachable: Zoom would count a failed delivery
        return json_response(502, {'error': f'delivery failed: {exc}'})
    return json_response(200, {'status': status, 'headers': headers, 'body': answer.decode('utf-8', 'replace')})


ROUTES = {
    ('POST', 'faults'): _add_fault,
    ('GET', 'faults'): _list_faults,
    ('DELETE', 'faults'): _clear_faults,
    ('GET', 'calls'): _calls,
    ('DELETE', 'calls'): _reset_calls,
    ('POST', 'advance'): _advance,
    ('POST', 'expire-access-tokens'): _expire_tokens,
    ('POST', 'redirect-uris'): _allow_redirect_uri,
    ('GET', 'state'): _state,
    ('POST', 'webhooks/send'): _send_webhook,
}
