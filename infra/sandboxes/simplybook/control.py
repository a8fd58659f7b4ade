"""SimplyBook's own ``/_sandbox/...`` endpoints (companies, their bookings, state), on top of those every
sandbox has."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..control import ROUTES as SHARED_ROUTES
from ..control import clock_text, json_body
from ..web import Request, Response, json_response

if TYPE_CHECKING:
    from .sandbox import SimplyBookSandbox


def _put_company(sandbox: 'SimplyBookSandbox', request: Request, company: str) -> Response:
    body = json_body(request)
    unknown = sorted(set(body) - {'api_key', 'secret_key'})
    if unknown:
        raise ValueError(f'unknown fields {unknown}')
    created = sandbox.add_company(company, body.get('api_key'), body.get('secret_key'))
    return json_response(201 if created else 200, {'company': company})


def _put_booking(sandbox: 'SimplyBookSandbox', request: Request, company: str, booking_id: str) -> Response:
    body = json_body(request)
    unknown = sorted(set(body) - {'hash', 'details'})
    if unknown:
        raise ValueError(f'unknown fields {unknown}')
    if company not in sandbox.companies:
        return json_response(404, {'error': f'no company {company!r}: PUT /_sandbox/companies/{company} first'})
    created = sandbox.put_booking(company, booking_id, body.get('hash'), body.get('details'))
    return json_response(201 if created else 200, {'company': company, 'booking_id': booking_id})


def _state(sandbox: 'SimplyBookSandbox', request: Request) -> Response:
    return json_response(200, {'url': sandbox.url, 'now': clock_text(sandbox), 'companies': sandbox.companies})


def is_company_path(request: Request) -> bool:
    """Whether ``request`` is for ``/_sandbox/companies/{company}[/bookings/{booking_id}]``, which the shared
    control dispatch (exact paths only) cannot route."""
    path = request.segments
    return path[:2] == ['_sandbox', 'companies'] and (len(path) == 3 or (len(path) == 5 and path[3] == 'bookings'))


def handle_company(sandbox: 'SimplyBookSandbox', request: Request) -> Response:
    """``PUT`` a company or one of its bookings; refusals worded as the shared control endpoints word them."""
    if request.method != 'PUT':
        return json_response(405, {'error': f'no control endpoint {request.method} {request.path}'})
    path = request.segments
    try:
        if len(path) == 3:
            return _put_company(sandbox, request, path[2])
        return _put_booking(sandbox, request, path[2], path[4])
    except (ValueError, TypeError, KeyError) as exc:
        return json_response(400, {'error': str(exc) or exc.__class__.__name__})


ROUTES = {
    **SHARED_ROUTES,
    ('GET', 'state'): _state,
}
