"""A local Acuity Scheduling: the one REST call meetbridge makes, ``GET /api/v1/appointments/{id}`` with
HTTP Basic auth (numeric user id : API key), answering and refusing as Acuity does (docs:
booking-webhooks.md section 4 and Acuity's "API Errors" page).

What an appointment holds is whatever a test seeded: the sandbox answers the seeded object verbatim
after checking, at seeding, that it has the shape Acuity answers with (integer ids, ``datetime`` with a
``-0700`` style offset, ``duration`` as a string...). The lifecycle, clock, faults and calls log are
the shared ``infra.sandboxes.sandbox.Sandbox``'s; ``stall()`` adds slow answers, so that a client's
timeout can be tested. ``send_webhook()`` posts Acuity's signed webhook about a seeded appointment.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hmac
import time
from collections import deque
from html import escape
from http import HTTPStatus
from typing import Any

from ..sandbox import Reject, Sandbox
from ..web import Request, Response, html_response, json_response, post
from .control import CONTROL_ROUTES
from .validation import check_appointment, is_int, is_numeric_id
from .webhooks import form_body, sign

OPERATIONS = ('get_appointment',)
ACUITY_JSON = 'application/json; charset=utf-8'
ROUTE_HINT = 'Not Found. Did you mean `/appointments/{id:number}`?'
RATE_LIMITED = 'Rate limit reached. Limit 10req/s and 20 concurrent connections.'
MAX_STALL = 30.0  # seconds: longer than any client timeout worth testing, short enough to end a test run


def acuity_error(status: int, error: str, message: str) -> Response:
    """Acuity's error body: ``{"status_code", "message", "error"}``."""
    return json_response(status, {'status_code': status, 'message': message, 'error': error},
                         content_type=ACUITY_JSON)


def _reason(status: int) -> tuple[str, str]:
    """(``error``, ``message``) for a status Acuity answers with its reason phrase, e.g. 500."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = 'Error'
    return phrase.lower().replace(' ', '_').replace('-', '_'), phrase


class AcuitySandbox(Sandbox):
    """Acuity's appointment lookup on a loopback port. ``start()``, seed, use ``api_base``, ``stop()``."""

    NAME = 'Acuity'
    OPERATIONS = OPERATIONS
    CONTROL_ROUTES = CONTROL_ROUTES
    HEAD_AS_GET = True
    ROUTES = (
        ('GET', ('api', 'v1', 'appointments', '*'), 'get_appointment', '_get_appointment'),
    )

    def __init__(self, host: str = '127.0.0.1', port: int = 0, *, rate_limit: int | None = None,
                 webhook_timeout: float = 5.0):
        super().__init__('', '', (), host, port)  # Basic auth with a user id and API key: no OAuth client
        self.rate_limit = rate_limit  # API requests per second (Acuity: 10 per IP); None: unlimited
        self.webhook_timeout = webhook_timeout
        self._api_keys: dict[str, str] = {}
        self._appointments: dict[int, dict[str, Any]] = {}  # id -> {'user_id': owner or None, 'data': answer}
        self._recent: deque[float] = deque()  # sandbox-clock times of the API requests of the last second
        self._stalls: deque[list[float]] = deque()  # [seconds, requests left]

    # --- addresses, set-up and inspection ---

    @property
    def api_base(self) -> str:
        return self.url + '/api/v1'

    def set_user(self, user_id: str | int, api_key: str) -> None:
        """Add a user, or give one a new API key (the old key stops working, as after a reset in Acuity)."""
        user_id = str(user_id)
        if not is_numeric_id(user_id):
            raise ValueError('user_id must be numeric, as Acuity user ids are')
        if not isinstance(api_key, str) or not api_key or not api_key.isascii() or not api_key.isprintable():
            raise ValueError('api_key must be a non-empty string of printable ASCII')
        with self._lock:
            self._api_keys[user_id] = api_key

    @property
    def users(self) -> list[str]:
        with self._lock:
            return sorted(self._api_keys, key=int)

    def set_appointment(self, appointment: dict[str, Any], user_id: str | int | None = None) -> None:
        """Seed (or replace) what ``GET /appointments/{appointment["id"]}`` answers; with ``user_id``, only
        that user's key reads it (any other user gets 404, as for an unknown id)."""
        check_appointment(appointment)
        owner = None if user_id is None else str(user_id)
        if owner is not None and not is_numeric_id(owner):
            raise ValueError('user_id must be numeric, as Acuity user ids are')
        with self._lock:
            self._appointments[appointment['id']] = {'user_id': owner, 'data': copy.deepcopy(appointment)}

    def remove_appointment(self, appointment_id: int) -> None:
        """The appointment is deleted in Acuity: its id answers 404 from now on."""
        with self._lock:
            if self._appointments.pop(appointment_id, None) is None:
                raise KeyError(f'no appointment {appointment_id}')

    @property
    def appointments(self) -> dict[int, dict[str, Any]]:
        """Each seeded appointment: ``{'user_id': owner or None, 'data': the answer}`` (copies)."""
        with self._lock:
            return copy.deepcopy(self._appointments)

    def stall(self, seconds: float, times: int = 1) -> None:
        """The next ``times`` API requests are answered only after ``seconds`` (real time): a client with a
        shorter timeout sees a timeout, while the request still takes effect and is logged."""
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 < seconds <= MAX_STALL:
            raise ValueError(f'seconds must be a number above 0 and at most {MAX_STALL:g}')
        if not is_int(times) or times < 1:
            raise ValueError('times must be a positive integer')
        with self._lock:
            self._stalls.append([float(seconds), times])

    def pending_stalls(self) -> list[dict[str, float | int]]:
        with self._lock:
            return [{'seconds': seconds, 'times': times} for seconds, times in self._stalls]

    def clear_faults(self) -> None:
        super().clear_faults()
        with self._lock:
            self._stalls.clear()

    # --- webhooks ---

    def send_webhook(self, target_url: str, action: str, appointment_id: int, user_id: str | int,
                     raw_body: bytes | None = None) -> tuple[int, dict[str, str], bytes]:
        """POST what Acuity posts about a seeded appointment (or ``raw_body`` verbatim), signed with
        ``user_id``'s API key: (status, lower-cased headers, body). A refused connection raises ``OSError``."""
        with self._lock:
            api_key = self._api_keys.get(str(user_id))
            record = self._appointments.get(appointment_id)
        if api_key is None:
            raise ValueError(f'no user {user_id}')
        if record is None:
            raise ValueError(f'no appointment {appointment_id}')
        body = form_body(action, record['data']) if raw_body is None else raw_body
        headers = {'Content-Type': 'application/x-www-form-urlencoded', 'X-Acuity-Signature': sign(api_key, body)}
        return post(target_url, body, headers, self.webhook_timeout)

    # --- dispatch ---

    def handle(self, request: Request) -> Response:
        if request.segments[:2] == ['api', 'v1']:  # the API only: never control, nor the index page
            self._wait_if_stalled()
        return super().handle(request)

    def _wait_if_stalled(self) -> None:
        with self._lock:
            if not self._stalls:
                return
            stall = self._stalls[0]
            stall[1] -= 1
            if stall[1] <= 0:
                self._stalls.popleft()
        time.sleep(stall[0])  # outside the lock: other requests go on meanwhile

    def _run(self, route: tuple, request: Request, params: list[str]) -> Response:
        self._check_rate()
        return getattr(self, route[3])(request, *params)

    def _unrouted(self, request: Request, path_known: bool) -> Response:
        if path_known:
            return acuity_error(405, 'method_not_allowed', 'Method Not Allowed')
        hint = request.segments[:3] == ['api', 'v1', 'appointments']
        return acuity_error(404, 'not_found', ROUTE_HINT if hint else 'Not Found')

    def _plain_error(self, status: int, message: str) -> Response:
        return acuity_error(status, _reason(status)[0], message)

    def _injected_error(self, status: int, operation: str, request: Request) -> Response:
        if status == 429:
            return acuity_error(429, 'too_many_requests', RATE_LIMITED)
        return acuity_error(status, *_reason(status))

    def _json_type(self, operation: str) -> str:
        return ACUITY_JSON

    # --- the API ---

    def _check_rate(self) -> None:
        """Acuity's limit: at most ``rate_limit`` requests in any second (a sliding window on the sandbox clock)."""
        if self.rate_limit is None:
            return
        now = self._clock()
        while self._recent and self._recent[0] <= now - 1:
            self._recent.popleft()
        if len(self._recent) >= self.rate_limit:
            raise Reject(acuity_error(429, 'too_many_requests', RATE_LIMITED))
        self._recent.append(now)

    def _authenticate(self, request: Request) -> str:
        """The user id of valid Basic credentials (numeric user id, API key); 401 for anything else."""
        scheme, _, encoded = request.header('Authorization').strip().partition(' ')
        user_id = api_key = ''
        if scheme.lower() == 'basic':
            try:
                user_id, _, api_key = base64.b64decode(encoded.strip(), validate=True).decode('utf-8').partition(':')
            except (binascii.Error, ValueError):
                pass
        known = self._api_keys.get(user_id)
        if known is None or not api_key or not hmac.compare_digest(api_key.encode(), known.encode()):
            raise Reject(acuity_error(401, 'unauthorized', 'Unauthorized'))
        return user_id

    def _get_appointment(self, request: Request, reference: str) -> Response:
        if not is_numeric_id(reference):  # Acuity's route takes a number only: anything else is another path
            return acuity_error(404, 'not_found', ROUTE_HINT)
        user_id = self._authenticate(request)
        record = self._appointments.get(int(reference))
        if record is None or record['user_id'] not in (None, user_id):
            return acuity_error(404, 'not_found', 'Not Found')
        return json_response(200, record['data'], content_type=ACUITY_JSON)

    def _index(self) -> Response:
        with self._lock:
            users = sorted(self._api_keys, key=int)
            rows = ''.join(
                f'<tr><td>{number}</td><td>{escape(str(record["user_id"] or "any"))}</td>'
                f'<td>{escape(str(record["data"].get("datetime")))}</td>'
                f'<td>{escape(str(record["data"].get("type")))}</td>'
                f'<td>{escape(str(record["data"].get("calendar")))}</td>'
                f'<td>{"canceled" if record["data"].get("canceled") else ""}</td></tr>'
                for number, record in sorted(self._appointments.items()))
            now = self.now().strftime('%Y-%m-%dT%H:%M:%SZ')
        controls = ''.join(f'<li>{escape(item)}</li>' for item in (
            'GET /_sandbox/state', 'PUT /_sandbox/users/{user_id} {api_key}',
            'PUT /_sandbox/appointments/{id}[?user_id=] <the appointment JSON>', 'DELETE /_sandbox/appointments/{id}',
            'GET /_sandbox/calls (DELETE clears)',
            'GET /_sandbox/faults; POST {operation, status, body?, headers?, times?, after?}; DELETE clears',
            'POST /_sandbox/stalls {seconds, times?}', 'POST /_sandbox/advance {seconds}',
            'POST /_sandbox/webhooks/send {target_url, action, id, user_id}'))
        return html_response(200, (
            '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Acuity sandbox</title></head><body>'
            f'<h1>Acuity Scheduling sandbox</h1><p>API base <code>{escape(self.url)}/api/v1</code>; clock {now}</p>'
            f'<h2>Users</h2><p>{escape(", ".join(users)) or "(none)"}</p>'
            '<h2>Appointments</h2><table><tr><th>id</th><th>user</th><th>datetime</th><th>type</th>'
            f'<th>calendar</th><th></th></tr>{rows}</table><h2>Control</h2><ul>{controls}</ul></body></html>'))
