"""Outside services' sandboxes inside the local stack, each on a loopback port: the meeting providers (a
local Zoom, a local Microsoft and a local Google) and the booking platforms whose APIs the functions call (a local
SimplyBook.me, Acuity and Square).

The functions reach an outside service through settings that name the real one (``ZOOM_OAUTH_BASE``,
``MICROSOFT_AUTHORITY``, ``SIMPLYBOOK_API_BASE``, ...). Locally those settings point at the sandbox, but
only for the functions whose template environment has the service's variable: a provider's secret
variable (``ZOOM_CLIENT_SECRET_ARN``), whose secret then holds the sandbox's app credentials, or a booking
platform's API base (``SIMPLYBOOK_API_BASE``).
The settings are read once per process, so they are in the environment before any function (or the
``meetbridge`` package) is imported.

Every sandbox is started, registered and stopped the same way; a ``SandboxedService`` only says which
sandbox it is, which variable asks for it and which settings point at it, and a ``Provider`` adds its
credentials and OAuth redirect URIs.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

import boto3

from .template import REGION

log = logging.getLogger("infra.local.sandboxes")


class SandboxError(Exception):
    pass


class DeclaringFunction(Protocol):
    """What the sandboxes need to know of a function: the variables the template gives it."""

    environment: dict[str, str]


@dataclass(frozen=True, kw_only=True)
class SandboxedService(ABC):
    """One outside service's sandbox as the local stack runs it.

    ``key`` names everything else: the option ``--{key}-port`` and its variable ``{KEY}_SANDBOX_PORT``,
    and the ``{key}_...`` entries of ``dev.json``.
    """

    key: str
    name: str
    # the sandbox -> the settings that point the functions at it
    environment: Callable[[Any], dict[str, str]]
    # the sandbox -> more dev.json entries (prefixed with ``{key}_``)
    facts: Callable[[Any], dict[str, str]] = field(default=lambda sandbox: {})

    @property
    def port_option(self) -> str:
        return f"--{self.key}-port"

    @property
    def port_variable(self) -> str:
        return f"{self.key.upper()}_SANDBOX_PORT"

    @property
    @abstractmethod
    def declaring_variable(self) -> str:
        """A function that declares this variable gets the settings that point at the sandbox."""

    def declared_by(self, fn: DeclaringFunction) -> bool:
        return self.declaring_variable in fn.environment

    @abstractmethod
    def new_sandbox(self, port: int, api_port: int) -> Any:
        """The sandbox on 127.0.0.1:``port``, not started yet (``api_port``: the stack's API)."""

    def register(self, sandbox: Any, functions: Sequence[DeclaringFunction]) -> None:
        """Makes the started sandbox known to the stack's cloud (nothing to do by default)."""


@dataclass(frozen=True, kw_only=True)
class Provider(SandboxedService):
    """A meeting provider: the functions read its app's credentials from a secret, and it redirects to the
    stack's OAuth callback ``/oauth/{key}/callback``."""

    secret_variable: str
    # (redirect URIs, port) -> a sandbox on 127.0.0.1, not started yet
    create: Callable[[tuple[str, ...], int], Any]
    # the sandbox -> the secret's value (the JSON the functions' credentials() read)
    credentials: Callable[[Any], dict[str, str]]

    @property
    def declaring_variable(self) -> str:
        return self.secret_variable

    @property
    def callback_path(self) -> str:
        return f"/oauth/{self.key}/callback"

    def redirect_uris(self, api_port: int) -> tuple[str, str]:
        """What the oauth function sends as redirect_uri: the API's own scheme and host, either loopback name."""
        return (f"http://127.0.0.1:{api_port}{self.callback_path}", f"http://localhost:{api_port}{self.callback_path}")

    def new_sandbox(self, port: int, api_port: int) -> Any:
        return self.create(self.redirect_uris(api_port), port)

    def secret_arn(self, functions: Sequence[DeclaringFunction]) -> str:
        """The secret the functions read this provider's credentials from (the template gives its ARN)."""
        found = {fn.environment[self.secret_variable] for fn in functions if fn.environment.get(self.secret_variable)}
        if not found:
            raise SandboxError(f"no function's template environment gives {self.secret_variable} a value: "
                               f"there is no secret for the {self.name} sandbox's credentials")
        return sorted(found)[0]

    def register(self, sandbox: Any, functions: Sequence[DeclaringFunction]) -> None:
        """The sandbox app's credentials become the current value of the secret the template created."""
        boto3.client("secretsmanager", region_name=REGION).put_secret_value(
            SecretId=self.secret_arn(functions), SecretString=json.dumps(self.credentials(sandbox)))


@dataclass(frozen=True, kw_only=True)
class BookingPlatform(SandboxedService):
    """A booking platform whose API the functions call with each tenant's own credentials (no app secret,
    no redirect): tests and people seed those credentials through the sandbox's ``/_sandbox/`` endpoints."""

    api_base_variable: str
    # port -> a sandbox on 127.0.0.1, not started yet
    create: Callable[[int], Any]
    # what the banner says the sandbox is, and how to seed it
    summary: str

    @property
    def declaring_variable(self) -> str:
        return self.api_base_variable

    def new_sandbox(self, port: int, api_port: int) -> Any:
        return self.create(port)


def _zoom(redirect_uris: tuple[str, ...], port: int) -> Any:
    from infra.sandboxes.zoom import ZoomSandbox

    return ZoomSandbox(host="127.0.0.1", port=port, redirect_uris=redirect_uris)


def _microsoft(redirect_uris: tuple[str, ...], port: int) -> Any:
    from infra.sandboxes.microsoft import MicrosoftSandbox

    return MicrosoftSandbox(host="127.0.0.1", port=port, redirect_uris=redirect_uris)


def _google(redirect_uris: tuple[str, ...], port: int) -> Any:
    from infra.sandboxes.google import GoogleSandbox

    return GoogleSandbox(host="127.0.0.1", port=port, redirect_uris=redirect_uris)


def _simplybook(port: int) -> Any:
    from infra.sandboxes.simplybook import SimplyBookSandbox

    return SimplyBookSandbox(host="127.0.0.1", port=port)


def _acuity(port: int) -> Any:
    from infra.sandboxes.acuity import AcuitySandbox

    return AcuitySandbox(host="127.0.0.1", port=port)


def _square(port: int) -> Any:
    from infra.sandboxes.square import SquareSandbox

    return SquareSandbox(host="127.0.0.1", port=port)


ZOOM = Provider(
    key="zoom",
    name="Zoom",
    secret_variable="ZOOM_CLIENT_SECRET_ARN",
    create=_zoom,
    credentials=lambda s: {"client_id": s.client_id, "client_secret": s.client_secret,
                           "webhook_secret_token": s.webhook_secret_token},
    environment=lambda s: {"ZOOM_OAUTH_BASE": s.url, "ZOOM_API_BASE": s.api_base},
    facts=lambda s: {"webhook_secret": s.webhook_secret_token},
)

# MSAL only takes an https authority: the sandbox calls itself https://login.microsoft.sandbox, and the
# functions' MSAL http client sends that host to MICROSOFT_AUTHORITY_ORIGIN, the sandbox's real address.
MICROSOFT = Provider(
    key="microsoft",
    name="Microsoft",
    secret_variable="MICROSOFT_CLIENT_SECRET_ARN",
    create=_microsoft,
    credentials=lambda s: {"client_id": s.client_id, "client_secret": s.client_secret},
    environment=lambda s: {"MICROSOFT_AUTHORITY": s.authority, "MICROSOFT_AUTHORITY_ORIGIN": s.url,
                           "GRAPH_BASE": s.graph_base},
)

GOOGLE = Provider(
    key="google",
    name="Google",
    secret_variable="GOOGLE_CLIENT_SECRET_ARN",
    create=_google,
    credentials=lambda s: {"client_id": s.client_id, "client_secret": s.client_secret},
    environment=lambda s: {"GOOGLE_AUTHORIZE_URL": s.authorize_url, "GOOGLE_TOKEN_URL": s.token_url,
                           "GOOGLE_REVOKE_URL": s.revoke_url, "GOOGLE_CALENDAR_BASE": s.calendar_base},
)

# Each API base is what the source appends its paths to: SimplyBook's <base>/login and <base>/, Acuity's
# <base>/appointments/{id}, Square's <base>/v2/...
SIMPLYBOOK = BookingPlatform(
    key="simplybook",
    name="SimplyBook",
    api_base_variable="SIMPLYBOOK_API_BASE",
    create=_simplybook,
    environment=lambda s: {"SIMPLYBOOK_API_BASE": s.url},
    summary="JSON-RPC getToken and getBookingDetails; seed PUT /_sandbox/companies/{company}",
)

ACUITY = BookingPlatform(
    key="acuity",
    name="Acuity",
    api_base_variable="ACUITY_API_BASE",
    create=_acuity,
    environment=lambda s: {"ACUITY_API_BASE": s.api_base},
    summary="GET /api/v1/appointments/{id}, Basic auth; seed PUT /_sandbox/users/{user_id}",
)

SQUARE = BookingPlatform(
    key="square",
    name="Square",
    api_base_variable="SQUARE_API_BASE",
    create=_square,
    environment=lambda s: {"SQUARE_API_BASE": s.url},
    summary="customers and team members, bearer tokens; seed PUT /_sandbox/access-tokens/{token}",
)

PROVIDERS = (ZOOM, MICROSOFT, GOOGLE)
BOOKING_PLATFORMS = (SIMPLYBOOK, ACUITY, SQUARE)
SANDBOXED_SERVICES: tuple[SandboxedService, ...] = (*PROVIDERS, *BOOKING_PLATFORMS)


class LocalSandbox:
    """A started sandbox, known to the stack's cloud."""

    def __init__(self, service: SandboxedService, sandbox: Any):
        self.service = service
        self.sandbox = sandbox

    @classmethod
    def start(cls, service: SandboxedService, *, port: int, api_port: int,
              functions: Sequence[DeclaringFunction]) -> LocalSandbox:
        sandbox = service.new_sandbox(port, api_port)
        try:
            sandbox.start()
        except OSError as exc:
            raise SandboxError(
                f"cannot listen on 127.0.0.1:{port} for the {service.name} sandbox ({exc.strerror or exc}); "
                f"pick another with {service.port_option} or {service.port_variable} (0 = any free port)"
            ) from exc
        try:
            service.register(sandbox, functions)
        except Exception:
            sandbox.stop()
            raise
        log.info("%s sandbox on %s", service.name, sandbox.url)
        return cls(service, sandbox)

    @property
    def url(self) -> str:
        return self.sandbox.url

    def environment(self) -> dict[str, str]:
        return self.service.environment(self.sandbox)

    def facts(self) -> dict[str, str]:
        return {f"{self.service.key}_{name}": value for name, value in self.service.facts(self.sandbox).items()}

    def stop(self) -> None:
        self.sandbox.stop()


def start_sandboxes(functions: Sequence[DeclaringFunction], *, api_port: int,
                    ports: dict[str, int]) -> dict[str, LocalSandbox]:
    """Every sandbox that some function declares the variable of, by key.

    If one cannot start, those already started are stopped again.
    """
    started: dict[str, LocalSandbox] = {}
    try:
        for service in SANDBOXED_SERVICES:
            if not any(service.declared_by(fn) for fn in functions):
                log.info("no function declares %s: the %s sandbox is not started", service.declaring_variable,
                         service.name)
                continue
            started[service.key] = LocalSandbox.start(service, port=ports.get(service.key, 0), api_port=api_port,
                                                      functions=functions)
    except BaseException:
        for local in started.values():
            local.stop()
        raise
    return started
