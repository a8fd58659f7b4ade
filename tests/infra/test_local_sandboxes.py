"""The local stack's sandboxes without a stack: which functions declare which sandbox, where each booking
platform's API base points, and the port options."""

import importlib
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from infra.local.__main__ import parse_args
from infra.local.sandboxes import (ACUITY, BOOKING_PLATFORMS, SIMPLYBOOK, SQUARE, SandboxError, start_sandboxes)
from infra.local.settings_models import SettingsModelError, declared_variables
from meetbridge import config

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Function:
    environment: dict[str, str]
    declared_variables: frozenset[str]


def _handler_files(sam_template: dict[str, Any]) -> dict[str, Path]:
    return {logical_id: ROOT / resource["Properties"]["CodeUri"] / "handler.py"
            for logical_id, resource in sam_template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"}


def test_the_variables_read_from_each_handlers_source_are_those_its_settings_model_declares(sam_template):
    handlers = _handler_files(sam_template)
    assert len(handlers) == len(list(ROOT.glob("functions/*/handler.py")))
    for logical_id, handler in handlers.items():
        module = importlib.import_module(f"functions.{handler.parent.name}.handler")
        assert declared_variables(handler) == set(config.variables(type(module.SETTINGS))), logical_id


def test_only_the_meetings_function_declares_the_booking_platforms_api_bases(sam_template):
    declaring = {logical_id for logical_id, handler in _handler_files(sam_template).items()
                 if {"SIMPLYBOOK_API_BASE", "ACUITY_API_BASE", "SQUARE_API_BASE"} <= declared_variables(handler)}
    assert declaring == {"MeetingsFunction"}


def test_a_handler_without_a_settings_model_declares_nothing_and_an_unknown_concern_is_named(tmp_path):
    plain = tmp_path / "plain.py"
    plain.write_text("def handle(event, context):\n    return event\n")
    assert declared_variables(plain) == frozenset()

    odd = tmp_path / "odd.py"
    odd.write_text("from meetbridge import config\n\nclass OddSettings(config.FunctionSettings, Mystery):\n"
                   "    extra_flag: str = ''\n\nSETTINGS = config.load(OddSettings)\n")
    with pytest.raises(SettingsModelError, match="OddSettings's base Mystery is not a concern of meetbridge.config"):
        declared_variables(odd)

    own = tmp_path / "own.py"
    own.write_text("from meetbridge.config import StoreSettings, load\n\nclass OwnSettings(StoreSettings):\n"
                   "    extra_flag: str = ''\n\nSETTINGS = load(OwnSettings)\n")
    assert declared_variables(own) == {"TABLE_NAME", "EXTRA_FLAG"}


def test_a_booking_platforms_sandbox_starts_for_the_functions_that_declare_its_api_base_and_points_them_at_it():
    meetings = Function({"TABLE_NAME": "t"}, frozenset({"TABLE_NAME", "SIMPLYBOOK_API_BASE", "ACUITY_API_BASE",
                                                         "SQUARE_API_BASE"}))
    join = Function({"TABLE_NAME": "t"}, frozenset({"TABLE_NAME"}))
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
    meetings = Function({}, frozenset({"SIMPLYBOOK_API_BASE", "ACUITY_API_BASE", "SQUARE_API_BASE"}))
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


def test_a_handler_that_does_not_parse_declares_nothing_and_is_left_to_fail_its_own_init(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("SETTINGS = config.load(\n")
    assert declared_variables(broken) == frozenset()
