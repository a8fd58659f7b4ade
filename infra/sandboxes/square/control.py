"""Square's own ``/_sandbox/...`` endpoints (access tokens, customers, team members, delays, state), on top of
those every sandbox has. The seeded objects are addressed by id in the path, so these routes are
matched by pattern before the shared exact-path ones."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from ..control import ROUTES as SHARED_ROUTES
from ..control import clock_text, handle_control, json_body
from ..web import Request, Response, json_response

if TYPE_CHECKING:
    from .sandbox import SquareSandbox


def _put_access_token(sandbox: 'SquareSandbox', request: Request, token: str) -> Response:
    body = json_body(request)
    sandbox.add_access_token(token, scopes=body.get('scopes'), expires_in=body.get('expires_in'))
    return json_response(200, {'access_token': token, 'scopes': sandbox.token_scopes(token)})


def _revoke_access_token(sandbox: 'SquareSandbox', request: Request, token: str) -> Response:
    sandbox.revoke_access_token(token)
    return Response(204)


def _put_customer(sandbox: 'SquareSandbox', request: Request, customer_id: str) -> Response:
    return json_response(200, sandbox.put_customer(customer_id, json_body(request)))


def _delete_customer(sandbox: 'SquareSandbox', request: Request, customer_id: str) -> Response:
    sandbox.remove_customer(customer_id)
    return Response(204)


def _put_team_member(sandbox: 'SquareSandbox', request: Request, team_member_id: str) -> Response:
    return json_response(200, sandbox.put_team_member(team_member_id, json_body(request)))


def _delete_team_member(sandbox: 'SquareSandbox', request: Request, team_member_id: str) -> Response:
    sandbox.remove_team_member(team_member_id)
    return Response(204)


def _add_delay(sandbox: 'SquareSandbox', request: Request) -> Response:
    body = json_body(request)
    sandbox.delay(body.get('operation'), body.get('seconds'), body.get('times', 1))
    return json_response(201, {'delays': sandbox.pending_delays()})


def _list_delays(sandbox: 'SquareSandbox', request: Request) -> Response:
    return json_response(200, {'delays': sandbox.pending_delays()})


def _state(sandbox: 'SquareSandbox', request: Request) -> Response:
    return json_response(200, {'url': sandbox.url, 'now': clock_text(sandbox),
                               'default_version': sandbox.default_version, 'latest_version': sandbox.latest_version,
                               'access_tokens': sandbox.access_tokens, 'customers': sandbox.customers,
                               'team_members': sandbox.team_members})


ROUTES = {
    **SHARED_ROUTES,
    ('GET', 'state'): _state,
    ('POST', 'delays'): _add_delay,
    ('GET', 'delays'): _list_delays,
}

OBJECT_ROUTES: dict[tuple[str, str], Callable[[Any, Request, str], Response]] = {
    ('PUT', 'access-tokens'): _put_access_token,
    ('DELETE', 'access-tokens'): _revoke_access_token,
    ('PUT', 'customers'): _put_customer,
    ('DELETE', 'customers'): _delete_customer,
    ('PUT', 'team-members'): _put_team_member,
    ('DELETE', 'team-members'): _delete_team_member,
}


def handle(sandbox: 'SquareSandbox', request: Request) -> Response:
    """``/_sandbox/{kind}/{id}`` by pattern; every other control path as every sandbox answers it."""
    segments = request.segments
    if len(segments) != 3 or not segments[2] or segments[1] not in {kind for _, kind in OBJECT_ROUTES}:
        return handle_control(sandbox, request)
    handler = OBJECT_ROUTES.get((request.method, segments[1]))
    if handler is None:
        return json_response(405, {'error': f'no control endpoint {request.method} {request.path}'})
    try:
        return handler(sandbox, request, segments[2])
    except (ValueError, TypeError, KeyError) as exc:
        return json_response(400, {'error': str(exc) or exc.__class__.__name__})
