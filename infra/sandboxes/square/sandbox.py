"""A local Square: the two reads meetbridge makes after a Square booking webhook, which carries only ids
(``GET /v2/customers/{id}``, ``GET /v2/team-members/{id}``), with a bearer token, the ``Square-Version``
header and Square's error shape ``{"errors": [{"category", "code", "detail"}]}``
(docs: booking-webhooks.md section 6; the API's shapes from Square's public API reference and SDKs).

Access tokens, customers and team members are seeded (``add_access_token``, ``put_customer``,
``put_team_member`` or their ``/_sandbox/`` endpoints); nothing creates them through the API. The
lifecycle, clock, faults and calls log are the shared ``infra.sandboxes.sandbox.Sandbox``'s.
"""

from __future__ import annotations

import copy
import hmac
import math
import re
import time
from collections import deque
from datetime import date
from html import escape
from typing import Any, Iterable

from ..pages import control_section
from ..sandbox import Reject, Sandbox
from ..web import Request, Response, html_response, json_response
from . import control

OPERATIONS = ('retrieve_customer', 'retrieve_team_member')
# What each read needs of the token: Square answers 403 INSUFFICIENT_SCOPES without it.
SCOPES = {'retrieve_customer': 'CUSTOMERS_READ', 'retrieve_team_member': 'EMPLOYEES_READ'}
JSON_TYPE = 'application/json'
VERSION_RE = re.compile(r'\d{4}-\d{2}-\d{2}')
TEAM_MEMBER_STATUSES = ('ACTIVE', 'INACTIVE')
HEADER_HELP = ('The header value is expected to be of the format "Bearer TOKEN" (without quotation marks), where '
               'TOKEN is to be replaced with your access token (e.g. "Bearer ABC123def456GHI789jkl0"). For more '
               'information, see https://docs.connect.squareup.com/api/connect/v2/#requestandresponseheaders. If you '
               'are seeing this error message while using one of our officially supported SDKs, please report this '
               'to developers@squareup.com.')
NO_HEADER = 'Your request did not include an `Authorization` http header with an access token. ' + HEADER_HELP
MALFORMED_HEADER = 'The `Authorization` http header of your request was malformed. ' + HEADER_HELP
# The category and code of an injected fault's default body, by status; anything else is by its class.
FAULT_ERRORS = {
    400: ('INVALID_REQUEST_ERROR', 'BAD_REQUEST'),
    401: ('AUTHENTICATION_ERROR', 'UNAUTHORIZED'),
    403: ('AUTHENTICATION_ERROR', 'FORBIDDEN'),
    404: ('INVALID_REQUEST_ERROR', 'NOT_FOUND'),
    405: ('INVALID_REQUEST_ERROR', 'METHOD_NOT_ALLOWED'),
    408: ('INVALID_REQUEST_ERROR', 'REQUEST_TIMEOUT'),
    429: ('RATE_LIMIT_ERROR', 'RATE_LIMITED'),
    500: ('API_ERROR', 'INTERNAL_SERVER_ERROR'),
    501: ('API_ERROR', 'NOT_IMPLEMENTED'),
    502: ('API_ERROR', 'BAD_GATEWAY'),
    503: ('API_ERROR', 'SERVICE_UNAVAILABLE'),
    504: ('API_ERROR', 'GATEWAY_TIMEOUT'),
}


def square_error(status: int, category: str, code: str, detail: str, headers: dict[str, str] | None = None,
                 **extra: str) -> Response:
    return json_response(status, {'errors': [{'category': category, 'code': code, 'detail': detail, **extra}]},
                         headers, content_type=JSON_TYPE)


def _error_for_status(status: int, detail: str) -> Response:
    category, code = FAULT_ERRORS.get(status) or (
        ('API_ERROR', 'INTERNAL_SERVER_ERROR') if status >= 500 else ('INVALID_REQUEST_ERROR', 'BAD_REQUEST'))
    return square_error(status, category, code, detail)


def _strings(obj: dict[str, Any], names: Iterable[str], kind: str) -> None:
    for name in names:
        if name in obj and not isinstance(obj[name], str):
            raise ValueError(f'{kind} {name} must be a string')


class SquareSandbox(Sandbox):
    """Square's Customers and Team reads on a loopback port. ``start()``, seed, use ``url``, ``stop()``."""

    NAME = 'Square'
    OPERATIONS = OPERATIONS
    CONTROL_ROUTES = control.ROUTES
    ROUTES = (
        ('GET', ('v2', 'customers', '*'), 'retrieve_customer', '_retrieve_customer'),
        ('GET', ('v2', 'team-members', '*'), 'retrieve_team_member', '_retrieve_team_member'),
    )

    def __init__(self, host: str = '127.0.0.1', port: int = 0, *, default_version: str = '2025-10-16',
                 latest_version: str | None = None):
        super().__init__('', '', (), host, port)  # no OAuth here: access tokens are seeded
        self.latest_version = latest_version or default_version
        if self._version_problem(default_version):
            raise ValueError(f'default_version {default_version!r} must be a YYYY-MM-DD release no later than '
                             f'{self.latest_version}')
        self.default_version = default_version  # the app's version, used when a request sends no Square-Version
        self._revoked: set[str] = set()
        self._delays: dict[str, deque[list[float]]] = {}  # operation -> [seconds, times left], in order
        self._customers: dict[str, dict[str, Any]] = {}
        self._team_members: dict[str, dict[str, Any]] = {}

    # --- set-up and inspection ---

    def add_access_token(self, token: str, scopes: Iterable[str] | None = None,
                         expires_in: float | None = None) -> None:
        """A token the API accepts: with ``scopes`` (default: both reads' scopes), for ``expires_in`` seconds of
        the sandbox clock (default: until revoked, like a personal access token)."""
        if not isinstance(token, str) or not token or any(c.isspace() for c in token):
            raise ValueError('the access token must be a non-empty string without spaces')
        if scopes is None:
            scopes = tuple(SCOPES.values())
        if isinstance(scopes, str) or not all(isinstance(s, str) for s in scopes):
            raise ValueError('scopes must be a list of strings')
        if expires_in is not None and (isinstance(expires_in, bool) or not isinstance(expires_in, (int, float))
                                       or expires_in <= 0):
            raise ValueError('expires_in must be a positive number of seconds')
        with self._lock:
            self._revoked.discard(token)
            self._access_tokens[token] = {
                'scopes': sorted(set(scopes)),
                'expires_at': math.inf if expires_in is None else self._clock() + expires_in}

    def token_scopes(self, token: str) -> list[str]:
        with self._lock:
            return list(self._access_tokens[token]['scopes'])

    def revoke_access_token(self, token: str) -> None:
        """The seller revokes the app's access: the API answers ACCESS_TOKEN_REVOKED for this token from now on."""
        with self._lock:
            if token not in self._access_tokens:
                raise ValueError(f'no access token {token!r}')
            del self._access_tokens[token]
            self._revoked.add(token)

    @property
    def access_tokens(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {token: {'scopes': list(record['scopes']),
                            'expires_at': None if record['expires_at'] == math.inf else record['expires_at']}
                    for token, record in self._access_tokens.items()}

    def put_customer(self, customer_id: str, customer: dict[str, Any]) -> dict[str, Any]:
        """Seed (or replace) a customer: the object as Square's API answers it inside ``{"customer": ...}``."""
        customer = self._seeded(customer_id, customer, 'customer')
        _strings(customer, ('given_name', 'family_name', 'nickname', 'company_name', 'email_address', 'phone_number',
                            'created_at', 'updated_at', 'reference_id', 'note'), 'customer')
        with self._lock:
            self._customers[customer_id] = customer
            return copy.deepcopy(customer)

    def put_team_member(self, team_member_id: str, team_member: dict[str, Any]) -> dict[str, Any]:
        """Seed (or replace) a team member: the object as Square answers it inside ``{"team_member": ...}``."""
        team_member = self._seeded(team_member_id, team_member, 'team member')
        _strings(team_member, ('given_name', 'family_name', 'email_address', 'phone_number', 'created_at',
                               'updated_at', 'reference_id'), 'team member')
        if 'status' in team_member and team_member['status'] not in TEAM_MEMBER_STATUSES:
            raise ValueError(f'team member status must be one of {", ".join(TEAM_MEMBER_STATUSES)}')
        if 'is_owner' in team_member and not isinstance(team_member['is_owner'], bool):
            raise ValueError('team member is_owner must be a boolean')
        with self._lock:
            self._team_members[team_member_id] = team_member
            return copy.deepcopy(team_member)

    def remove_customer(self, customer_id: str) -> None:
        """The seller deletes the customer: the API answers 404 for it from now on."""
        with self._lock:
            if self._customers.pop(customer_id, None) is None:
                raise ValueError(f'no customer {customer_id!r}')

    def remove_team_member(self, team_member_id: str) -> None:
        with self._lock:
            if self._team_members.pop(team_member_id, None) is None:
                raise ValueError(f'no team member {team_member_id!r}')

    @property
    def customers(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._customers)

    @property
    def team_members(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._team_members)

    @staticmethod
    def _seeded(object_id: str, obj: Any, kind: str) -> dict[str, Any]:
        if not isinstance(object_id, str) or not object_id:
            raise ValueError(f'the {kind} id must be a non-empty string')
        if not isinstance(obj, dict):
            raise ValueError(f'the {kind} must be a JSON object')
        if 'id' in obj and obj['id'] != object_id:
            raise ValueError(f'the {kind} id {obj["id"]!r} is not the id in the path {object_id!r}')
        return {**copy.deepcopy(obj), 'id': object_id}

    # --- slow answers ---

    def delay(self, operation: str, seconds: float, times: int = 1) -> None:
        """The next ``times`` requests of ``operation`` wait ``seconds`` of real time before they are answered
        (a client's own timeout then fires: the lookup that times out and is retried). Faults still apply."""
        if operation not in self.OPERATIONS:
            raise ValueError(f'unknown operation {operation!r}; one of {self.OPERATIONS}')
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= 60:
            raise ValueError('seconds must be a number above 0 and at most 60')
        if isinstance(times, bool) or not isinstance(times, int) or times < 1:
            raise ValueError('times must be a positive integer')
        with self._lock:
            self._delays.setdefault(operation, deque()).append([float(seconds), times])

    def pending_delays(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{'operation': op, 'seconds': seconds, 'times': times}
                    for op, queue in self._delays.items() for seconds, times in queue]

    def clear_faults(self) -> None:
        """Pending faults and delays both go."""
        super().clear_faults()
        with self._lock:
            self._delays.clear()

    def _take_delay(self, operation: str) -> float:
        with self._lock:
            queue = self._delays.get(operation)
            if not queue:
                return 0.0
            seconds = queue[0][0]
            queue[0][1] -= 1
            if queue[0][1] <= 0:
                queue.popleft()
            return seconds

    # --- dispatch ---

    def handle(self, request: Request) -> Response:
        if request.segments[:1] == ['_sandbox']:  # control: neither logged nor subject to faults
            return control.handle(self, request)
        route, _, _ = self._route(request.segments, request.method)
        if route is not None:
            time.sleep(self._take_delay(route[2]))  # outside the lock: other requests are answered meanwhile
        return super().handle(request)

    def _run(self, route: tuple, request: Request, params: list[str]) -> Response:
        version = self._authenticate(request, route[2])
        response = getattr(self, route[3])(request, *params)
        response.headers['Square-Version'] = version  # Square names the version that answered
        return response

    def _authenticate(self, request: Request, operation: str) -> str:
        """The Square-Version the request is answered with, once its token may make ``operation``."""
        header = request.headers.get('Authorization')
        if header is None:
            raise Reject(square_error(401, 'AUTHENTICATION_ERROR', 'UNAUTHORIZED', NO_HEADER))
        scheme, _, token = header.partition(' ')
        if scheme != 'Bearer' or not token or any(c.isspace() for c in token):
            raise Reject(square_error(401, 'AUTHENTICATION_ERROR', 'UNAUTHORIZED', MALFORMED_HEADER))
        record = next((r for t, r in self._access_tokens.items() if hmac.compare_digest(t.encode(), token.encode())),
                      None)
        if record is None:
            if token in self._revoked:
                raise Reject(square_error(401, 'AUTHENTICATION_ERROR', 'ACCESS_TOKEN_REVOKED',
                                          'The access token has been revoked.'))
            raise Reject(square_error(401, 'AUTHENTICATION_ERROR', 'UNAUTHORIZED',
                                      'This request could not be authorized.'))
        if self._clock() >= record['expires_at']:
            raise Reject(square_error(401, 'AUTHENTICATION_ERROR', 'ACCESS_TOKEN_EXPIRED',
                                      'The access token has expired.'))
        if SCOPES[operation] not in record['scopes']:
            raise Reject(square_error(403, 'AUTHENTICATION_ERROR', 'INSUFFICIENT_SCOPES',
                                      'The merchant has not given your application sufficient permissions to do this. '
                                      f'This request requires the {SCOPES[operation]} permission.'))
        version = request.headers.get('Square-Version')
        if version is None:
            return self.default_version
        problem = self._version_problem(version)
        if problem:
            raise Reject(square_error(400, 'INVALID_REQUEST_ERROR', 'INVALID_SQUARE_VERSION_FORMAT', problem,
                                      field='Square-Version'))
        return version

    def _version_problem(self, version: str) -> str | None:
        if not VERSION_RE.fullmatch(version):
            return f'Invalid Square-Version `{version}`: expected a release date in the format YYYY-MM-DD.'
        try:
            date.fromisoformat(version)
        except ValueError:
            return f'Invalid Square-Version `{version}`: not a date.'
        if version > self.latest_version:
            return f'Square-Version `{version}` does not exist; the latest is {self.latest_version}.'
        return None

    def _retrieve_customer(self, request: Request, customer_id: str) -> Response:
        customer = self._customers.get(customer_id)
        if customer is None:
            return square_error(404, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', f'Customer with ID `{customer_id}` not found.')
        return json_response(200, {'customer': customer}, content_type=JSON_TYPE)

    def _retrieve_team_member(self, request: Request, team_member_id: str) -> Response:
        team_member = self._team_members.get(team_member_id)
        if team_member is None:
            return square_error(404, 'INVALID_REQUEST_ERROR', 'NOT_FOUND',
                                f'Team member with ID `{team_member_id}` not found.')
        return json_response(200, {'team_member': team_member}, content_type=JSON_TYPE)

    # --- Square's wording ---

    def _unrouted(self, request: Request, path_known: bool) -> Response:
        if path_known:
            return square_error(405, 'INVALID_REQUEST_ERROR', 'METHOD_NOT_ALLOWED',
                                f'Method {request.method} is not allowed for {request.path}.')
        return square_error(404, 'INVALID_REQUEST_ERROR', 'NOT_FOUND', f'Resource not found: {request.path}.')

    def _plain_error(self, status: int, message: str) -> Response:
        return _error_for_status(status, message)

    def _injected_error(self, status: int, operation: str, request: Request) -> Response:
        return _error_for_status(status, 'Injected fault (sandbox).')

    def _json_type(self, operation: str) -> str:
        return JSON_TYPE

    def _index(self) -> Response:
        with self._lock:
            customers = ''.join(f'<li><code>{escape(i)}</code> {escape(str(c.get("given_name", "")))} '
                                f'{escape(str(c.get("family_name", "")))}</li>' for i, c in self._customers.items())
            members = ''.join(f'<li><code>{escape(i)}</code> {escape(str(m.get("given_name", "")))} '
                              f'{escape(str(m.get("family_name", "")))}</li>' for i, m in self._team_members.items())
            tokens = len(self._access_tokens)
        body = (f'<h1>Square sandbox</h1><p>API <code>{escape(self.url)}/v2</code>, default Square-Version '
                f'<code>{escape(self.default_version)}</code>; {tokens} access token(s).</p>'
                f'<h2>Customers</h2><ul>{customers or "<li>(none)</li>"}</ul>'
                f'<h2>Team members</h2><ul>{members or "<li>(none)</li>"}</ul>'
                + control_section('PUT /_sandbox/access-tokens/{token} {scopes?, expires_in?}; DELETE revokes',
                                  'PUT /_sandbox/customers/{id} <the customer object>; DELETE removes',
                                  'PUT /_sandbox/team-members/{id} <the team member object>; DELETE removes',
                                  'POST /_sandbox/delays {operation, seconds, times?}; GET lists'))
        return html_response(200, '<!doctype html><html lang="en"><head><meta charset="utf-8">'
                                  f'<title>Square sandbox</title></head><body>{body}</body></html>')
