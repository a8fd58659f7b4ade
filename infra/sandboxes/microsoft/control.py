"""``/_sandbox/...``: what the local dev stack (or a person with curl) uses to steer the sandbox.

Never part of Microsoft's API: not logged in ``calls()`` and not subject to faults.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..web import Request, Response, json_response
from .sandbox import OPERATIONS, ORG_TENANT

if TYPE_CHECKING:
    from .sandbox import MicrosoftSandbox


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


def handle_control(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    key = (request.method, '/'.join(request.segments[1:]))
    try:
        handler = ROUTES.get(key)
        if handler is None:
            known = {path for _, path in ROUTES}
            return _error(405 if key[1] in known else 404, f'no control endpoint {request.method} {request.path}')
        return handler(sandbox, request)
    except (ValueError, TypeError, KeyError) as exc:
        return _error(400, str(exc) or exc.__class__.__name__)


def _add_fault(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    body = _body(request)
    if body.get('operation') not in OPERATIONS:
        raise ValueError(f'operation must be one of {list(OPERATIONS)}')
    sandbox.fail(body['operation'], body.get('status'), body.get('body'), body.get('headers'), body.get('times', 1),
                 after=bool(body.get('after', False)))
    return json_response(201, {'faults': sandbox.pending_faults()})


def _list_faults(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    return json_response(200, {'faults': sandbox.pending_faults()})


def _clear_faults(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    sandbox.clear_faults()
    return Response(204)


def _calls(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    return json_response(200, {'calls': sandbox.calls(request.query.get('operation') or None)})


def _reset_calls(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    sandbox.reset_calls()
    return Response(204)


def _advance(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    seconds = _body(request).get('seconds')
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ValueError('seconds must be a non-negative number')
    sandbox.advance(seconds)
    return json_response(200, {'now': sandbox.now().strftime('%Y-%m-%dT%H:%M:%SZ')})


def _expire_tokens(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    sandbox.expire_access_tokens()
    return Response(204)


def _revoke(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    user_id = _body(request).get('user_id')
    if not isinstance(user_id, str) or not user_id:
        raise ValueError('user_id must be a non-empty string')
    sandbox.revoke_refresh_tokens(user_id)
    return Response(204)


def _allow_redirect_uri(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    uri = _body(request).get('uri')
    if not isinstance(uri, str) or not uri:
        raise ValueError('uri must be a non-empty string')
    sandbox.allow_redirect_uri(uri)
    return json_response(200, {'redirect_uris': sandbox.redirect_uris})


def _add_user(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    body = _body(request)
    unknown = sorted(set(body) - {'user_id', 'email', 'display_name', 'tenant_id', 'licensed'})
    if unknown:
        raise ValueError(f'unknown fields {unknown}')
    user = sandbox.add_user(body.get('user_id'), body.get('email'), body.get('display_name', ''),
                            tenant_id=body.get('tenant_id', ORG_TENANT), licensed=body.get('licensed', True))
    return json_response(201, user)


def _settings(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    body = _body(request)
    unknown = sorted(set(body) - {'allow_personal_accounts_on_organizations'})
    if unknown:
        raise ValueError(f'unknown settings {unknown}')
    if 'allow_personal_accounts_on_organizations' in body:
        value = body['allow_personal_accounts_on_organizations']
        if not isinstance(value, bool):
            raise ValueError('allow_personal_accounts_on_organizations must be true or false')
        sandbox.allow_personal_accounts_on_organizations = value
    return json_response(200, {'allow_personal_accounts_on_organizations':
                               sandbox.allow_personal_accounts_on_organizations})


def _state(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    users = sandbox.users
    return json_response(200, {
        'url': sandbox.url, 'authority': sandbox.authority, 'graph_base': sandbox.graph_base,
        'now': sandbox.now().strftime('%Y-%m-%dT%H:%M:%SZ'), 'client_id': sandbox.client_id,
        'redirect_uris': sandbox.redirect_uris, 'users': list(users.values()),
        'allow_personal_accounts_on_organizations': sandbox.allow_personal_accounts_on_organizations,
        'meetings': list(sandbox.meetings.values()),
        'refresh_counts': {user_id: sandbox.refresh_count(user_id) for user_id in users}})


ROUTES = {
    ('POST', 'faults'): _add_fault,
    ('GET', 'faults'): _list_faults,
    ('DELETE', 'faults'): _clear_faults,
    ('GET', 'calls'): _calls,
    ('DELETE', 'calls'): _reset_calls,
    ('POST', 'advance'): _advance,
    ('POST', 'expire-access-tokens'): _expire_tokens,
    ('POST', 'revoke'): _revoke,
    ('POST', 'redirect-uris'): _allow_redirect_uri,
    ('POST', 'users'): _add_user,
    ('POST', 'settings'): _settings,
    ('GET', 'state'): _state,
}
