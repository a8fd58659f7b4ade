"""Provider sandboxes inside the local stack: a local Zoom and a local Microsoft, each on a loopback port.

The functions reach a provider through settings that default to the real service (``ZOOM_OAUTH_BASE``,
``MICROSOFT_AUTHORITY``, ...) and read the app's credentials from the secret that one of their
variables names (``ZOOM_CLIENT_SECRET_ARN``, ``MICROSOFT_CLIENT_SECRET_ARN``). Locally the settings
point at the sandbox, and the sandbox's credentials become that secret's value. The settings are
read once per process, so they are in the environment before any function (or the ``meetbridge``
package) is imported.

Every sandbox is started, registered and stopped the same way; a ``Provider`` only says which
sandbox it is, what its credentials are and which settings point at it.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any, Callable

import boto3

from .template import REGION

log = logging.getLogger("infra.local.sandboxes")


class SandboxError(Exception):
    pass


@dataclass(frozen=True)
class Provider:
    """One provider's sandbox as the local stack runs it.

    ``key`` names everything else: the callback ``/oauth/{key}/callback``, the option ``--{key}-port``
    and its variable ``{KEY}_SANDBOX_PORT``, and the ``{key}_...`` entries of ``dev.json``.
    """

    key: str
    name: str
    secret_variable: str
    # (redirect URIs, port) -> a sandbox on 127.0.0.1, not started yet
    create: Callable[[tuple[str, ...], int], Any]
    # the sandbox -> the secret's value (the JSON the functions' credentials() read)
    credentials: Callable[[Any], dict[str, str]]
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
    def callback_path(self) -> str:
        return f"/oauth/{self.key}/callback"

    def redirect_uris(self, api_port: int) -> tuple[str, str]:
        """What the oauth function sends as redirect_uri: the API's own scheme and host, either loopback name."""
        return (f"http://127.0.0.1:{api_port}{self.callback_path}", f"http://localhost:{api_port}{self.callback_path}")

    def secret_arn(self, environments: list[dict[str, str]]) -> str | None:
        """The secret the functions read this provider's credentials from (None: no function talks to it)."""
        found = {env[self.secret_variable] for env in environments if env.get(self.secret_variable)}
        return sorted(found)[0] if found else None


def _zoom(redirect_uris: tuple[str, ...], port: int) -> Any:
    from infra.sandboxes.zoom import ZoomSandbox

    return ZoomSandbox(host="127.0.0.1", port=port, redirect_uris=redirect_uris)


def _microsoft(redirect_uris: tuple[str, ...], port: int) -> Any:
    from infra.sandboxes.microsoft import MicrosoftSandbox

    return MicrosoftSandbox(host="127.0.0.1", port=port, redirect_uris=redirect_uris)


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

PROVIDERS = (ZOOM, MICROSOFT)


class LocalSandbox:
    """A started sandbox whose credentials are the value of the stack's secret for that provider."""

    def __init__(self, provider: Provider, sandbox: Any, secret_arn: str):
        self.provider = provider
        self.sandbox = sandbox
        self.secret_arn = secret_arn

    @classmethod
    def start(cls, provider: Provider, *, port: int, api_port: int, secret_arn: str) -> LocalSandbox:
        sandbox = provider.create(provider.redirect_uris(api_port), port)
        try:
            sandbox.start()
        except OSError as exc:
            raise SandboxError(
                f"cannot listen on 127.0.0.1:{port} for the {provider.name} sandbox ({exc.strerror or exc}); "
                f"pick another with {provider.port_option} or {provider.port_variable} (0 = any free port)"
            ) from exc
        local = cls(provider, sandbox, secret_arn)
        try:
            local.store_credentials()
        except Exception:
            sandbox.stop()
            raise
        log.info("%s sandbox on %s", provider.name, sandbox.url)
        return local

    def store_credentials(self) -> None:
        """The sandbox app's credentials become the current value of the secret the template created."""
        boto3.client("secretsmanager", region_name=REGION).put_secret_value(
            SecretId=self.secret_arn, SecretString=json.dumps(self.credentials))

    @property
    def credentials(self) -> dict[str, str]:
        return self.provider.credentials(self.sandbox)

    @property
    def url(self) -> str:
        return self.sandbox.url

    def environment(self) -> dict[str, str]:
        return self.provider.environment(self.sandbox)

    def facts(self) -> dict[str, str]:
        return {f"{self.provider.key}_{name}": value for name, value in self.provider.facts(self.sandbox).items()}

    def stop(self) -> None:
        self.sandbox.stop()


def start_sandboxes(environments: list[dict[str, str]], *, api_port: int,
                    ports: dict[str, int]) -> dict[str, LocalSandbox]:
    """Every provider's sandbox that some function talks to (by the secret it reads), by key.

    If one cannot start, those already started are stopped again.
    """
    started: dict[str, LocalSandbox] = {}
    try:
        for provider in PROVIDERS:
            arn = provider.secret_arn(environments)
            if arn is None:
                log.info("no function reads %s: the %s sandbox is not started", provider.secret_variable,
                         provider.name)
                continue
            started[provider.key] = LocalSandbox.start(provider, port=ports.get(provider.key, 0), api_port=api_port,
                                                       secret_arn=arn)
    except BaseException:
        for local in started.values():
            local.stop()
        raise
    return started
