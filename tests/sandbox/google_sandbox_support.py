"""Shared pieces of the Google sandbox tests: the module-scoped sandbox, the authorize URL the app
sends, the code exchange done by hand, and Calendar calls with a bearer token."""

from __future__ import annotations

import base64
import hashlib
from typing import Any
from urllib.parse import urlencode

import httpx2
import pytest

from infra.sandboxes.google import CALENDAR_OWNED_SCOPE, EMAIL_SCOPE, GoogleSandbox

REDIRECT_URI = 'http://127.0.0.1:3000/oauth/google/callback'  # nothing listens; only the redirect is read
SCOPE = f'openid email {CALENDAR_OWNED_SCOPE}'
GRANTED = f'openid {EMAIL_SCOPE} {CALENDAR_OWNED_SCOPE}'  # the token answer's `scope` (Google's long names)
OWNER, DANA, NOMEET = '105000000000000000001', '105000000000000000002', '105000000000000000003'
VERIFIER = 'dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk'  # RFC 7636 appendix B
CHALLENGE = 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM'


@pytest.fixture(scope='module')
def google():
    sandbox = GoogleSandbox(redirect_uris=(REDIRECT_URI,)).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(autouse=True)
def clean(google):
    google.clear_faults()
    google.reset_calls()
    google.set_conference_pending(0)


def auth_uri(google: GoogleSandbox, **overrides: str | None) -> str:
    """The authorize URL as the provider module sends it (``None`` leaves a parameter out)."""
    params = {'response_type': 'code', 'client_id': google.client_id, 'redirect_uri': REDIRECT_URI, 'scope': SCOPE,
              'state': 'state-1', 'access_type': 'offline', 'code_challenge': CHALLENGE,
              'code_challenge_method': 'S256', **overrides}
    return google.authorize_url + '?' + urlencode({k: v for k, v in params.items() if v is not None})


def exchange(http: httpx2.Client, google: GoogleSandbox, code: str, **overrides: str | None) -> httpx2.Response:
    form = {'grant_type': 'authorization_code', 'code': code, 'redirect_uri': REDIRECT_URI, 'code_verifier': VERIFIER,
            'client_id': google.client_id, 'client_secret': google.client_secret, **overrides}
    return http.post(google.token_url, data={k: v for k, v in form.items() if v is not None})


def refresh(http: httpx2.Client, google: GoogleSandbox, refresh_token: str) -> httpx2.Response:
    return http.post(google.token_url, data={'grant_type': 'refresh_token', 'refresh_token': refresh_token,
                                             'client_id': google.client_id, 'client_secret': google.client_secret})


def connect(http: httpx2.Client, google: GoogleSandbox, user_id: str = OWNER, **authorize: Any) -> dict[str, Any]:
    """The token answer after ``user_id`` consented with ``prompt=consent`` (so a refresh token always comes)."""
    answer = google.authorize(user_id, auth_uri(google, prompt='consent'), **authorize)
    response = exchange(http, google, answer['code'])
    assert response.status_code == 200, response.text
    return response.json()


def bearer(token: str | dict) -> dict[str, str]:
    return {'Authorization': 'Bearer ' + (token['access_token'] if isinstance(token, dict) else token)}


def calendar(http: httpx2.Client, google: GoogleSandbox, token, method: str, path: str, **kwargs: Any
             ) -> httpx2.Response:
    headers = {**bearer(token), **kwargs.pop('headers', {})}
    return http.request(method, google.calendar_base + path, headers=headers, **kwargs)


def event_id(reference: str) -> str:
    """The provider's event id: base32hex (lowercase, no padding) of the SHA-256 of the reference."""
    return base64.b32hexencode(hashlib.sha256(reference.encode()).digest()).decode().rstrip('=').lower()


def event_body(reference: str = 'booking-1', **overrides: Any) -> dict[str, Any]:
    """An insert body as the provider module sends it."""
    return {'id': event_id(reference), 'summary': 'Consultation',
            'start': {'dateTime': '2030-03-04T09:30:00Z', 'timeZone': 'Europe/Berlin'},
            'end': {'dateTime': '2030-03-04T10:00:00Z', 'timeZone': 'Europe/Berlin'},
            'conferenceData': {'createRequest': {'requestId': reference,
                                                 'conferenceSolutionKey': {'type': 'hangoutsMeet'}}},
            **overrides}


INSERT = '/calendars/primary/events?conferenceDataVersion=1&sendUpdates=none'


def insert(http: httpx2.Client, google: GoogleSandbox, token, reference: str = 'booking-1', query: str = INSERT,
           **overrides: Any) -> httpx2.Response:
    return calendar(http, google, token, 'POST', query, json=event_body(reference, **overrides))


def error_of(response: httpx2.Response) -> tuple[int, str, str]:
    """(code, reason, message) of a Calendar error body, checking its shape on the way."""
    error = response.json()['error']
    [item] = error['errors']
    assert error['code'] == response.status_code and set(item) >= {'domain', 'reason', 'message'}
    return error['code'], item['reason'], item['message']

