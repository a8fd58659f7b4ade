"""Outbound HTTP uses httpx2: Authlib 1.9 deprecates plain httpx and prefers it."""

import warnings


def test_authlibs_httpx_integration_runs_on_httpx2_without_deprecation_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        import httpx2
        from authlib.integrations.httpx_client import OAuth2Client

    assert issubclass(OAuth2Client, httpx2.Client)
