"""Google's own ``/_sandbox/...`` endpoints (state, users, faults and rate limits by name, the clock's
friends: grant revocation, a host deleting an event, pending conferences), on top of those every
sandbox has."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..control import ROUTES as SHARED_ROUTES
from ..control import clock_text, json_body
from ..web import Request, Response, json_response

if TYPE_CHECKING:
    from .sandbox import GoogleSandbox


def _body_of(request: Request, allowed: set[str]) -> dict[str, Any]:
    """The JSON body, refused when it names a field not in ``allowed``."""
    body = json_body(request)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValueError(f'unknown fields {unknown}')
    return body


def _state(sandbox: 'GoogleSandbox', request: Request) -> Response:
    users = sandbox.users
    grants = sandbox.grants()
    return json_response(200, {
        'url': sandbox.url, 'authorize_url': sandbox.authorize_url, 'token_url': sandbox.token_url,
        'revoke_url': sandbox.revoke_url, 'calendar_base': sandbox.calendar_base, 'now': clock_text(sandbox),
        'client_id': sandbox.client_id, 'redirect_uris': sandbox.redirect_uris, 'users': list(users.values()),
        'events': list(sandbox.events.values()),
        'grants': {user_id: sum(1 for g in grants if g['user_id'] == user_id) for user_id in users},
        'refresh_counts': {user_id: sandbox.refresh_count(user_id) for user_id in users},
        'conference_pending_reads': sandbox.conference_pending_reads})


def _add_user(sandbox: 'GoogleSandbox', request: Request) -> Response:
    body = _body_of(request, {'user_id', 'email', 'name', 'meet_enabled'})
    user = sandbox.add_user(body.get('user_id'), body.get('email'), body.get('name', ''),
                            meet_enabled=body.get('meet_enabled', True))
    return json_response(201, user)


def _fail(sandbox: 'GoogleSandbox', request: Request) -> Response:
    body = _body_of(request, {'operation', 'status', 'body', 'headers', 'times', 'after'})
    if body.get('operation') not in sandbox.OPERATIONS:
        raise ValueError(f'operation must be one of {list(sandbox.OPERATIONS)}')
    sandbox.fail(body['operation'], body.get('status'), body.get('body'), body.get('headers'), body.get('times', 1),
                 after=bool(body.get('after', False)))
    return json_response(201, {'faults': sandbox.pending_faults()})


def _rate_limit(sandbox: 'GoogleSandbox', request: Request) -> Response:
    body = _body_of(request, {'operation', 'times', 'retry_after', 'status'})
    if body.get('operation') not in sandbox.OPERATIONS:
        raise ValueError(f'operation must be one of {list(sandbox.OPERATIONS)}')
    sandbox.rate_limit(body['operation'], body.get('times', 1), body.get('retry_after'), body.get('status', 429))
    return json_response(201, {'faults': sandbox.pending_faults()})


def _reset_calls(sandbox: 'GoogleSandbox', request: Request) -> Response:
    sandbox.reset_calls()
    return Response(204)


def _revoke_grants(sandbox: 'GoogleSandbox', request: Request) -> Response:
    user_id = _body_of(request, {'user_id'}).get('user_id')
    if not isinstance(user_id, str) or not user_id:
        raise ValueError('user_id must be a non-empty string')
    sandbox.revoke_grants(user_id)
    return Response(204)


def _remove_event(sandbox: 'GoogleSandbox', request: Request) -> Response:
    event_id = _body_of(request, {'event_id'}).get('event_id')
    if not isinstance(event_id, str) or not event_id:
        raise ValueError('event_id must be a non-empty string')
    sandbox.remove_event(event_id)
    return Response(204)


def _conference_pending(sandbox: 'GoogleSandbox', request: Request) -> Response:
    sandbox.set_conference_pending(_body_of(request, {'reads'}).get('reads'))
    return json_response(200, {'reads': sandbox.conference_pending_reads})


ROUTES = {
    **SHARED_ROUTES,
    ('GET', 'state'): _state,
    ('POST', 'users'): _add_user,
    ('POST', 'fail'): _fail,
    ('POST', 'rate-limit'): _rate_limit,
    ('POST', 'reset-calls'): _reset_calls,
    ('POST', 'revoke-grants'): _revoke_grants,
    ('POST', 'remove-event'): _remove_event,
    ('POST', 'conference-pending'): _conference_pending,
}
