"""Unit tests are pure: any attempt to open a network connection fails the test at once."""

import socket

import pytest


class NetworkAccessInUnitTest(RuntimeError):
    """Raised instead of connecting; a RuntimeError, so no client library mistakes it for a retryable OSError."""


def _refuse(*args, **kwargs):
    raise NetworkAccessInUnitTest(f'network access in a unit test: {args[1:] or args}')


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    monkeypatch.setattr(socket.socket, 'connect', _refuse)
    monkeypatch.setattr(socket.socket, 'connect_ex', _refuse)
    monkeypatch.setattr(socket, 'create_connection', _refuse)
