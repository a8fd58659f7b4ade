"""The Zoom sandbox inside the local stack: Zoom's OAuth, REST API and webhook sender on a loopback port.

The functions reach Zoom through two settings, ``ZOOM_OAUTH_BASE`` and ``ZOOM_API_BASE`` (the real
Zoom by default), and read the app's credentials from the secret named by ``ZOOM_CLIENT_SECRET_ARN``.
Locally both settings point at the sandbox, and the sandbox's credentials become that secret's value.
The settings are read once per process, so they are in the environment before any function (or the
``meetbridge`` package) is imported.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import boto3

from .template import REGION

log = logging.getLogger("infra.local.zoom")

SECRET_ARN_VARIABLE = "ZOOM_CLIENT_SECRET_ARN"
CALLBACK_PATH = "/oauth/zoom/callback"


class ZoomSandboxError(Exception):
    pass


def secret_arn(environments: list[dict[str, str]]) -> str | None:
    """The secret the functions read Zoom's credentials from (None: no function talks to Zoom)."""
    found = {env[SECRET_ARN_VARIABLE] for env in environments if env.get(SECRET_ARN_VARIABLE)}
    return sorted(found)[0] if found else None


def redirect_uris(api_port: int) -> tuple[str, str]:
    """What the oauth function sends as redirect_uri: the API's own scheme and host, either loopback name."""
    return (f"http://127.0.0.1:{api_port}{CALLBACK_PATH}", f"http://localhost:{api_port}{CALLBACK_PATH}")


class LocalZoom:
    """A started ``ZoomSandbox`` whose credentials are the stack's Zoom secret."""

    def __init__(self, sandbox: Any, secret_arn: str):
        self.sandbox = sandbox
        self.secret_arn = secret_arn

    @classmethod
    def start(cls, *, port: int, api_port: int, secret_arn: str) -> LocalZoom:
        from infra.sandboxes.zoom import ZoomSandbox

        sandbox = ZoomSandbox(host="127.0.0.1", port=port, redirect_uris=redirect_uris(api_port))
        try:
            sandbox.start()
        except OSError as exc:
            raise ZoomSandboxError(
                f"cannot listen on 127.0.0.1:{port} for the Zoom sandbox ({exc.strerror or exc}); "
                "pick another with --zoom-port or ZOOM_SANDBOX_PORT (0 = any free port)"
            ) from exc
        zoom = cls(sandbox, secret_arn)
        try:
            zoom.store_credentials()
        except Exception:
            sandbox.stop()
            raise
        log.info("Zoom sandbox on %s", sandbox.url)
        return zoom

    def store_credentials(self) -> None:
        """The sandbox app's credentials become the current value of the secret the template created."""
        boto3.client("secretsmanager", region_name=REGION).put_secret_value(
            SecretId=self.secret_arn, SecretString=json.dumps(self.credentials))

    @property
    def credentials(self) -> dict[str, str]:
        return {
            "client_id": self.sandbox.client_id,
            "client_secret": self.sandbox.client_secret,
            "webhook_secret_token": self.sandbox.webhook_secret_token,
        }

    @property
    def url(self) -> str:
        return self.sandbox.url

    @property
    def webhook_secret(self) -> str:
        return self.sandbox.webhook_secret_token

    def environment(self) -> dict[str, str]:
        return {"ZOOM_OAUTH_BASE": self.sandbox.url, "ZOOM_API_BASE": self.sandbox.api_base}

    def stop(self) -> None:
        self.sandbox.stop()
