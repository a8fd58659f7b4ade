"""Microsoft's own ``/_sandbox/...`` endpoints (state, refresh-token revocation, deleting a meeting, users,
settings), on top of those every sandbox has."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..control import ROUTES as SHARED_ROUTES
from ..control import clock_text, json_body
from ..web import Request, Response, json_response

if TYPE_CHECKING:
    from .sandbox import MicrosoftSandbox


def _body_of(request: Request, allowed: set[str], what: str) -> dict[str, Any]:
    """The JSON body, refused when it names anything but ``allowed`` (``what`` they are, for the message)."""
    body = json_body(request)
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ValueError(f'unknown {what} {unknown}')
    return body


def _revoke(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    user_id = json_body(request).get('user_id')
    if not isinstance(user_id, str) or not user_id:
        raise ValueError('user_id must be a non-empty string')
    sandbox.revoke_refresh_tokens(user_id)
    return Response(204)


def _add_user(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    body = _body_of(request, {'user_id', 'email', 'display_name', 'tenant_id', 'licensed'}, 'fields')
    # tenant_id and licensed, when not given, take add_user()'s defaults (the work tenant, licensed)
    user = sandbox.add_user(body.get('user_id'), body.get('email'), body.get('display_name', ''),
                            **{name: body[name] for name in ('tenant_id', 'licensed') if name in body})
    return json_response(201, user)


def _settings(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    body = _body_of(request, {'allow_personal_accounts_on_organizations'}, 'settings')
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
        'now': clock_text(sandbox), 'client_id': sandbox.client_id,
        'redirect_uris': sandbox.redirect_uris, 'users': list(users.values()),
        'allow_personal_accounts_on_organizations': sandbox.allow_personal_accounts_on_organizations,
        'meetings': list(sandbox.meetings.values()),
        'refresh_counts': {user_id: sandbox.refresh_count(user_id) for user_id in users}})


def _remove_meeting(sandbox: 'MicrosoftSandbox', request: Request) -> Response:
    sandbox.remove_meeting(request.segments[-1])
    return Response(204)


ROUTES = {
    **SHARED_ROUTES,
    ('POST', 'revoke'): _revoke,
    ('DELETE', 'meetings/*'): _remove_meeting,
    ('POST', 'users'): _add_user,
    ('POST', 'settings'): _settings,
    ('GET', 'state'): _state,
}
