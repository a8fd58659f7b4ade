"""The local stack's sandboxes without a stack: which functions declare which sandbox, where each sandbox
points them, what a provider's sandbox puts into its secret and which redirect URIs it allows, and the port
options."""

import json
import socket
import urllib.parse
from dataclasses import dataclass

import boto3
import pytest
from moto import mock_aws

from infra.local.__main__ import parse_args
from infra.local.sandboxes import (ACUITY, BOOKING_PLATFORMS, GOOGLE, MICROSOFT, SIMPLYBOOK, SQUARE, SandboxError,
                                   start_sandboxes)
from infra.local.template import REGION

GOOGLE_OWNER = "105000000000000000001"  # Olive Owner, one of the Google sandbox's seeded users

@dataclass
class Function:
    environment: dict[str, str]


def test_only_the_meetings_function_declares_the_booking_platforms_api_bases(sam_template):
    declaring = {logical_id for logical_id, resource in sam_template["Resources"].items()
                 if resource["Type"] == "AWS::Serverless::Function"
                 and {platform.api_base_variable for platform in BOOKING_PLATFORMS}
                 <= set(resource["Properties"].get("Environment", {}).get("Variables", {}))}
    assert declaring == {"MeetingsFunction"}


def test_a_booking_platforms_sandbox_starts_for_the_functions_that_declare_its_api_base_and_points_them_at_it():
    meetings = Function({"TABLE_NAME": "t", "SIMPLYBOOK_API_BASE": "https://user-api.simplybook.me",
                         "ACUITY_API_BASE": "https://acuityscheduling.com/api/v1",
                         "SQUARE_API_BASE": "https://connect.squareup.com"})
    join = Function({"TABLE_NAME": "t"})
    started = start_sandboxes([meetings, join], api_port=3000, ports={})
    try:
        assert set(started) == {"simplybook", "acuity", "square"}  # no function declares Zoom's or Microsoft's
        assert all(platform.declared_by(meetings) and not platform.declared_by(join) for platform in BOOKING_PLATFORMS)
        urls = {key: local.url for key, local in started.items()}
        assert all(url.startswith("http://127.0.0.1:") for url in urls.values())
        assert started["simplybook"].environment() == {"SIMPLYBOOK_API_BASE": urls["simplybook"]}
        assert started["acuity"].environment() == {"ACUITY_API_BASE": f"{urls['acuity']}/api/v1"}
        assert started["square"].environment() == {"SQUARE_API_BASE": urls["square"]}
        assert all(local.facts() == {} for local in started.values())
    finally:
        for local in started.values():
            local.stop()


def test_a_busy_booking_platform_port_names_the_option_and_stops_the_sandboxes_already_started():
    meetings = Function({"SIMPLYBOOK_API_BASE": "", "ACUITY_API_BASE": "", "SQUARE_API_BASE": ""})
    with socket.socket() as busy, socket.socket() as free:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        free.bind(("127.0.0.1", 0))
        simplybook_port = free.getsockname()[1]
        free.close()
        port = busy.getsockname()[1]
        with pytest.raises(SandboxError) as failed:
            start_sandboxes([meetings], api_port=3000, ports={"simplybook": simplybook_port, "square": port})
    assert str(failed.value).startswith(f"cannot listen on 127.0.0.1:{port} for the Square sandbox (")
    assert str(failed.value).endswith("pick another with --square-port or SQUARE_SANDBOX_PORT (0 = any free port)")
    with socket.socket() as again:  # the SimplyBook sandbox started first and was stopped
        again.bind(("127.0.0.1", simplybook_port))


def test_each_booking_platform_has_a_port_option_and_variable(monkeypatch):
    monkeypatch.setenv("ACUITY_SANDBOX_PORT", "9193")
    args = parse_args(["--simplybook-port", "9192"])
    assert (args.simplybook_port, args.acuity_port, args.square_port) == (9192, 9193, 0)
    assert [(p.port_option, p.port_variable) for p in (SIMPLYBOOK, ACUITY, SQUARE)] == [
        ("--simplybook-port", "SIMPLYBOOK_SANDBOX_PORT"), ("--acuity-port", "ACUITY_SANDBOX_PORT"),
        ("--square-port", "SQUARE_SANDBOX_PORT")]


def test_exactly_the_oauth_meetings_and_health_functions_declare_the_microsoft_and_google_secrets(sam_template):
    def declaring(provider) -> set[str]:
        return {logical_id for logical_id, resource in sam_template["Resources"].items()
                if resource["Type"] == "AWS::Serverless::Function"
                and provider.secret_variable in resource["Properties"].get("Environment", {}).get("Variables", {})}

    assert declaring(MICROSOFT) == declaring(GOOGLE) == {"OAuthFunction", "MeetingsFunction", "HealthFunction"}


@pytest.fixture
def google_secret():
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="meetbridge-GoogleClientSecret", SecretString="{}")["ARN"]


def _authorize_query(redirect_uri: str, client_id: str) -> str:
    """Google's authorize query as the provider sends it (PKCE, offline access)."""
    return urllib.parse.urlencode({
        "response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
        "scope": "openid email https://www.googleapis.com/auth/calendar.events.owned", "state": "state-1",
        "access_type": "offline", "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGcSjJ_mQ8",
        "code_challenge_method": "S256"})


def test_the_google_sandbox_starts_for_the_functions_that_declare_its_secret_and_points_them_at_it(google_secret):
    meetings = Function({"TABLE_NAME": "t", "GOOGLE_CLIENT_SECRET_ARN": google_secret})
    join = Function({"TABLE_NAME": "t"})
    started = start_sandboxes([meetings, join], api_port=3000, ports={})
    try:
        assert set(started) == {"google"}
        assert GOOGLE.declared_by(meetings) and not GOOGLE.declared_by(join)
        google = started["google"]
        url = google.url
        assert url.startswith("http://127.0.0.1:")
        assert google.environment() == {
            "GOOGLE_AUTHORIZE_URL": f"{url}/o/oauth2/v2/auth", "GOOGLE_TOKEN_URL": f"{url}/token",
            "GOOGLE_REVOKE_URL": f"{url}/revoke", "GOOGLE_CALENDAR_BASE": f"{url}/calendar/v3"}
        assert google.facts() == {}  # dev.json's google_sandbox_url is every sandbox's {key}_sandbox_url

        # The functions read the sandbox's own client from the template's secret.
        secret = json.loads(boto3.client("secretsmanager", region_name=REGION)
                            .get_secret_value(SecretId=google_secret)["SecretString"])
        assert secret == {"client_id": google.sandbox.client_id, "client_secret": google.sandbox.client_secret}

        # Consent redirects to the stack's callback under either loopback name, and nowhere else.
        for host in ("127.0.0.1", "localhost"):
            callback = f"http://{host}:3000/oauth/google/callback"
            answer = google.sandbox.authorize(GOOGLE_OWNER, f"{google.sandbox.authorize_url}?"
                                              + _authorize_query(callback, secret["client_id"]))
            assert answer["state"] == "state-1" and answer["code"], answer
        with pytest.raises(Exception, match="redirect_uri_mismatch"):
            google.sandbox.authorize(GOOGLE_OWNER, f"{google.sandbox.authorize_url}?" + _authorize_query(
                "http://127.0.0.1:3001/oauth/google/callback", secret["client_id"]))
    finally:
        for local in started.values():
            local.stop()


def test_without_a_value_for_its_secret_the_google_sandbox_does_not_start_and_says_why():
    with pytest.raises(SandboxError) as failed:
        start_sandboxes([Function({"GOOGLE_CLIENT_SECRET_ARN": ""})], api_port=3000, ports={})
    assert str(failed.value) == ("no function's template environment gives GOOGLE_CLIENT_SECRET_ARN a value: "
                                 "there is no secret for the Google sandbox's credentials")


def test_the_google_sandbox_has_a_port_option_and_variable(monkeypatch):
    assert (GOOGLE.port_option, GOOGLE.port_variable) == ("--google-port", "GOOGLE_SANDBOX_PORT")
    monkeypatch.setenv("GOOGLE_SANDBOX_PORT", "9194")
    assert parse_args([]).google_port == 9194
    assert parse_args(["--google-port", "9195"]).google_port == 9195
