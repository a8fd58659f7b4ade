"""A local SimplyBook.me: the JSON-RPC 2.0 calls a callback receiver makes, ``getToken`` on ``/login`` and
``getBookingDetails`` on ``/``, answering and refusing as SimplyBook does (docs: booking-webhooks.md
section 1; error codes from SimplyBook's "Errors handling" page).

SimplyBook answers every JSON-RPC call with HTTP 200, errors included: a client reads ``error.code``.
Companies and their bookings are seeded through ``/_sandbox/companies/...`` (or ``add_company`` and
``put_booking``); a booking's details are returned exactly as seeded.

The lifecycle, clock, faults and calls log are the shared ``infra.sandboxes.sandbox.Sandbox``'s. Tokens
expire by the sandbox clock.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import re
import secrets
from html import escape
from http import HTTPStatus
from typing import Any

from ..pages import control_section
from ..sandbox import Sandbox
from ..web import Request, Response, html_response, json_response
from .control import ROUTES as CONTROL_ROUTES
from .control import handle_company, is_company_path

OPERATIONS = ('get_token', 'get_booking_details')
RPC_JSON = 'application/json'
BOOKING_HASH_RE = re.compile(r'[0-9a-f]{32}')
# The JSON-RPC method each endpoint serves, and the operation (fault target) it is
ENDPOINTS = {'login': {'getToken': 'get_token'}, '': {'getBookingDetails': 'get_booking_details'}}

# SimplyBook's error codes ("Errors handling"); messages as SimplyBook words them, typos included
PARSE_ERROR = (-32700, 'Parse error')
INVALID_REQUEST = (-32600, 'Invalid Request')
ACCESS_DENIED = (-32600, 'Access denied')
NO_SUCH_COMPANY = (-32600, 'Company does not exists')
METHOD_NOT_FOUND = (-32601, 'Method not found')
INVALID_PARAMS = (-32602, 'Invalid params')
PARAMS_MISSED = (-32010, 'Some required params are missed')
PARAMS_NOT_ARRAY = (-32011, 'Params is not array')
BOOKING_NOT_FOUND = (-32080, "Appointemnt couldn't be found")
SIGNATURE_ERROR = (-32085, 'Signature error')
LOGIN_NO_SUCH_COMPANY = (-33001, 'Company does not exist')
WRONG_API_KEY = (-33002, 'Wrong API key')


def booking_sign(booking_id: str, booking_hash: str, secret_key: str) -> str:
    """``getBookingDetails``' ``sign``: md5 of the three strings concatenated, lowercase hex."""
    return hashlib.md5(f'{booking_id}{booking_hash}{secret_key}'.encode()).hexdigest()


def rpc_error(request_id: Any, error: tuple[int, str]) -> Response:
    code, message = error
    return json_response(200, {'error': {'code': code, 'message': message}, 'id': request_id, 'jsonrpc': '2.0'},
                         content_type=RPC_JSON)


def rpc_result(request_id: Any, result: Any) -> Response:
    return json_response(200, {'result': result, 'id': request_id, 'jsonrpc': '2.0'}, content_type=RPC_JSON)


def _error_page(status: int, detail: str = '') -> Response:
    """What SimplyBook's front web server answers when the API behind it does not (HTML, not JSON-RPC)."""
    try:
        title = f'{status} {HTTPStatus(status).phrase}'
    except ValueError:
        title = str(status)
    extra = f'<p>{escape(detail)}</p>' if detail else ''
    return html_response(status, f'<html><head><title>{title}</title></head><body><center><h1>{title}</h1>'
                                 f'</center>{extra}<hr><center>nginx</center></body></html>')


_NOT_JSON = object()


def _json(body: bytes) -> Any:
    """The body's JSON value, or ``_NOT_JSON``."""
    try:
        return json.loads(body.decode('utf-8'))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return _NOT_JSON


def _rpc_call(body: bytes) -> dict[str, Any] | None:
    """The request's JSON-RPC call object, or None when the body is not one."""
    call = _json(body)
    return call if isinstance(call, dict) else None


class SimplyBookSandbox(Sandbox):
    """SimplyBook.me's login and company public API on a loopback port. ``start()``, use ``url``, ``stop()``."""

    NAME = 'SimplyBook'
    OPERATIONS = OPERATIONS
    CONTROL_ROUTES = CONTROL_ROUTES
    # The JSON-RPC method picks the handler: ``handle`` routes a call as the segments ('', endpoint, method),
    # which no real path has (a path's first segment is never empty)
    ROUTES = tuple(('POST', ('', endpoint, method), operation, '_' + operation)
                   for endpoint, methods in ENDPOINTS.items() for method, operation in methods.items())

    def __init__(self, host: str = '127.0.0.1', port: int = 0, token_ttl: float = 3600):
        super().__init__('', '', (), host, port)  # no OAuth client: SimplyBook authenticates by API key
        self.token_ttl = token_ttl
        self._companies: dict[str, dict[str, Any]] = {}  # login -> {api_key, secret_key, bookings: {id: {...}}}

    # --- set-up and inspection ---

    def add_company(self, company: str, api_key: str, secret_key: str) -> bool:
        """Create ``company`` with these keys, or give an existing one new keys (its bookings stay): True if new."""
        for name, value in (('company', company), ('api_key', api_key), ('secret_key', secret_key)):
            if not isinstance(value, str) or not value:
                raise ValueError(f'{name} must be a non-empty string')
        with self._lock:
            record = self._companies.get(company)
            if record is None:
                self._companies[company] = {'api_key': api_key, 'secret_key': secret_key, 'bookings': {}}
                return True
            record.update(api_key=api_key, secret_key=secret_key)
            return False

    def put_booking(self, company: str, booking_id: str, booking_hash: str, details: dict[str, Any]) -> bool:
        """Store (or replace) what ``getBookingDetails`` answers for ``booking_id``: True if new.

        KeyError when ``company`` does not exist."""
        if not isinstance(booking_id, str) or not booking_id.isdigit():
            raise ValueError('booking_id must be a string of digits')
        if not isinstance(booking_hash, str) or not BOOKING_HASH_RE.fullmatch(booking_hash):
            raise ValueError('hash must be 32 lowercase hex digits')
        if not isinstance(details, dict):
            raise ValueError('details must be a JSON object (the getBookingDetails result)')
        with self._lock:
            bookings = self._companies[company]['bookings']
            new = booking_id not in bookings
            bookings[booking_id] = {'hash': booking_hash, 'details': copy.deepcopy(details)}
            return new

    @property
    def companies(self) -> dict[str, dict[str, Any]]:
        """Each company's booking ids (keys are not shown)."""
        with self._lock:
            return {name: {'bookings': sorted(record['bookings'], key=int)} for name, record in self._companies.items()}

    # --- dispatch ---

    def handle(self, request: Request) -> Response:
        if is_company_path(request):
            return handle_company(self, request)
        # A JSON-RPC endpoint serves several methods on one path, while faults and the calls log work per
        # operation: route a POST to an endpoint by its method too, so that each method is its own operation.
        endpoint = '/'.join(request.segments)
        if request.method == 'POST' and endpoint in ENDPOINTS:
            call = _rpc_call(request.body)
            method = call.get('method') if call is not None else None
            request.segments = ['', endpoint, method if isinstance(method, str) else '']
        return super().handle(request)

    def _log(self, request: Request, operation: str | None, status: int) -> None:
        # the company asked about, so that a receiver's calls per company can be counted; never a key or token
        company = request.header('X-Company-Login') or None
        if operation == 'get_token':
            login = (_rpc_call(request.body) or {}).get('params')
            company = login[0] if isinstance(login, list) and login and isinstance(login[0], str) else None
        self._calls.append({'method': request.method, 'path': request.path, 'operation': operation, 'status': status,
                            'company': company})

    def _run(self, route: tuple, request: Request, params: list[str]) -> Response:
        call = _rpc_call(request.body)
        request_id = call.get('id')
        if call.get('jsonrpc') != '2.0':
            return rpc_error(request_id, INVALID_REQUEST)
        arguments = call.get('params', [])
        if not isinstance(arguments, list):
            return rpc_error(request_id, PARAMS_NOT_ARRAY)
        try:
            return rpc_result(request_id, getattr(self, route[3])(request, arguments))
        except _RpcError as exc:
            return rpc_error(request_id, exc.error)

    def _unrouted(self, request: Request, path_known: bool) -> Response:
        if request.segments[:1] != ['']:  # not a call to an endpoint
            return _error_page(405 if '/'.join(request.segments) in ENDPOINTS else 404)
        call = _rpc_call(request.body)
        if call is None:  # a JSON array (a batch, which SimplyBook does not take) or scalar is not a call
            return rpc_error(None, PARSE_ERROR if _json(request.body) is _NOT_JSON else INVALID_REQUEST)
        if call.get('jsonrpc') != '2.0' or not isinstance(call.get('method'), str):
            return rpc_error(call.get('id'), INVALID_REQUEST)
        return rpc_error(call.get('id'), METHOD_NOT_FOUND)

    def _plain_error(self, status: int, message: str) -> Response:
        return _error_page(status, message)

    def _injected_error(self, status: int, operation: str, request: Request) -> Response:
        return _error_page(status)

    def _json_type(self, operation: str) -> str:
        return RPC_JSON

    # --- the JSON-RPC methods (called with the lock held, as every request is answered) ---

    def _get_token(self, request: Request, arguments: list[Any]) -> str:
        """``getToken(companyLogin, apiKey)``: a token for the company public API."""
        if len(arguments) < 2:
            raise _RpcError(PARAMS_MISSED)
        company, api_key = arguments[:2]
        if not isinstance(company, str) or not isinstance(api_key, str):
            raise _RpcError(INVALID_PARAMS)
        record = self._companies.get(company)
        if record is None:
            raise _RpcError(LOGIN_NO_SUCH_COMPANY)
        if not hmac.compare_digest(api_key.encode(), record['api_key'].encode()):
            raise _RpcError(WRONG_API_KEY)
        token = secrets.token_hex(32)
        self._access_tokens[token] = {'company': company, 'expires_at': self._clock() + self.token_ttl}
        return token

    def _company_of(self, request: Request) -> dict[str, Any]:
        """The company of ``X-Company-Login``, whose token ``X-Token`` must be."""
        company = request.header('X-Company-Login')
        record = self._companies.get(company)
        if record is None:
            raise _RpcError(NO_SUCH_COMPANY)
        token = self._access_tokens.get(request.header('X-Token'))
        if token is None or token['company'] != company or token['expires_at'] <= self._clock():
            raise _RpcError(ACCESS_DENIED)
        return record

    def _get_booking_details(self, request: Request, arguments: list[Any]) -> dict[str, Any]:
        """``getBookingDetails(bookingId, sign)`` with ``sign = md5(bookingId + bookingHash + secretKey)``."""
        record = self._company_of(request)
        if len(arguments) < 2:
            raise _RpcError(PARAMS_MISSED)
        booking_id, sign = arguments[:2]
        if isinstance(booking_id, int) and not isinstance(booking_id, bool):
            booking_id = str(booking_id)
        if not isinstance(booking_id, str) or not isinstance(sign, str):
            raise _RpcError(INVALID_PARAMS)
        booking = record['bookings'].get(booking_id)
        if booking is None:
            raise _RpcError(BOOKING_NOT_FOUND)
        expected = booking_sign(booking_id, booking['hash'], record['secret_key'])
        if not hmac.compare_digest(sign.encode(), expected.encode()):
            raise _RpcError(SIGNATURE_ERROR)
        return copy.deepcopy(booking['details'])

    # --- the index page ---

    def _index(self) -> Response:
        rows = ''.join(
            f'<tr><td><code>{escape(name)}</code></td><td>{escape(", ".join(info["bookings"]) or "none")}</td></tr>'
            for name, info in self.companies.items()) or '<tr><td colspan="2">No companies yet.</td></tr>'
        return html_response(200, (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>SimplyBook sandbox</title></head>'
            f'<body><h1>SimplyBook sandbox</h1><p>Sandbox clock: {escape(self.now().strftime("%Y-%m-%dT%H:%M:%SZ"))}. '
            f'JSON-RPC <code>getToken</code> at <code>{escape(self.url)}/login</code>, '
            f'<code>getBookingDetails</code> at <code>{escape(self.url)}/</code>.</p>'
            f'<h2>Companies</h2><table><tr><th>company</th><th>bookings</th></tr>{rows}</table>'
            + control_section('PUT /_sandbox/companies/{company} {api_key, secret_key}',
                              'PUT /_sandbox/companies/{company}/bookings/{booking_id} {hash, details}')
            + '</body></html>'))


class _RpcError(Exception):
    """A JSON-RPC method's refusal: (code, message)."""

    def __init__(self, error: tuple[int, str]):
        super().__init__(error[1])
        self.error = error


