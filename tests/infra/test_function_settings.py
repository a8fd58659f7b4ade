"""Each function's settings model (declared by its handler) against the variables template.yaml gives it.

A variable the model requires and the template does not set would fail the function's init on AWS; a
variable the template sets and the model does not declare is one no code path reads.
"""

import importlib
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from meetbridge import config
from meetbridge.config import FunctionSettings, MissingSetting

ROOT = Path(__file__).resolve().parents[2]


def _functions(sam_template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {logical_id: resource["Properties"] for logical_id, resource in sam_template["Resources"].items()
            if resource["Type"] == "AWS::Serverless::Function"}


def _handler_module(properties: dict[str, Any]) -> str:
    """functions/join + handler.lambda_handler -> functions.join.handler"""
    return ".".join([*Path(properties["CodeUri"]).parts, properties["Handler"].rsplit(".", 1)[0]])


def _settings_model(properties: dict[str, Any]) -> type[BaseModel]:
    return type(importlib.import_module(_handler_module(properties)).SETTINGS)


def _variables(sam_template: dict[str, Any], properties: dict[str, Any]) -> set[str]:
    """What Lambda sets for the function from the template: the Globals' variables and its own."""
    globals_ = sam_template["Globals"]["Function"].get("Environment", {}).get("Variables", {})
    return set(globals_) | set(properties.get("Environment", {}).get("Variables", {}))


def _each_function(sam_template: dict[str, Any]):
    return [(logical_id, properties) for logical_id, properties in sorted(_functions(sam_template).items())]


def test_every_function_of_the_template_is_checked(sam_template):
    modules = {_handler_module(properties) for _, properties in _each_function(sam_template)}
    assert modules == {f"functions.{path.parent.name}.handler" for path in ROOT.glob("functions/*/handler.py")}


def test_the_template_sets_every_variable_a_function_requires(sam_template):
    missing = {logical_id: sorted(set(config.required_variables(_settings_model(properties)))
                                  - _variables(sam_template, properties))
               for logical_id, properties in _each_function(sam_template)}
    assert {logical_id: names for logical_id, names in missing.items() if names} == {}


def test_every_variable_the_template_sets_is_one_the_function_declares(sam_template):
    unused = {logical_id: sorted(_variables(sam_template, properties)
                                 - set(config.variables(_settings_model(properties))))
              for logical_id, properties in _each_function(sam_template)}
    assert {logical_id: names for logical_id, names in unused.items() if names} == {}


def test_every_function_starts_from_what_the_globals_give_it(sam_template):
    for logical_id, properties in _each_function(sam_template):
        assert issubclass(_settings_model(properties), FunctionSettings), logical_id


def test_a_function_without_any_one_of_its_required_variables_fails_to_load_naming_it(sam_template, monkeypatch):
    for logical_id, properties in _each_function(sam_template):
        model = _settings_model(properties)
        for variable in config.required_variables(model):
            with monkeypatch.context() as env:
                env.delenv(variable)
                with pytest.raises(MissingSetting) as raised:
                    config.load(model)
            assert str(raised.value) == f"{model.__name__}: {variable} is not set", logical_id


def _own_variable(model: type[BaseModel]) -> str:
    """The function's first variable beyond the Globals' (the Globals' first when it has none)."""
    own = [name for name in config.required_variables(model) if name not in config.variables(FunctionSettings)]
    return (own or config.required_variables(model))[0]


@pytest.mark.parametrize("function", ["booking_webhook", "oauth", "meetings", "auto_start", "notifications", "join",
                                      "admin", "health"])
def test_importing_a_handler_without_a_required_variable_fails_its_init_naming_it(function):
    """As Lambda's cold start would: a fresh interpreter imports the handler module."""
    model = type(importlib.import_module(f"functions.{function}.handler").SETTINGS)
    variable = _own_variable(model)
    environment = {name: value for name, value in os.environ.items() if name != variable}
    started = subprocess.run([sys.executable, "-c", f"import functions.{function}.handler"], cwd=ROOT,
                             env=environment, capture_output=True, text=True, timeout=60)
    assert started.returncode == 1
    assert started.stderr.strip().splitlines()[-1] == (
        f"meetbridge.config.MissingSetting: {model.__name__}: {variable} is not set")


def _configuration_table(sam_template: dict[str, Any]) -> str:
    """README.md's table, from the concerns and the functions whose models declare them."""
    functions = {Path(properties["CodeUri"]).name: _settings_model(properties)
                 for _, properties in _each_function(sam_template)}
    rows = ["| Variables | Used for | Functions that need them |", "|---|---|---|"]
    for concern in config.CONCERNS:
        variables = []
        for field in concern.model_fields.values():
            default = "" if field.is_required() else f" (default `{field.default}`)" if field.default else " (optional)"
            variables.append(f"`{field.alias}`{default}")
        users = sorted(name for name, model in functions.items() if issubclass(model, concern))
        rows.append(f"| {', '.join(variables)} | {' '.join(concern.__doc__.split())} | "
                    f"{'every function' if len(users) == len(functions) else ', '.join(users)} |")
    return "\n".join(rows) + "\n"


def test_the_readme_lists_what_each_function_needs(sam_template):
    table = _configuration_table(sam_template)
    assert table in (ROOT / "README.md").read_text(), f"README.md's configuration table is stale; it is now:\n{table}"
