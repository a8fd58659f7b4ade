"""sources/platform_api.py: what a platform's answer makes of a lookup, whatever goes wrong on the way."""

import httpx2
import pytest

from meetbridge.sources import platform_api
from meetbridge.sources.base import LookupRefused, PlatformUnavailable


def _answering(monkeypatch, respond) -> None:
    client = httpx2.Client(base_url='https://api.platform.example', transport=httpx2.MockTransport(respond))
    monkeypatch.setattr(platform_api, '_pooled_client', lambda base_url: client)


def _call():
    return platform_api.call('acuity', 'https://api.platform.example', 'GET', '/appointments/1',
                             auth=('user', 'the-api-key'))


@pytest.mark.parametrize(('status', 'expected'), [
    (429, PlatformUnavailable), (500, PlatformUnavailable), (503, PlatformUnavailable),
    (401, PlatformUnavailable), (403, PlatformUnavailable),  # the source's keys: retried while the admin fixes them
    (400, LookupRefused), (404, LookupRefused), (410, LookupRefused), (422, LookupRefused),
])
def test_each_status_decides_the_lookup(monkeypatch, status, expected):
    _answering(monkeypatch, lambda request: httpx2.Response(status, json={'message': 'the-api-key'}))

    with pytest.raises(expected) as failed:
        _call()
    assert f'HTTP {status}' in str(failed.value) and 'the-api-key' not in str(failed.value)


def test_an_answer_that_cannot_be_decoded_is_an_outage_not_a_crash(monkeypatch):
    _answering(monkeypatch, lambda request: httpx2.Response(
        200, headers={'Content-Encoding': 'gzip'}, content=b'not gzip at all'))

    with pytest.raises(PlatformUnavailable, match='DecodingError'):
        _call()


def test_a_refused_connection_is_an_outage(monkeypatch):
    def refuse(request):
        raise httpx2.ConnectError('connection refused', request=request)

    _answering(monkeypatch, refuse)

    with pytest.raises(PlatformUnavailable, match='ConnectError'):
        _call()


def test_a_2xx_answer_is_returned(monkeypatch):
    _answering(monkeypatch, lambda request: httpx2.Response(200, json={'id': 1}))

    assert _call().json() == {'id': 1}
