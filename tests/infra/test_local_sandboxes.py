"""The local stack's sandboxes without a stack: which functions declare which sandbox, where each booking
platform's API base points, and the port options."""

import socket
from dataclasses import dataclass

import pytest

from infra.local.__main__ import parse_args
from infra.local.sandboxes import (ACUITY, BOOKING_PLATFORMS, SIMPLYBOOK, SQUARE, SandboxError, start_sandboxes)



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
