"""Acuity's own ``/_sandbox/...`` endpoints: users and their API keys, appointments, state and stalls, on top
of the faults, calls and clock every sandbox has (not the OAuth ones: this API takes Basic auth only).

The shared dispatcher looks endpoints up by exact path; ``_PathPatterns`` lets ``*`` stand for one path
segment (a user or appointment id), which the handler reads from the request itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from ..control import ROUTES as SHARED_ROUTES
from ..control import clock_text, json_body
from ..web import Request, Response, json_response
from .validation import check_appointment, is_numeric_id

if TYPE_CHECKING:
    from .sandbox import AcuitySandbox

Handler = Callable[[Any, Request], Response]
OAUTH_ONLY = {('POST', 'expire-access-tokens'), ('POST', 'redirect-uris')}


class _PathPatterns(Mapping[tuple[str, str], Handler]):
    def __init__(self, routes: dict[tuple[str, str], Handler]):
        self._routes = routes

    def __getitem__(self, key: tuple[str, str]) -> Handler:
        method, path = key
        wanted = path.split('/')
        for (route_method, pattern), handler in self._routes.items():
            parts = pattern.split('/')
            if route_method == method and len(parts) == len(wanted) and all(
                    p == w or (p == '*' and w) for p, w in zip(parts, wanted)):
                return handler
        raise KeyError(key)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._routes)

    def __len__(self) -> int:
        return len(self._routes)


def _appointment_id(request: Request) -> int:
    if not is_numeric_id(request.segments[2]):
        raise ValueError('the appointment id must be numeric, as Acuity ids are')
    return int(request.segments[2])


def _put_user(sandbox: 'AcuitySandbox', request: Request) -> Response:
    body = json_body(request)
    unknown = sorted(set(body) - {'api_key'})
    if unknown:
        raise ValueError(f'unknown fields {unknown}; the body is {{"api_key"}}')
    sandbox.set_user(request.segments[2], body.get('api_key'))
    return Response(204)


def _put_appointment(sandbox: 'AcuitySandbox', request: Request) -> Response:
    body = json_body(request)
    check_appointment(body, _appointment_id(request))
    sandbox.set_appointment(body, request.query.get('user_id'))
    return Response(204)


def _delete_appointment(sandbox: 'AcuitySandbox', request: Request) -> Response:
    appointment_id = _appointment_id(request)
    try:
        sandbox.remove_appointment(appointment_id)
    except KeyError:
        return json_response(404, {'error': f'no appointment {appointment_id}'})
    return Response(204)


def _add_stall(sandbox: 'AcuitySandbox', request: Request) -> Response:
    body = json_body(request)
    sandbox.stall(body.get('seconds'), body.get('times', 1))
    return json_response(201, {'stalls': sandbox.pending_stalls()})


def _send_webhook(sandbox: 'AcuitySandbox', request: Request) -> Response:
    body = json_body(request)
    target, appointment_id = body.get('target_url'), body.get('id')
    if not isinstance(target, str) or not target:
        raise ValueError('target_url is required')
    if not isinstance(appointment_id, int) or isinstance(appointment_id, bool):
        raise ValueError('id must be the integer id of a seeded appointment')
    try:
        status, headers, answer = sandbox.send_webhook(target, body.get('action'), appointment_id, body.get('user_id'))
    except OSError as exc:  # refused, timed out, unreachable: a failed delivery
        return json_response(502, {'error': f'delivery failed: {exc}'})
    return json_response(200, {'status': status, 'headers': headers, 'body': answer.decode('utf-8', 'replace')})


def _state(sandbox: 'AcuitySandbox', request: Request) -> Response:
    return json_response(200, {
        'url': sandbox.url, 'api_base': sandbox.api_base, 'now': clock_text(sandbox), 'users': sandbox.users,
        'rate_limit': sandbox.rate_limit, 'stalls': sandbox.pending_stalls(),
        'appointments': [{'id': number, **record} for number, record in sorted(sandbox.appointments.items())]})


CONTROL_ROUTES = _PathPatterns({
    **{key: handler for key, handler in SHARED_ROUTES.items() if key not in OAUTH_ONLY},
    ('GET', 'state'): _state,
    ('PUT', 'users/*'): _put_user,
    ('PUT', 'appointments/*'): _put_appointment,
    ('DELETE', 'appointments/*'): _delete_appointment,
    ('POST', 'stalls'): _add_stall,
    ('POST', 'webhooks/send'): _send_webhook,
})
