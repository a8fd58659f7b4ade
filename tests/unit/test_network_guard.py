import socket

import pytest


def test_create_connection_is_refused():
    with pytest.raises(RuntimeError, match='network access in a unit test'):
        socket.create_connection(('127.0.0.1', 9), timeout=0.1)


def test_raw_socket_connect_is_refused():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        with pytest.raises(RuntimeError, match='network access in a unit test'):
            sock.connect(('127.0.0.1', 9))
        with pytest.raises(RuntimeError, match='network access in a unit test'):
            sock.connect_ex(('127.0.0.1', 9))
