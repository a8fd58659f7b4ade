"""Zoom's own ``/_sandbox/...`` endpoints (state, webhooks, revoking a user, deleting a meeting), on top of those every sandbox has."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..control import ROUTES as SHARED_ROUTES
from ..control import clock_text, json_body
from ..web import Request, Response, json_response

if TYPE_CHECKING:
    from .sandbox import ZoomSandbox


def _state(sandbox: 'ZoomSandbox', request: Request) -> Response:
    meetings = sandbox.meetings
    return json_response(200, {
        'url': sandbox.url, 'now': clock_text(sandbox), 'client_id': sandbox.client_id,
        'redirect_uris': sandbox.redirect_uris, 'users': list(sandbox.users.values()),
        'meetings': [dict(m, registrants=sandbox.registrants(mid)) for mid, m in meetings.items()],
        'refresh_counts': {user_id: sandbox.refresh_count(user_id) for user_id in sandbox.users}})


def _send_webhook(sandbox: 'ZoomSandbox', request: Request) -> Response:
    body = json_body(request)
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


def _revoke(sandbox: 'ZoomSandbox', request: Request) -> Response:
    user_id = json_body(request).get('user_id')
    if not isinstance(user_id, str) or not user_id:
        raise ValueError('user_id must be a non-empty string')
    sandbox.revoke_user(user_id)
    return Response(204)


def _remove_meeting(sandbox: 'ZoomSandbox', request: Request) -> Response:
    sandbox.remove_meeting(request.segments[-1])
    return Response(204)


ROUTES = {
    **SHARED_ROUTES,
    ('GET', 'state'): _state,
    ('POST', 'revoke'): _revoke,
    ('DELETE', 'meetings/*'): _remove_meeting,
    ('POST', 'webhooks/send'): _send_webhook,
}
