"""Shared pieces of the Microsoft sandbox tests, and the published vectors they rest on.

Other ``test_microsoft_*`` modules import the fixtures (``ms``) and helpers from here: MSAL's
``http_client`` adapter that sends the https authority host to the sandbox, an MSAL app per test (MSAL
caches failing token requests and discovery per app instance: pitfall 28), and the auth-code dance.
"""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx2
import msal
import pytest

from infra.sandboxes.microsoft import MicrosoftSandbox, client_info, nonce_hash, s256_challenge

REDIRECT_URI = 'https://app.example/oauth/microsoft/callback'  # nothing listens; only the redirect is read
SCOPES = ['OnlineMeetings.ReadWrite', 'User.Read']
OWNER = '00000000-0000-0000-0000-000000000001'
DANA = '00000000-0000-0000-0000-000000000002'
UNLICENSED = '00000000-0000-0000-0000-000000000003'
PERSONAL = '00000000-0000-0000-0000-000000000009'
ORG_TENANT = '11111111-1111-1111-1111-111111111111'
MSA_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad'
CHALLENGE_PAIR = ('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk', 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM')  # TV-8


class SandboxHttpClient:
    """MSAL's ``http_client``: https://<authority host>/… goes to the sandbox, anything else passes through."""

    def __init__(self, sandbox: MicrosoftSandbox, client: httpx2.Client | None = None):
        self.sandbox = sandbox
        self.client = client or httpx2.Client(trust_env=False, timeout=5.0)
        self.requests: list[tuple[str, str]] = []

    def route(self, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme == 'https' and parts.netloc.lower() == self.sandbox.authority_host:
            local = urlsplit(self.sandbox.url)
            return urlunsplit((local.scheme, local.netloc, parts.path, parts.query, parts.fragment))
        return url

    def get(self, url, params=None, headers=None, **kwargs):
        self.requests.append(('GET', url))
        return self.client.get(self.route(url), params=params, headers=headers, timeout=kwargs.get('timeout', 5.0))

    def post(self, url, params=None, data=None, headers=None, **kwargs):
        self.requests.append(('POST', url))
        body = {'data': data} if isinstance(data, dict) else {'content': data}
        return self.client.post(self.route(url), params=params, headers=headers,
                                timeout=kwargs.get('timeout', 5.0), **body)

    def close(self) -> None:
        self.client.close()


def msal_app(sandbox: MicrosoftSandbox, *, secret: str | None = None, authority: str | None = None,
             cache: msal.SerializableTokenCache | None = None) -> msal.ConfidentialClientApplication:
    """A fresh MSAL app on the sandbox (new per use: MSAL's HTTP cache is per app instance)."""
    return msal.ConfidentialClientApplication(
        sandbox.client_id, client_credential=sandbox.client_secret if secret is None else secret,
        authority=authority or sandbox.authority, instance_discovery=False, http_client=SandboxHttpClient(sandbox),
        token_cache=cache if cache is not None else msal.SerializableTokenCache())


def start_flow(app: msal.ConfidentialClientApplication, scopes: list[str] | None = None,
               **kwargs: Any) -> dict[str, Any]:
    kwargs.setdefault('response_mode', 'form_post')
    return app.initiate_auth_code_flow(scopes or SCOPES, redirect_uri=REDIRECT_URI, **kwargs)


def connect(sandbox: MicrosoftSandbox, user_id: str = OWNER, app: msal.ConfidentialClientApplication | None = None
            ) -> tuple[msal.ConfidentialClientApplication, dict[str, Any]]:
    """(the MSAL app, its token result) after ``user_id`` consented: what a connected app holds."""
    app = app or msal_app(sandbox)
    flow = start_flow(app)
    result = app.acquire_token_by_auth_code_flow(flow, sandbox.authorize(user_id, flow['auth_uri']))
    assert 'access_token' in result, result
    return app, result


def auth_query(auth_uri: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(auth_uri).query).items()}


def bearer(token: str | dict) -> dict[str, str]:
    return {'Authorization': 'Bearer ' + (token['access_token'] if isinstance(token, dict) else token)}


def graph(http: httpx2.Client, sandbox: MicrosoftSandbox, token, method: str, path: str, **kwargs: Any):
    headers = {**bearer(token), **kwargs.pop('headers', {})}
    return http.request(method, sandbox.graph_base + path, headers=headers, **kwargs)


def meeting_body(**overrides: Any) -> dict[str, Any]:
    return {'subject': 'Consultation', 'startDateTime': '2030-03-04T09:30:00+01:00',
            'endDateTime': '2030-03-04T10:00:00+01:00', **overrides}


@pytest.fixture(scope='module')
def ms():
    sandbox = MicrosoftSandbox(redirect_uris=(REDIRECT_URI,)).start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


# --- the vectors (provider-apis.md TV-8, TV-9, TV-10) and the adapter itself ---


def test_tv9_msal_sends_the_sha256_hex_of_its_nonce():
    assert nonce_hash('abcdefghijklmnop') == 'f39dac6cbaba535e2c207cd0cd8f154974223c848f727f98b3564cea569b41cf'
    assert nonce_hash('abcdefghijklmnop') == hashlib.sha256(b'abcdefghijklmnop').hexdigest()


def test_tv10_client_info_is_unpadded_base64url_of_uid_and_utid():
    assert client_info(OWNER, ORG_TENANT) == (
        'eyJ1aWQiOiIwMDAwMDAwMC0wMDAwLTAwMDAtMDAwMC0wMDAwMDAwMDAwMDEiLCJ1dGlkIjoiMTExMTExMTEtMTExMS0xMTExLTExMTEt'
        'MTExMTExMTExMTExIn0')


def test_tv8_pkce_s256():
    verifier, challenge = CHALLENGE_PAIR
    assert s256_challenge(verifier) == challenge


def test_the_adapter_maps_only_the_https_authority_host(ms):
    adapter = SandboxHttpClient(ms)
    try:
        assert adapter.route('https://login.microsoft.sandbox/organizations/v2.0/.well-known/openid-configuration?x=1') \
            == ms.url + '/organizations/v2.0/.well-known/openid-configuration?x=1'
        for other in ('http://login.microsoft.sandbox/organizations', 'https://login.microsoftonline.com/common',
                      'https://graph.microsoft.com/v1.0/me'):
            assert adapter.route(other) == other
        assert ms.local_url('https://login.microsoft.sandbox/a/b') == ms.url + '/a/b'
        answer = adapter.get('https://login.microsoft.sandbox/organizations/v2.0/.well-known/openid-configuration')
        assert answer.status_code == 200 and answer.json()['token_endpoint'].startswith('https://login.microsoft.sandbox/')
    finally:
        adapter.close()
