"""A local Microsoft: Entra ID's v2.0 endpoints (discovery, authorize with consent, token) and the
Microsoft Graph online-meeting calls meetbridge makes, answering and refusing as they do, and
accepted by MSAL Python (docs: provider-apis.md section 2, TV-9..TV-11, pitfalls 18-29).

MSAL only takes an https authority. The sandbox therefore names itself ``https://login.microsoft.sandbox``
(``authority``), and whoever gives MSAL its ``http_client`` sends that host to ``url``. The server
routes by path alone, whatever the Host header. Discovery points the browser's authorize step at
``url`` itself, and the token endpoint at the https authority host, because MSAL checks that it is https.

The lifecycle, clock, faults and calls log are the shared ``infra.sandboxes.sandbox.Sandbox``'s. The
sandbox clock is real time plus whatever ``advance()`` added. Code, token and refresh-token expiry
follow it. MSAL's own cache keeps real time.
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import json
import secrets
import string
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Mapping
from urllib.parse import quote, unquote, urlencode, urlsplit, urlunsplit

from ..sandbox import Reject, Sandbox
from ..web import Request, Response, html_response, json_response, redirect, with_query
from ..web import first_values
from . import meetings as graph_meetings
from . import pages
from .control import ROUTES as CONTROL_ROUTES
from ..oauth import PKCE_RE, b64url, jwt_claims, s256_challenge
from .tokens import (ENTRA_JSON, NO_STORE, client_info, entra_error, entra_timestamp, is_guid, new_guid, opaque_token,
                     unsigned_jwt)

OPERATIONS = ('discovery', 'authorize', 'token', 'get_me', 'create_meeting', 'create_or_get_meeting',
              'update_meeting', 'delete_meeting', 'get_meeting')
PAGE_OPERATIONS = ('join_page',)  # the browser landing of joinWebUrl; logged, but not a fault target
ORG_TENANT = '11111111-1111-1111-1111-111111111111'
MSA_TENANT = '9188040d-6c67-4c5b-b112-36a304b66dad'  # Microsoft's consumer (personal account) tenant
TENANT_ALIASES = ('organizations', 'common', 'consumers')
GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000'
GRAPH_RESOURCE = 'https://graph.microsoft.com'
GRAPH_SCOPES = ('OnlineMeetings.ReadWrite', 'User.Read', 'Calendars.ReadWrite')  # delegated, user-consentable here
OIDC_SCOPES = ('openid', 'profile', 'email', 'offline_access')
MEETINGS_SCOPE = 'OnlineMeetings.ReadWrite'
PROFILE_SCOPE = 'User.Read'
REFRESH_TOKEN_TTL = 90 * 86400
ID_TOKEN_TTL = 3600
GRAPH_JSON = 'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8'
WWW_AUTHENTICATE = ('Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", '
                    f'client_id="{GRAPH_APP_ID}"')
AUTHORIZE_PARAMS = ('client_id', 'response_type', 'redirect_uri', 'scope', 'state', 'nonce', 'code_challenge',
                    'code_challenge_method', 'response_mode', 'prompt', 'login_hint', 'domain_hint', 'claims',
                    'client_info', 'max_age')
PROMPTS = ('login', 'none', 'consent', 'select_account', 'create')
RESPONSE_MODES = ('query', 'fragment', 'form_post')
GRAPH_CODES = {400: 'BadRequest', 401: 'InvalidAuthenticationToken', 403: 'Forbidden', 404: 'NotFound',
               405: 'MethodNotAllowed', 409: 'Conflict', 412: 'PreconditionFailed', 429: 'TooManyRequests',
               500: 'InternalServerError', 502: 'BadGateway', 503: 'ServiceNotAvailable', 504: 'GatewayTimeout'}
LICENCE_MESSAGE = ('The user does not have a valid license. Failed to get license information for the user. '
                   'Ensure user has a valid Office365 license assigned to them.')
SEED_USERS = (
    ('00000000-0000-0000-0000-000000000001', 'owner@contoso.example', 'Olive Owner', ORG_TENANT, True),
    ('00000000-0000-0000-0000-000000000002', 'dana@contoso.example', 'Dana Reyes', ORG_TENANT, True),
    ('00000000-0000-0000-0000-000000000003', 'nolicence@contoso.example', 'Noel Licence', ORG_TENANT, False),
    ('00000000-0000-0000-0000-000000000009', 'someone@outlook.example', 'Sam Someone', MSA_TENANT, True),
)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')


class _PageError(Exception):
    """An authorize problem Entra shows on its own page, without going back to the app."""

    def __init__(self, code: int, message: str):
        super().__init__(f'AADSTS{code}: {message}')
        self.code, self.message = code, message


class _RedirectError(Exception):
    """An authorize problem Entra sends back to the app's redirect URI as ``error``/``error_description``."""

    def __init__(self, error: str, code: int, message: str):
        super().__init__(f'{error}: AADSTS{code}: {message}')
        self.error, self.code, self.message = error, code, message


@dataclass
class _Authorization:
    """A checked authorize request: where to answer and what was asked."""
    tenant: str
    redirect_uri: str
    response_mode: str
    graph_scopes: list[str]
    oidc_scopes: list[str]
    state: str | None
    nonce: str | None
    challenge: str | None
    method: str | None
    login_hint: str | None
    params: dict[str, str]


# --- the sandbox ----------------------------------------------------------------------------------


class MicrosoftSandbox(Sandbox):
    """Entra ID + Graph online meetings on a loopback port. ``start()``, use ``authority``/``graph_base``, ``stop()``."""

    NAME = 'Microsoft'
    OPERATIONS = OPERATIONS
    CONTROL_ROUTES = CONTROL_ROUTES
    HEAD_AS_GET = True

    def __init__(self, client_id: str = 'sandbox-ms-client-id', client_secret: str = 'sandbox-ms-client-secret',
                 redirect_uris: tuple[str, ...] = (), host: str = '127.0.0.1', port: int = 0,
                 access_token_ttl: int = 3599, code_ttl: int = 600, *, refresh_token_ttl: float = REFRESH_TOKEN_TTL,
                 authority_host: str = 'login.microsoft.sandbox', app_name: str = 'meetbridge',
                 app_permissions: tuple[str, ...] = ('OnlineMeetings.ReadWrite', 'User.Read'), seed: bool = True):
        super().__init__(client_id, client_secret, redirect_uris, host, port)
        self.access_token_ttl = access_token_ttl
        self.code_ttl = code_ttl
        self.refresh_token_ttl = refresh_token_ttl
        self.authority_host = authority_host
        self.app_name = app_name
        self.app_permissions = tuple(app_permissions)  # what `.default` stands for (the app registration's list)
        # Entra refuses personal accounts on /organizations. Set True to let one through anyway, so the app's
        # own backstop (refusing tid 9188040d-…, pitfall 24) can be tested.
        self.allow_personal_accounts_on_organizations = False
        self._key = secrets.token_bytes(32)
        self._users: dict[str, dict[str, Any]] = {}
        self._codes: dict[str, dict[str, Any]] = {}
        self._refresh_tokens: dict[str, dict[str, Any]] = {}
        self._meetings: dict[str, dict[str, Any]] = {}
        self._refreshes: Counter = Counter()
        if seed:
            for user_id, email, name, tenant_id, licensed in SEED_USERS:
                self.add_user(user_id, email, name, tenant_id=tenant_id, licensed=licensed)

    # --- addresses ---

    @property
    def authority_origin(self) -> str:
        return f'https://{self.authority_host}'

    @property
    def authority(self) -> str:
        return f'{self.authority_origin}/organizations'

    @property
    def graph_base(self) -> str:
        return self.url + '/v1.0'

    def local_url(self, url: str) -> str:
        """``url`` with the https authority host replaced by ``url`` (what an app's http client does)."""
        parts = urlsplit(url)
        if parts.scheme != 'https' or parts.netloc.lower() != self.authority_host.lower():
            return url
        local = urlsplit(self.url)
        return urlunsplit((local.scheme, local.netloc, parts.path, parts.query, parts.fragment))

    # --- set-up and inspection ---

    def allow_redirect_uri(self, uri: str) -> None:
        if not isinstance(uri, str) or not uri:
            raise ValueError('uri must be a non-empty string')
        super().allow_redirect_uri(uri)

    def add_user(self, user_id: str, email: str, display_name: str = '', tenant_id: str = ORG_TENANT,
                 licensed: bool = True) -> dict[str, Any]:
        """A user (``user_id`` is the Entra object id, a GUID) in ``tenant_id``; MSA_TENANT makes a personal account."""
        if not is_guid(user_id):
            raise ValueError(f'user_id must be a GUID (the Entra object id), not {user_id!r}')
        if not is_guid(tenant_id):
            raise ValueError(f'tenant_id must be a GUID, not {tenant_id!r}')
        if not isinstance(email, str) or email.count('@') != 1 or not all(email.split('@')):
            raise ValueError(f'{email!r} is not an email address')
        if not isinstance(display_name, str) or not isinstance(licensed, bool):
            raise ValueError('display_name must be a string and licensed a bool')
        user_id, tenant_id = user_id.lower(), tenant_id.lower()
        with self._lock:
            if user_id in self._users or any(u['email'].lower() == email.lower() for u in self._users.values()):
                raise ValueError(f'user {user_id!r} or email {email!r} exists already')
            user = {'id': user_id, 'email': email, 'display_name': display_name, 'tenant_id': tenant_id,
                    'licensed': licensed, 'personal': tenant_id == MSA_TENANT, 'created': _iso(self.now()),
                    'generation': 0}
            self._users[user_id] = user
            return self._public_user(user)

    @staticmethod
    def _public_user(user: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in user.items() if k != 'generation'}

    @property
    def users(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {uid: self._public_user(u) for uid, u in self._users.items()}

    @property
    def meetings(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._meetings)

    def refresh_count(self, user_id: str | None = None) -> int:
        with self._lock:
            return sum(self._refreshes.values()) if user_id is None else self._refreshes[user_id.lower()]

    def remove_meeting(self, meeting_id: str) -> None:
        """The organizer deletes the meeting in Teams: Graph answers 404 for it from now on."""
        with self._lock:
            if self._meetings.pop(meeting_id, None) is None:
                raise ValueError(f'no meeting {meeting_id!r}')

    def revoke_refresh_tokens(self, user_id: str) -> None:
        """An admin's "revoke all refresh tokens" (revokeSignInSessions) for ``user_id``.

        Every refresh token issued to the user so far answers ``invalid_grant`` AADSTS50173; access
        tokens already issued keep working until they expire, as on Entra.
        """
        with self._lock:
            user = self._users.get(str(user_id).lower())
            if user is None:
                raise ValueError(f'unknown user {user_id!r}')
            user['generation'] += 1
            user['revoked_at'] = self._clock()

    # --- the consent step without a browser ---

    def authorize(self, user_id: str, auth_uri: str, accept: bool = True) -> dict[str, str]:
        """What the redirect back to the app carries after ``user_id`` answered the consent page of
        ``auth_uri`` (MSAL's ``flow['auth_uri']``): ``{code, state, client_info, session_state}`` on
        Accept, ``{error: access_denied, …}`` on Cancel (``accept=False``), ``{error: invalid_scope, …}``
        etc. where Entra redirects with an error. Raises ``ValueError`` where Entra shows its own error
        page instead (unknown client, unregistered redirect URI, a personal account on /organizations…).
        """
        parts = urlsplit(auth_uri)
        segments = [s for s in parts.path.split('/') if s]
        if len(segments) != 4 or segments[1:] != ['oauth2', 'v2.0', 'authorize']:
            raise ValueError(f'not an authorize URI of this sandbox: {auth_uri!r}')
        with self._lock:
            try:
                checked = self._check_authorize(segments[0], first_values(parts.query))
            except _PageError as exc:
                raise ValueError(str(exc)) from None
            if isinstance(checked, dict):
                return {k: v for k, v in checked.items() if not k.startswith('_')}
            if not accept:
                return self._declined(checked)
            user = self._users.get(str(user_id).lower())
            if user is None:
                raise ValueError(f'unknown user {user_id!r}')
            try:
                return self._consented(checked, user)
            except _PageError as exc:
                raise ValueError(str(exc)) from None

    # --- dispatch ---

    ROUTES = (
        ('GET', ('*', 'v2.0', '.well-known', 'openid-configuration'), 'discovery', '_discovery'),
        ('GET', ('*', 'discovery', 'v2.0', 'keys'), 'discovery', '_keys'),
        ('GET', ('*', 'oauth2', 'v2.0', 'authorize'), 'authorize', '_authorize_page'),
        ('POST', ('*', 'oauth2', 'v2.0', 'authorize'), 'authorize', '_authorize_page'),
        ('POST', ('*', 'oauth2', 'v2.0', 'authorize', 'decision'), 'authorize', '_authorize_decision'),
        ('POST', ('*', 'oauth2', 'v2.0', 'token'), 'token', '_token'),
        ('GET', ('*', 'oauth2', 'v2.0', 'token'), 'token', '_token_get'),
        ('GET', ('v1.0', 'me'), 'get_me', '_get_me'),
        ('POST', ('v1.0', 'me', 'onlineMeetings'), 'create_meeting', '_create_meeting'),
        ('POST', ('v1.0', 'me', 'onlineMeetings', 'createOrGet'), 'create_or_get_meeting', '_create_or_get_meeting'),
        ('GET', ('v1.0', 'me', 'onlineMeetings', '*'), 'get_meeting', '_get_meeting'),
        ('PATCH', ('v1.0', 'me', 'onlineMeetings', '*'), 'update_meeting', '_update_meeting'),
        ('DELETE', ('v1.0', 'me', 'onlineMeetings', '*'), 'delete_meeting', '_delete_meeting'),
        ('GET', ('v1.0', 'users', '*'), 'get_me', '_get_me'),
        ('POST', ('v1.0', 'users', '*', 'onlineMeetings'), 'create_meeting', '_create_meeting'),
        ('POST', ('v1.0', 'users', '*', 'onlineMeetings', 'createOrGet'), 'create_or_get_meeting',
         '_create_or_get_meeting'),
        ('GET', ('v1.0', 'users', '*', 'onlineMeetings', '*'), 'get_meeting', '_get_meeting'),
        ('PATCH', ('v1.0', 'users', '*', 'onlineMeetings', '*'), 'update_meeting', '_update_meeting'),
        ('DELETE', ('v1.0', 'users', '*', 'onlineMeetings', '*'), 'delete_meeting', '_delete_meeting'),
        ('GET', ('l', 'meetup-join', '*'), 'join_page', '_join_page'),
    )

    def _run(self, route: tuple, request: Request, params: list[str]) -> Response:
        handler = getattr(self, route[3])
        if route[1][0] != 'v1.0':
            return handler(request, *params)
        user, scopes = self._authenticate(request)
        if params and route[1][1] == 'users':
            self._check_user_reference(user, params.pop(0))
        return handler(request, user, scopes, *params)

    def _unrouted(self, request: Request, path_known: bool) -> Response:
        segments = request.segments
        if segments[:1] in (['v1.0'], ['beta']):
            if path_known:
                return self._graph_error(405, 'Request_BadRequest',
                                         'Specified HTTP method is not allowed for the request target.', request)
            unknown = next((s for s in segments[1:] if s not in ('me', 'users', 'onlineMeetings')), segments[-1])
            return self._graph_error(400, 'BadRequest', f"Resource not found for the segment '{unknown}'.", request)
        if path_known and segments[-1:] == ['authorize']:
            return self._error_page(900561, 'The endpoint only accepts GET, POST requests. '
                                            f'Received a {request.method} request.', request, status=405)
        return html_response(404, pages.notice('Not found', f'The Microsoft sandbox has no {request.method} '
                                                            f'{request.path}.'))

    def _plain_error(self, status: int, message: str) -> Response:
        return self._graph_error(status, None, message)

    def _injected_error(self, status: int, operation: str, request: Request) -> Response:
        if operation == 'authorize':
            return html_response(status, pages.sign_in_error(
                90033, 'A transient error has occurred. Please try again. (Injected fault, sandbox.)',
                request_id=new_guid(), correlation_id=new_guid(), timestamp=entra_timestamp(self.now())))
        if operation in ('token', 'discovery'):
            error = 'temporarily_unavailable' if status in (429, 503) else (
                'server_error' if status >= 500 else 'invalid_request')
            return entra_error(status, error, 90033, 'A transient error has occurred. Please try again. '
                               '(Injected fault, sandbox.)', now=self.now())
        return self._graph_error(status, GRAPH_CODES.get(status, 'UnknownError'), 'Injected fault (sandbox).',
                                 request)

    def _json_type(self, operation: str) -> str:
        return ENTRA_JSON if operation in ('token', 'discovery') else GRAPH_JSON

    # --- tenants, scopes, users ---

    def _tenant_ids(self) -> set[str]:
        return {u['tenant_id'] for u in self._users.values()} | {ORG_TENANT}

    def _resolve_tenant(self, segment: str) -> str | None:
        """``organizations``, ``common``, ``consumers`` or a tenant GUID for an authority path segment."""
        lowered = segment.lower()
        if lowered in TENANT_ALIASES:
            return lowered
        if lowered == MSA_TENANT:
            return 'consumers'
        if is_guid(lowered):
            return lowered if lowered in self._tenant_ids() else None
        for user in self._users.values():  # a verified domain of a work tenant (its users' email domain)
            if not user['personal'] and user['email'].rsplit('@', 1)[1].lower() == lowered:
                return user['tenant_id']
        return None

    def _parse_scopes(self, text: str) -> tuple[list[str], list[str]]:
        """(Graph scopes, OpenID scopes) of a ``scope`` parameter; raises ``_RedirectError`` for bad ones."""
        canonical = {s.lower(): s for s in GRAPH_SCOPES}
        graph, oidc, default = [], [], False
        for item in text.split():
            lowered = item.lower()
            if lowered in OIDC_SCOPES:
                if lowered not in oidc:
                    oidc.append(lowered)
                continue
            name = lowered
            for prefix in (GRAPH_RESOURCE + '/', GRAPH_APP_ID + '/'):
                if name.startswith(prefix):
                    name = name[len(prefix):]
            if name == '.default':
                default = True
            elif name in canonical and '/' not in name:
                if canonical[name] not in graph:
                    graph.append(canonical[name])
            else:
                raise _RedirectError('invalid_scope', 650053, f"The application '{self.app_name}' asked for scope "
                                     f"'{item}' that doesn't exist on the resource '{GRAPH_APP_ID}'. "
                                     'Contact the app vendor.')
        if default and graph:
            raise _RedirectError('invalid_scope', 70011, "The provided value for the input parameter 'scope' is not "
                                 "valid. The scope '.default' cannot be combined with resource-specific scopes.")
        if default:
            graph = list(self.app_permissions)
        if not graph and not oidc:
            raise _RedirectError('invalid_request', 900144, "The request body must contain the following "
                                 "parameter: 'scope'.")
        return graph, oidc

    def _sign_in_problem(self, tenant: str, user: dict[str, Any]) -> tuple[int, str] | None:
        if tenant == 'common':
            return None
        if tenant == 'organizations':
            if user['personal'] and not self.allow_personal_accounts_on_organizations:
                return 500200, (f"User account '{user['email']}' is a personal Microsoft account. Personal Microsoft "
                                'accounts are not supported for this application unless explicitly invited to an '
                                'organization. Try signing out and signing back in with an organizational account. '
                                "(You can't sign in here with a personal account. Use your work or school account "
                                'instead.)')
            return None
        if tenant == 'consumers':
            if not user['personal']:
                return 50020, ("You can't sign in here with a work or school account. Use your personal account "
                               'instead.')
            return None
        if user['tenant_id'] != tenant:
            return 50020, (f"User account '{user['email']}' from identity provider "
                           f"'https://sts.windows.net/{user['tenant_id']}/' does not exist in tenant '{tenant}' and "
                           f"cannot access the application '{self.client_id}'({self.app_name}) in that tenant. The "
                           'account needs to be added as an external user in the tenant first. Sign out and sign in '
                           'again with a different Azure Active Directory user account.')
        return None

    # --- identity: discovery ---

    def _discovery(self, request: Request, segment: str) -> Response:
        tenant = self._resolve_tenant(segment)
        if tenant is None:
            return self._invalid_tenant(segment, request)
        issuer_tenant = {'organizations': '{tenantid}', 'common': '{tenantid}', 'consumers': MSA_TENANT}.get(
            tenant, tenant)
        base = f'{self.authority_origin}/{segment}'
        document = {
            'token_endpoint': f'{base}/oauth2/v2.0/token',
            'token_endpoint_auth_methods_supported': ['client_secret_post', 'private_key_jwt', 'client_secret_basic'],
            'jwks_uri': f'{base}/discovery/v2.0/keys',
            'response_modes_supported': list(RESPONSE_MODES),
            'subject_types_supported': ['pairwise'],
            'id_token_signing_alg_values_supported': ['RS256'],
            'response_types_supported': ['code', 'id_token', 'code id_token', 'id_token token'],
            'scopes_supported': ['openid', 'profile', 'email', 'offline_access'],
            'issuer': f'https://login.microsoftonline.com/{issuer_tenant}/v2.0',
            'request_uri_parameter_supported': False,
            'userinfo_endpoint': f'{self.authority_origin}/oidc/userinfo',
            'authorization_endpoint': f'{self.url}/{segment}/oauth2/v2.0/authorize',
            'device_authorization_endpoint': f'{base}/oauth2/v2.0/devicecode',
            'http_logout_supported': True,
            'frontchannel_logout_supported': True,
            'end_session_endpoint': f'{base}/oauth2/v2.0/logout',
            'claims_supported': ['sub', 'iss', 'cloud_instance_name', 'cloud_instance_host_name', 'cloud_graph_host_name',
                                 'msgraph_host', 'aud', 'exp', 'iat', 'auth_time', 'acr', 'nonce', 'preferred_username',
                                 'name', 'tid', 'ver', 'at_hash', 'c_hash', 'email'],
            'code_challenge_methods_supported': ['plain', 'S256'],
            'kerberos_endpoint': f'{base}/kerberos',
            'tenant_region_scope': None,
            'cloud_instance_name': 'microsoftonline.com',
            'cloud_graph_host_name': 'graph.windows.net',
            'msgraph_host': 'graph.microsoft.com',
            'rbac_url': 'https://pas.windows.net',
        }
        return json_response(200, document, {'Cache-Control': 'max-age=86400, private',
                                             'Access-Control-Allow-Origin': '*'}, content_type=ENTRA_JSON)

    def _keys(self, request: Request, segment: str) -> Response:
        if self._resolve_tenant(segment) is None:
            return self._invalid_tenant(segment, request)
        # A stub: the sandbox's tokens carry no RS256 signature anyone could check.
        return json_response(200, {'keys': []}, {'Cache-Control': 'max-age=86400, private'}, content_type=ENTRA_JSON)

    def _invalid_tenant(self, segment: str, request: Request) -> Response:
        return self._entra_error(400, 'invalid_tenant', 90002, f"Tenant '{segment}' not found. Check to make sure you "
                                 'have the correct tenant ID and are signing into the correct cloud. Check with your '
                                 'subscription administrator, this may happen if there are no active subscriptions '
                                 'for the tenant.', request)

    def _entra_error(self, status: int, error: str, code: int, message: str, request: Request | None,
                     **extra: Any) -> Response:
        correlation = request.header('client-request-id') if request is not None else None
        return entra_error(status, error, code, message, now=self.now(), correlation_id=correlation, **extra)

    # --- identity: authorize ---

    def _error_page(self, code: int, message: str, request: Request | None = None, status: int = 400) -> Response:
        correlation = request.header('client-request-id') if request is not None else ''
        return html_response(status, pages.sign_in_error(
            code, message, request_id=new_guid(), correlation_id=correlation if is_guid(correlation) else new_guid(),
            timestamp=entra_timestamp(self.now())))

    def _check_authorize(self, segment: str, params: dict[str, str]) -> _Authorization | dict[str, str]:
        """The checks of /authorize, in Entra's order. An error Entra shows on its own page raises
        ``_PageError``; one it sends back to the app is returned as the redirect's parameters."""
        tenant = self._resolve_tenant(segment)
        if tenant is None:
            raise _PageError(90002, f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID "
                                    'and are signing into the correct cloud.')
        client_id = params.get('client_id', '')
        if not client_id:
            raise _PageError(900144, "The request body must contain the following parameter: 'client_id'.")
        if client_id != self.client_id:
            raise _PageError(700016, f"Application with identifier '{client_id}' was not found in the directory "
                                     f"'{segment}'. This can happen if the application has not been installed by the "
                                     'administrator of the tenant or consented to by any user in the tenant. You may '
                                     'have sent your authentication request to the wrong tenant.')
        redirect_uri = params.get('redirect_uri', '')
        if not redirect_uri:
            raise _PageError(900144, "The request body must contain the following parameter: 'redirect_uri'.")
        if redirect_uri not in self._redirect_uris:
            raise _PageError(50011, f"The redirect URI '{redirect_uri}' specified in the request does not match the "
                                    f"redirect URIs configured for the application '{self.client_id}'. Make sure the "
                                    'redirect URI sent in the request matches one added to your application in the '
                                    'Azure portal.')
        response_mode = params.get('response_mode') or 'query'
        if response_mode not in RESPONSE_MODES:
            raise _PageError(90100, 'response_mode parameter is empty or not valid.')
        state = params.get('state')

        def back(error: str, code: int, message: str) -> dict[str, str]:
            stamp = entra_timestamp(self.now())
            answer = {'error': error, 'error_description': f'AADSTS{code}: {message} Trace ID: {new_guid()} '
                                                           f'Correlation ID: {new_guid()} Timestamp: {stamp}',
                      'error_uri': f'https://login.microsoftonline.com/error?code={code}'}
            if state is not None:
                answer['state'] = state
            answer['_response_mode'] = response_mode
            answer['_redirect_uri'] = redirect_uri
            return answer

        response_type = params.get('response_type', '')
        if not response_type:
            return back('invalid_request', 900144, "The request body must contain the following parameter: "
                                                   "'response_type'.")
        if response_type != 'code':
            return back('unsupported_response_type', 700051, f"response_type '{response_type}' is not enabled for "
                                                             'the application.')
        try:
            graph, oidc = self._parse_scopes(params.get('scope', ''))
        except _RedirectError as exc:
            return back(exc.error, exc.code, exc.message)
        challenge, method = params.get('code_challenge'), params.get('code_challenge_method')
        if challenge is None and method is not None:
            return back('invalid_request', 90100, 'code_challenge parameter is empty or not valid.')
        if challenge is not None:
            if method not in (None, 'S256', 'plain'):
                return back('invalid_request', 90100, 'code_challenge_method parameter is empty or not valid.')
            if not PKCE_RE.fullmatch(challenge):
                return back('invalid_request', 501491, 'Invalid size of Code_Challenge parameter.')
        prompt = params.get('prompt')
        if prompt is not None and prompt not in PROMPTS:
            return back('invalid_request', 90100, 'prompt parameter is empty or not valid.')
        if prompt == 'none':
            return back('login_required', 50058, 'A silent sign-in request was sent but no user is signed in.')
        return _Authorization(tenant=tenant, redirect_uri=redirect_uri, response_mode=response_mode,
                              graph_scopes=graph, oidc_scopes=oidc, state=state, nonce=params.get('nonce'),
                              challenge=challenge, method=(method or 'plain') if challenge else None,
                              login_hint=params.get('login_hint'),
                              params={k: params[k] for k in AUTHORIZE_PARAMS if k in params})

    def _answer(self, redirect_uri: str, response_mode: str, fields: dict[str, str]) -> Response:
        fields = {k: v for k, v in fields.items() if not k.startswith('_')}
        if response_mode == 'form_post':
            return html_response(200, pages.form_post(redirect_uri, fields), {'Cache-Control': 'no-store'})
        if response_mode == 'fragment':
            parts = urlsplit(redirect_uri)
            return redirect(urlunsplit((parts.scheme, parts.netloc, parts.path, parts.query, urlencode(fields))))
        return redirect(with_query(redirect_uri, fields))

    def _declined(self, checked: _Authorization) -> dict[str, str]:
        answer = {'error': 'access_denied',
                  'error_description': 'AADSTS65004: User declined to consent to access the app. Trace ID: '
                                       f'{new_guid()} Correlation ID: {new_guid()} Timestamp: '
                                       f'{entra_timestamp(self.now())}',
                  'error_uri': 'https://login.microsoftonline.com/error?code=65004'}
        if checked.state is not None:
            answer['state'] = checked.state
        return answer

    def _consented(self, checked: _Authorization, user: dict[str, Any]) -> dict[str, str]:
        problem = self._sign_in_problem(checked.tenant, user)
        if problem:
            raise _PageError(*problem)
        code = opaque_token('1.A')
        session_state = new_guid()
        self._codes[code] = {'user_id': user['id'], 'tenant': checked.tenant, 'redirect_uri': checked.redirect_uri,
                             'graph_scopes': checked.graph_scopes, 'oidc_scopes': checked.oidc_scopes,
                             'nonce': checked.nonce, 'challenge': checked.challenge, 'method': checked.method,
                             'expires_at': self._clock() + self.code_ttl, 'used': False}
        answer = {'code': code}
        if checked.state is not None:
            answer['state'] = checked.state
        if checked.params.get('client_info') == '1':  # MSAL asks for it; Entra only sends it when asked
            answer['client_info'] = client_info(user['id'], user['tenant_id'])
        answer['session_state'] = session_state
        return answer

    def _checked_or_refused(self, request: Request, segment: str, params: dict[str, str]) -> _Authorization | Response:
        """The checked authorize request, or Entra's answer to a bad one: its error page or the redirect back."""
        try:
            checked = self._check_authorize(segment, params)
        except _PageError as exc:
            return self._error_page(exc.code, exc.message, request)
        if isinstance(checked, dict):
            return self._answer(checked['_redirect_uri'], checked['_response_mode'], checked)
        return checked

    def _authorize_page(self, request: Request, segment: str) -> Response:
        params = self._form(request) if request.method == 'POST' else request.query
        checked = self._checked_or_refused(request, segment, params)
        if isinstance(checked, Response):
            return checked
        hint = (checked.login_hint or '').lower()
        chosen = next((u['id'] for u in self._users.values() if u['email'].lower() == hint), None)
        return html_response(200, pages.consent(
            app_name=self.app_name, action=f'/{segment}/oauth2/v2.0/authorize/decision',
            users=list(self._users.values()), selected=chosen, hidden=checked.params,
            scopes=checked.graph_scopes + checked.oidc_scopes, redirect_uri=checked.redirect_uri),
            {'Cache-Control': 'no-store'})

    def _authorize_decision(self, request: Request, segment: str) -> Response:
        params = self._form(request)
        checked = self._checked_or_refused(request, segment, params)
        if isinstance(checked, Response):
            return checked
        decision = params.get('decision')
        if decision == 'cancel':
            return self._answer(checked.redirect_uri, checked.response_mode, self._declined(checked))
        if decision != 'accept':
            return self._error_page(90100, 'decision parameter is empty or not valid: press Accept or Cancel.',
                                    request)
        user = self._users.get(params.get('user_id', '').lower())
        if user is None:
            return self._error_page(50034, f"The user account {params.get('user_id', '')!r} does not exist in the "
                                           'directory. To sign into this application, the account must be added to '
                                           'the directory.', request)
        try:
            answer = self._consented(checked, user)
        except _PageError as exc:
            return self._error_page(exc.code, exc.message, request)
        return self._answer(checked.redirect_uri, checked.response_mode, answer)

    def _form(self, request: Request) -> dict[str, str]:
        """The ``application/x-www-form-urlencoded`` body; raises ``Reject`` for anything else."""
        kind = request.header('Content-Type').split(';')[0].strip().lower()
        if request.body and kind not in ('application/x-www-form-urlencoded', ''):
            raise Reject(entra_error(400, 'invalid_request', 900144, 'The request body must contain the following '
                                      "parameter: 'grant_type'. (The body must be application/x-www-form-urlencoded.)",
                                      now=self.now()))
        try:
            text = request.body.decode('utf-8')
        except UnicodeDecodeError:
            raise Reject(entra_error(400, 'invalid_request', 90014, 'The request body is not valid UTF-8.',
                                      now=self.now())) from None
        return first_values(text)

    # --- identity: token ---

    def _token_get(self, request: Request, segment: str) -> Response:
        return self._entra_error(400, 'invalid_request', 900561, 'The endpoint only accepts POST, OPTIONS requests. '
                                 'Received a GET request.', request)

    def _client_problem(self, request: Request, params: dict[str, str]) -> Response | None:
        basic_id = basic_secret = None
        scheme, _, encoded = request.header('Authorization').strip().partition(' ')
        if scheme.lower() == 'basic':
            try:
                decoded = base64.b64decode(encoded.strip(), validate=True).decode('utf-8')
            except (binascii.Error, ValueError):
                return self._entra_error(401, 'invalid_client', 7000215, 'Invalid client secret provided.', request)
            user_part, sep, secret_part = decoded.partition(':')
            if not sep:
                return self._entra_error(401, 'invalid_client', 7000215, 'Invalid client secret provided.', request)
            basic_id, basic_secret = unquote(user_part), unquote(secret_part)
        client_id = params.get('client_id') or basic_id
        if not client_id:
            return self._entra_error(400, 'invalid_request', 900144, "The request body must contain the following "
                                     "parameter: 'client_id'.", request)
        if basic_id is not None and params.get('client_id') and params['client_id'] != basic_id:
            return self._entra_error(401, 'invalid_client', 7000215, 'Invalid client secret provided. The client_id '
                                     'in the body does not match the one in the Authorization header.', request)
        if client_id != self.client_id:
            return self._entra_error(400, 'unauthorized_client', 700016, f"Application with identifier '{client_id}' "
                                     'was not found in the directory. This can happen if the application has not '
                                     'been installed by the administrator of the tenant or consented to by any user '
                                     'in the tenant. You may have sent your authentication request to the wrong '
                                     'tenant.', request)
        if 'client_assertion' in params:
            return self._entra_error(401, 'invalid_client', 700027, 'Client assertion failed signature validation. '
                                     '(The sandbox app has a client secret, no certificate.)', request)
        secrets_given = [s for s in (params.get('client_secret'), basic_secret) if s is not None]
        if not secrets_given:
            return self._entra_error(401, 'invalid_client', 7000218, "The request body must contain the following "
                                     "parameter: 'client_assertion' or 'client_secret'.", request)
        if not all(hmac.compare_digest(s.encode(), self.client_secret.encode()) for s in secrets_given):
            return self._entra_error(401, 'invalid_client', 7000215, 'Invalid client secret provided. Ensure the '
                                     'secret being sent in the request is the client secret value, not the client '
                                     f"secret ID, for a secret added to app '{self.client_id}'.", request)
        return None

    def _token(self, request: Request, segment: str) -> Response:
        tenant = self._resolve_tenant(segment)
        if tenant is None:
            return self._invalid_tenant(segment, request)
        params = self._form(request)
        problem = self._client_problem(request, params)
        if problem is not None:
            return problem
        grant_type = params.get('grant_type')
        if not grant_type:
            return self._entra_error(400, 'invalid_request', 900144, "The request body must contain the following "
                                     "parameter: 'grant_type'.", request)
        if grant_type == 'authorization_code':
            return self._grant_code(request, params)
        if grant_type == 'refresh_token':
            return self._grant_refresh(request, params)
        return self._entra_error(400, 'unsupported_grant_type', 70003, f"The app requested an unsupported grant type "
                                 f"'{grant_type}'. (The sandbox models authorization_code and refresh_token.)",
                                 request)

    def _requested_scopes(self, request: Request, params: dict[str, str], granted: list[str]
                          ) -> tuple[list[str], list[str]] | Response:
        """(Graph scopes, OpenID scopes) a token request asks for, within what was granted."""
        if not params.get('scope'):
            return list(granted), []
        try:
            graph, oidc = self._parse_scopes(params['scope'])
        except _RedirectError as exc:
            return self._entra_error(400, exc.error, exc.code, exc.message, request)
        missing = [s for s in graph if s not in granted]
        if missing:
            return self._entra_error(400, 'invalid_grant', 65001, f"The user or administrator has not consented to use "
                                     f"the application with ID '{self.client_id}' named '{self.app_name}'. Send an "
                                     f"interactive authorization request for this user and resource. (Not consented: "
                                     f"{' '.join(missing)}.)", request, suberror='consent_required')
        return graph or list(granted), oidc

    def _presented(self, request: Request, params: dict[str, str], name: str,
                   records: dict[str, dict[str, Any]]) -> dict[str, Any] | Response:
        """The record of the code or refresh token the request sends as ``name``, or Entra's refusal."""
        value = params.get(name, '')
        if not value:
            return self._entra_error(400, 'invalid_request', 900144, "The request body must contain the following "
                                     f"parameter: '{name}'.", request)
        record = records.get(value)
        if record is None:
            return self._entra_error(400, 'invalid_grant', 9002313, 'Invalid request. Request is malformed or invalid.',
                                     request)
        return record

    def _grant_code(self, request: Request, params: dict[str, str]) -> Response:
        record = self._presented(request, params, 'code', self._codes)
        if isinstance(record, Response):
            return record
        if record['used']:
            return self._entra_error(400, 'invalid_grant', 54005, 'OAuth2 Authorization code was already redeemed, '
                                     'please retry with a new valid code or use an existing refresh token.', request)
        if self._clock() >= record['expires_at']:
            return self._entra_error(400, 'invalid_grant', 70008, 'The provided authorization code or refresh token '
                                     'has expired due to inactivity. Send a new interactive authorization request for '
                                     'this user and resource.', request)
        record['used'] = True  # one redemption attempt per code: a failed one burns it too
        redirect_uri = params.get('redirect_uri', '')
        if redirect_uri != record['redirect_uri']:
            return self._entra_error(400, 'invalid_grant', 500112, f"The reply address '{redirect_uri}' does not match "
                                     f"the reply address '{record['redirect_uri']}' provided when requesting "
                                     'Authorization code.', request)
        if record['challenge'] is not None:
            verifier = params.get('code_verifier', '')
            if not verifier:
                return self._entra_error(400, 'invalid_grant', 50148, 'The code_verifier does not match the '
                                         'code_challenge supplied in the authorization request for PKCE.', request)
            computed = s256_challenge(verifier) if record['method'] == 'S256' else verifier
            if not hmac.compare_digest(computed.encode(), record['challenge'].encode()):
                return self._entra_error(400, 'invalid_grant', 501481, 'The Code_Verifier does not match the '
                                         'code_challenge supplied in the authorization request.', request)
        scopes = self._requested_scopes(request, params, record['graph_scopes'])
        if isinstance(scopes, Response):
            return scopes
        graph, _ = scopes
        user = self._users[record['user_id']]
        # Refresh token, id_token and profile claims follow what /authorize was granted (offline_access, openid…).
        return self._token_response(user, graph, record['graph_scopes'], record['oidc_scopes'], nonce=record['nonce'],
                                    with_client_info=params.get('client_info') == '1')

    def _grant_refresh(self, request: Request, params: dict[str, str]) -> Response:
        record = self._presented(request, params, 'refresh_token', self._refresh_tokens)
        if isinstance(record, Response):
            return record
        user = self._users[record['user_id']]
        if record['generation'] != user['generation']:
            issued = entra_timestamp(datetime.fromtimestamp(record['issued_at'], UTC))
            valid_from = entra_timestamp(datetime.fromtimestamp(user.get('revoked_at', self._clock()), UTC))
            return self._entra_error(400, 'invalid_grant', 50173, 'The provided grant has expired due to it being '
                                     'revoked, a fresh auth token is needed. The user might have changed or reset '
                                     f"their password. The grant was issued on '{issued}' and the TokensValidFrom "
                                     f"date (before which tokens are not valid) for this user is '{valid_from}'.",
                                     request, suberror='bad_token')
        if self._clock() >= record['expires_at']:
            issued = entra_timestamp(datetime.fromtimestamp(record['issued_at'], UTC))
            days = self.refresh_token_ttl / 86400
            return self._entra_error(400, 'invalid_grant', 700082, 'The refresh token has expired due to inactivity. '
                                     f"The token was issued on {issued} and was inactive for {days:.2f} days.",
                                     request)
        scopes = self._requested_scopes(request, params, record['graph_scopes'])
        if isinstance(scopes, Response):
            return scopes
        graph, _ = scopes
        self._refreshes[user['id']] += 1
        # The old refresh token stays valid (pitfall 29): Entra does not revoke it on use.
        return self._token_response(user, graph, record['graph_scopes'], record['oidc_scopes'], nonce=None,
                                    with_client_info=params.get('client_info') == '1')

    def _token_response(self, user: dict[str, Any], graph: list[str], granted: list[str], oidc: list[str], *,
                        nonce: str | None, with_client_info: bool) -> Response:
        now = self._clock()
        iat = int(now)
        scp = ' '.join(graph) or ' '.join(s for s in oidc if s != 'offline_access')
        access_claims = {'aud': GRAPH_RESOURCE, 'iss': f'https://sts.windows.net/{user["tenant_id"]}/', 'iat': iat,
                         'nbf': iat, 'exp': iat + self.access_token_ttl, 'app_displayname': self.app_name,
                         'appid': self.client_id, 'idtyp': 'user', 'name': user['display_name'], 'oid': user['id'],
                         'scp': scp, 'sub': self._subject(user, 'graph'), 'tid': user['tenant_id'],
                         'unique_name': user['email'], 'upn': user['email'], 'uti': secrets.token_urlsafe(16),
                         'ver': '1.0'}
        access_token = unsigned_jwt(access_claims, self._key)
        self._access_tokens[access_token] = {'user_id': user['id'], 'scopes': frozenset(graph),
                                             'expires_at': now + self.access_token_ttl}
        body: dict[str, Any] = {'token_type': 'Bearer', 'scope': ' '.join(graph + oidc),
                                'expires_in': self.access_token_ttl, 'ext_expires_in': self.access_token_ttl,
                                'access_token': access_token}
        if 'offline_access' in oidc:
            refresh_token = opaque_token('1.A')
            self._refresh_tokens[refresh_token] = {
                'user_id': user['id'], 'graph_scopes': list(granted), 'oidc_scopes': list(oidc), 'issued_at': now,
                'expires_at': now + self.refresh_token_ttl, 'generation': user['generation']}
            body['refresh_token'] = refresh_token
        if 'openid' in oidc:
            claims = {'aud': self.client_id, 'iss': f'https://login.microsoftonline.com/{user["tenant_id"]}/v2.0',
                      'iat': iat, 'nbf': iat, 'exp': iat + ID_TOKEN_TTL}
            if 'profile' in oidc:
                claims.update(name=user['display_name'], preferred_username=user['email'])
            if 'email' in oidc:
                claims['email'] = user['email']
            if nonce is not None:
                claims['nonce'] = nonce  # exactly what /authorize received (MSAL sent its SHA-256 hex)
            claims.update(oid=user['id'], rh=b64url(secrets.token_bytes(24)), sub=self._subject(user, self.client_id),
                          tid=user['tenant_id'], uti=secrets.token_urlsafe(16), ver='2.0')
            body['id_token'] = unsigned_jwt(claims, self._key)
        if with_client_info:
            body['client_info'] = client_info(user['id'], user['tenant_id'])
        return json_response(200, body, NO_STORE, content_type=ENTRA_JSON)

    def _subject(self, user: dict[str, Any], audience: str) -> str:
        """A pairwise ``sub``: stable per user and audience, like Entra's."""
        return b64url(hashlib.sha256(f'{audience}:{user["id"]}'.encode()).digest())[:43]

    # --- Graph: authentication and errors ---

    def _graph_error(self, status: int, code: str | None, message: str, request: Request | None = None,
                     headers: Mapping[str, str] | None = None) -> Response:
        request_id = new_guid()
        client_request = request.header('client-request-id') if request is not None else ''
        client_request = client_request if is_guid(client_request) else request_id
        body = {'error': {'code': code or GRAPH_CODES.get(status, 'UnknownError'), 'message': message,
                          'innerError': {'date': _iso(self.now()), 'request-id': request_id,
                                         'client-request-id': client_request}}}
        return json_response(status, body, {'request-id': request_id, 'client-request-id': client_request,
                                            **(headers or {})}, content_type=GRAPH_JSON)

    def _graph_ok(self, status: int, payload: Any, request: Request) -> Response:
        request_id = new_guid()
        client_request = request.header('client-request-id')
        return json_response(status, payload, {'request-id': request_id, 'client-request-id': client_request
                                               if is_guid(client_request) else request_id}, content_type=GRAPH_JSON)

    def _unauthenticated(self, message: str, request: Request) -> Reject:
        return Reject(self._graph_error(401, 'InvalidAuthenticationToken', message, request,
                                         {'WWW-Authenticate': WWW_AUTHENTICATE}))

    def _authenticate(self, request: Request) -> tuple[dict[str, Any], frozenset[str]]:
        scheme, _, token = request.header('Authorization').strip().partition(' ')
        token = token.strip()
        if scheme.lower() != 'bearer' or not token:
            raise self._unauthenticated('Access token is empty.', request)
        record = self._access_tokens.get(token)
        if record is None:
            if '.' not in token:
                raise self._unauthenticated('IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs '
                                            'to be in JWS or JWE Compact Serialization Format.', request)
            claims = jwt_claims(token)
            if claims is not None and claims.get('aud') not in (GRAPH_RESOURCE, GRAPH_APP_ID):
                raise self._unauthenticated('Access token validation failure. Invalid audience.', request)
            raise self._unauthenticated('Access token validation failure. Invalid signature.', request)
        if self._clock() >= record['expires_at']:
            raise self._unauthenticated('Lifetime validation failed, the token is expired.', request)
        return self._users[record['user_id']], record['scopes']

    def _check_user_reference(self, user: dict[str, Any], reference: str) -> None:
        """``/users/{id|userPrincipalName}`` with a delegated token: only the signed-in user here."""
        if reference.lower() not in (user['id'], user['email'].lower()):
            raise Reject(self._graph_error(403, 'Forbidden', 'Delegated access is limited to the signed-in user: '
                                            f"'{reference}' is not the user of this token."))

    def _meetings_allowed(self, request: Request, user: dict[str, Any], scopes: frozenset[str]) -> None:
        if user['personal']:
            raise Reject(self._graph_error(403, 'AuthenticationError', 'Error authenticating with resource: online '
                                            'meetings are not supported for personal Microsoft accounts (MSA).',
                                            request))
        if MEETINGS_SCOPE not in scopes:
            raise Reject(self._graph_error(403, 'Forbidden', 'Forbidden: the access token does not carry the '
                                            f'{MEETINGS_SCOPE} permission (scp: {" ".join(sorted(scopes)) or "none"}).',
                                            request))
        if not user['licensed']:
            raise Reject(self._graph_error(403, 'Forbidden', LICENCE_MESSAGE, request))

    def _json_body(self, request: Request) -> Any:
        kind = request.header('Content-Type').split(';')[0].strip().lower()
        if not request.body.strip():
            raise Reject(self._graph_error(400, 'BadRequest', 'Empty Payload. JSON content expected.', request))
        if kind not in ('application/json', 'text/json'):
            raise Reject(self._graph_error(415, 'BadRequest', f"Content-Type '{kind or '(none)'}' is not supported. "
                                            'Send application/json.', request))

        def no_constants(name: str) -> Any:
            raise ValueError(name)

        try:
            return json.loads(request.body.decode('utf-8'), parse_constant=no_constants)
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise Reject(self._graph_error(400, 'BadRequest', 'Unable to read JSON request payload. Please ensure '
                                            'Content-Type header is set and payload is of valid JSON format.',
                                            request)) from None

    # --- Graph: /me ---

    def _get_me(self, request: Request, user: dict[str, Any], scopes: frozenset[str]) -> Response:
        if PROFILE_SCOPE not in scopes:
            return self._graph_error(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the '
                                     'operation.', request)
        given, _, surname = user['display_name'].partition(' ')
        return self._graph_ok(200, {
            '@odata.context': f'{self.graph_base}/$metadata#users/$entity', 'businessPhones': [],
            'displayName': user['display_name'], 'givenName': given or None, 'jobTitle': None,
            'mail': None if user['personal'] else user['email'], 'mobilePhone': None, 'officeLocation': None,
            'preferredLanguage': None, 'surname': surname or None, 'userPrincipalName': user['email'],
            'id': user['id']}, request)

    # --- Graph: online meetings ---

    def _new_meeting_id(self, user: dict[str, Any]) -> tuple[str, str]:
        """(an opaque ``MSo…`` id, the chat thread id); the id is base64 of ``1*{oid}*0**{thread}`` like Graph's."""
        while True:
            thread = f'19:meeting_{b64url(secrets.token_bytes(36))}@thread.v2'
            meeting_id = base64.b64encode(f'1*{user["id"]}*0**{thread}'.encode()).decode().rstrip('=')
            if '/' not in meeting_id and '+' not in meeting_id and meeting_id not in self._meetings:
                return meeting_id, thread

    def _present(self, meeting: dict[str, Any], request: Request) -> dict[str, Any]:
        late = 'include-unknown-enum-members' in request.header('Prefer').lower()
        organizer = meeting['participants']['organizer']['identity']['user']['id']
        return {'@odata.context': f"{self.graph_base}/$metadata#users('{organizer}')/onlineMeetings/$entity",
                **graph_meetings.present(meeting, late_enum_members=late)}

    def _passcode(self) -> str:
        alphabet = string.ascii_letters + string.digits
        return ''.join(secrets.choice(alphabet) for _ in range(6))

    def _apply(self, meeting: dict[str, Any], clean: dict[str, Any]) -> None:
        for name, value in clean.items():
            if name in ('start_ticks', 'end_ticks', 'attendees', 'isPasscodeRequired'):
                continue
            meeting[name] = value
        if 'start_ticks' in clean:
            meeting['startDateTime'] = graph_meetings.format_time(clean['start_ticks'])
            meeting['endDateTime'] = graph_meetings.format_time(clean['end_ticks'])
        if 'attendees' in clean:
            meeting['participants']['attendees'] = clean['attendees']
        if 'isPasscodeRequired' in clean:
            settings = meeting['joinMeetingIdSettings']
            settings['isPasscodeRequired'] = clean['isPasscodeRequired']
            settings['passcode'] = (settings['passcode'] or self._passcode()) if clean['isPasscodeRequired'] else None

    def _create_meeting(self, request: Request, user: dict[str, Any], scopes: frozenset[str]) -> Response:
        self._meetings_allowed(request, user, scopes)
        try:
            clean = graph_meetings.validate(self._json_body(request), organizer=user)
        except graph_meetings.Invalid as exc:
            return self._graph_error(400, 'BadRequest', str(exc), request)
        return self._graph_ok(201, self._present(self._new_meeting(user, clean), request), request)

    def _create_or_get_meeting(self, request: Request, user: dict[str, Any], scopes: frozenset[str]) -> Response:
        """201 with a new meeting, or 200 with the user's live meeting of that ``externalId``, unchanged.
        Tenant, user and externalId identify it: another user's same externalId is another meeting."""
        self._meetings_allowed(request, user, scopes)
        try:
            clean = graph_meetings.validate_create_or_get(self._json_body(request), organizer=user,
                                                          now_ticks=graph_meetings.ticks_of(self.now()))
        except graph_meetings.Invalid as exc:
            return self._graph_error(400, 'BadRequest', str(exc), request)
        existing = next((m for m in self._meetings.values() if m['externalId'] == clean['externalId'] and
                         m['participants']['organizer']['identity']['user']['id'] == user['id']), None)
        if existing is not None:
            return self._graph_ok(200, self._present(existing, request), request)
        return self._graph_ok(201, self._present(self._new_meeting(user, clean), request), request)

    def _new_meeting(self, user: dict[str, Any], clean: dict[str, Any]) -> dict[str, Any]:
        meeting_id, thread = self._new_meeting_id(user)
        join_url = f'{self.url}/l/meetup-join/{quote(meeting_id, safe="")}'
        meeting: dict[str, Any] = {
            'id': meeting_id, 'creationDateTime': graph_meetings.format_time(graph_meetings.ticks_of(self.now())),
            'startDateTime': '', 'endDateTime': '', 'joinUrl': join_url, 'joinWebUrl': join_url, 'subject': None,
            'isBroadcast': False, 'autoAdmittedUsers': 'everyoneInCompany', 'outerMeetingAutoAdmittedUsers': None,
            'isEntryExitAnnounced': True, 'allowedPresenters': 'everyone', 'allowMeetingChat': 'enabled',
            'allowTeamworkReactions': True, 'allowAttendeeToEnableMic': True, 'allowAttendeeToEnableCamera': True,
            'allowParticipantsToChangeName': False, 'allowRecording': True, 'allowTranscription': True,
            'recordAutomatically': False, 'shareMeetingChatHistoryDefault': 'none', 'externalId': None,
            'capabilities': [], 'videoTeleconferenceId': None, 'audioConferencing': None, 'broadcastSettings': None,
            'meetingInfo': None,
            'participants': {
                'organizer': {'upn': user['email'], 'role': 'presenter', 'identity': {
                    'application': None, 'device': None, 'phone': None,
                    'user': {'id': user['id'], 'displayName': None, 'tenantId': user['tenant_id'],
                             'identityProvider': 'AAD'}}},
                'attendees': []},
            'lobbyBypassSettings': {'scope': 'organization', 'isDialInBypassEnabled': False},
            'joinMeetingIdSettings': {'isPasscodeRequired': True,
                                      'joinMeetingId': str(10 ** 13 + secrets.randbelow(9 * 10 ** 13)),
                                      'passcode': self._passcode()},
            'chatInfo': {'threadId': thread, 'messageId': '0', 'replyChainMessageId': None},
            'joinInformation': {'content': 'data:text/html,' + quote(
                f'<p>Microsoft Teams meeting</p><p><a href="{join_url}">Join the meeting now</a></p>'),
                'contentType': 'html'},
        }
        self._apply(meeting, clean)
        self._meetings[meeting_id] = meeting
        return meeting

    def _meeting(self, request: Request, user: dict[str, Any], meeting_id: str) -> dict[str, Any]:
        meeting = self._meetings.get(meeting_id)
        if meeting is None or meeting['participants']['organizer']['identity']['user']['id'] != user['id']:
            raise Reject(self._graph_error(404, 'NotFound', f"The online meeting '{meeting_id}' was not found for "
                                            'this user.', request))
        return meeting

    def _get_meeting(self, request: Request, user: dict[str, Any], scopes: frozenset[str], meeting_id: str
                     ) -> Response:
        self._meetings_allowed(request, user, scopes)
        return self._graph_ok(200, self._present(self._meeting(request, user, meeting_id), request), request)

    def _update_meeting(self, request: Request, user: dict[str, Any], scopes: frozenset[str], meeting_id: str
                        ) -> Response:
        self._meetings_allowed(request, user, scopes)
        meeting = self._meeting(request, user, meeting_id)
        try:
            clean = graph_meetings.validate(self._json_body(request), organizer=user, current=meeting)
        except graph_meetings.Invalid as exc:
            return self._graph_error(400, 'BadRequest', str(exc), request)
        self._apply(meeting, clean)
        return self._graph_ok(200, self._present(meeting, request), request)

    def _delete_meeting(self, request: Request, user: dict[str, Any], scopes: frozenset[str], meeting_id: str
                        ) -> Response:
        self._meetings_allowed(request, user, scopes)
        self._meeting(request, user, meeting_id)
        del self._meetings[meeting_id]
        request_id = new_guid()
        return Response(204, b'', {'request-id': request_id, 'client-request-id': request_id})

    # --- the browser landing of joinWebUrl, and the index ---

    def _join_page(self, request: Request, meeting_id: str) -> Response:
        meeting = self._meetings.get(meeting_id)
        if meeting is None:
            return html_response(404, pages.notice('Teams sandbox — meeting not found',
                                                   'This meeting link is not valid, or the meeting was deleted.'))
        return html_response(200, pages.notice('Teams sandbox — joined meeting',
                                               f'Subject: {meeting.get("subject") or "(none)"}. '
                                               f'Starts {meeting["startDateTime"]}, ends {meeting["endDateTime"]}.'))

    def _index(self) -> Response:
        with self._lock:
            text = pages.index(url=self.url, authority=self.authority, client_id=self.client_id,
                               redirect_uris=list(self._redirect_uris), users=list(self._users.values()),
                               meetings=list(self._meetings.values()), now=_iso(self.now()),
                               personal_on_organizations=self.allow_personal_accounts_on_organizations)
        return html_response(200, text)
