"""The HTTP side: the shared sandbox server (``infra.sandboxes.web``), with body errors worded as Zoom's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..web import Response, SandboxServer, json_response

if TYPE_CHECKING:
    from .sandbox import ZoomSandbox


def _body_error(status: int, message: str) -> Response:
    return json_response(status, {'code': status, 'message': message})


def make_server(sandbox: 'ZoomSandbox', host: str, port: int) -> SandboxServer:
    return SandboxServer(sandbox, host, port, server_version='ZoomSandbox/1.0', body_error=_body_error)
