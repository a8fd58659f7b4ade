"""Reading template.yaml: CloudFormation short tags, parameters, conditions, intrinsics, SAM globals.

Only what a local run needs. Resource *values* (``Ref``/``Fn::GetAtt`` of a resource) come from a
``ResourceResolver`` (the provisioner), so this module knows nothing about moto.
"""

from __future__ import annotations

import base64
import copy
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import yaml

STACK_NAME = "meetbridge"
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"


class TemplateError(Exception):
    """The template uses something the local stack cannot resolve."""


# --- YAML with CloudFormation short tags ---------------------------------------------------------


class CfnLoader(yaml.SafeLoader):
    """A SafeLoader that turns ``!Ref x`` into ``{"Ref": "x"}``, ``!Sub s`` into ``{"Fn::Sub": s}`` ..."""


def _construct_tag(loader: CfnLoader, tag_suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "Condition":
        return {"Condition": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        resource, _, attribute = value.partition(".")
        return {"Fn::GetAtt": [resource, attribute]}
    return {f"Fn::{tag_suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    if not isinstance(data, dict) or "Resources" not in data:
        raise TemplateError(f"{path} is not a CloudFormation template (no Resources)")
    return data


# --- the template model --------------------------------------------------------------------------


def _merge_globals(globals_: Any, props: Any) -> Any:
    """SAM's Globals rule: maps merge (the resource wins), lists concatenate, scalars are replaced."""
    if isinstance(globals_, dict) and isinstance(props, dict):
        merged = dict(globals_)
        for key, value in props.items():
            merged[key] = _merge_globals(globals_[key], value) if key in globals_ else value
        return merged
    if isinstance(globals_, list) and isinstance(props, list):
        return list(globals_) + list(props)
    return props


@dataclass
class Template:
    path: Path
    data: dict[str, Any]
    stack_name: str = STACK_NAME
    parameter_overrides: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path, *, parameter_overrides: dict[str, str] | None = None) -> Template:
        path = Path(path).resolve()
        return cls(path=path, data=load_yaml(path), parameter_overrides=dict(parameter_overrides or {}))

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.data.get("Resources") or {}

    def resource(self, logical_id: str) -> dict[str, Any]:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise TemplateError(f"no resource {logical_id!r} in {self.path.name}") from None

    def resource_type(self, logical_id: str) -> str:
        return self.resource(logical_id).get("Type", "")

    def of_type(self, *types: str) -> list[str]:
        return [lid for lid, res in self.resources.items() if res.get("Type") in types]

    def properties(self, logical_id: str) -> dict[str, Any]:
        """The resource's raw (unresolved) Properties, with SAM Globals merged in for functions."""
        res = self.resource(logical_id)
        props = copy.deepcopy(res.get("Properties") or {})
        globals_section = {
            "AWS::Serverless::Function": "Function",
            "AWS::Serverless::HttpApi": "HttpApi",
            "AWS::Serverless::Api": "Api",
            "AWS::Serverless::SimpleTable": "SimpleTable",
            "AWS::Serverless::StateMachine": "StateMachine",
            "AWS::Serverless::LayerVersion": "LayerVersion",
        }.get(res.get("Type", ""))
        if globals_section:
            defaults = copy.deepcopy((self.data.get("Globals") or {}).get(globals_section) or {})
            props = _merge_globals(defaults, props)
        return props

    def parameter_values(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, spec in (self.data.get("Parameters") or {}).items():
            spec = spec or {}
            if name in self.parameter_overrides:
                raw: Any = self.parameter_overrides[name]
            elif "Default" in spec:
                raw = spec["Default"]
            else:
                raise TemplateError(f"parameter {name} has no Default; pass --parameter {name}=VALUE")
            ptype = str(spec.get("Type", "String"))
            if ptype.startswith("List<") or ptype == "CommaDelimitedList":
                values[name] = raw if isinstance(raw, list) else [s.strip() for s in str(raw).split(",")]
            else:
                values[name] = _scalar_str(raw)
        unknown = set(self.parameter_overrides) - set(values)
        if unknown:
            raise TemplateError(f"unknown template parameter(s): {', '.join(sorted(unknown))}")
        return values


def _scalar_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- intrinsic functions -------------------------------------------------------------------------


class ResourceResolver(Protocol):
    def ref(self, logical_id: str) -> Any: ...

    def get_att(self, logical_id: str, attribute: str) -> Any: ...


_NO_VALUE = object()
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


class Resolver:
    """Evaluates intrinsics. Resource references are delegated to ``resources``."""

    def __init__(self, template: Template, resources: ResourceResolver):
        self.template = template
        self.resources = resources
        self.parameters = template.parameter_values()
        self._conditions: dict[str, bool] = {}
        self._evaluating: set[str] = set()

    # pseudo parameters
    def pseudo(self, name: str) -> Any:
        return {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": self.template.stack_name,
            "AWS::StackId": f"arn:{PARTITION}:cloudformation:{REGION}:{ACCOUNT_ID}:stack/"
            f"{self.template.stack_name}/00000000-0000-0000-0000-000000000000",
            "AWS::Partition": PARTITION,
            "AWS::URLSuffix": URL_SUFFIX,
            "AWS::NotificationARNs": [],
            "AWS::NoValue": _NO_VALUE,
        }.get(name, None)

    def condition(self, name: str) -> bool:
        if name in self._conditions:
            return self._conditions[name]
        conditions = self.template.data.get("Conditions") or {}
        if name not in conditions:
            raise TemplateError(f"unknown condition {name!r}")
        if name in self._evaluating:
            raise TemplateError(f"condition {name!r} refers to itself")
        self._evaluating.add(name)
        try:
            value = self._truth(conditions[name])
        finally:
            self._evaluating.discard(name)
        self._conditions[name] = value
        return value

    def _truth(self, expr: Any) -> bool:
        value = self.resolve(expr)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise TemplateError(f"condition did not evaluate to a boolean: {expr!r}")

    def resource_enabled(self, logical_id: str) -> bool:
        cond = self.template.resource(logical_id).get("Condition")
        return True if cond is None else self.condition(cond)

    def resolve(self, value: Any) -> Any:
        result = self._resolve(value)
        return None if result is _NO_VALUE else result

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            items = [self._resolve(v) for v in value]
            return [v for v in items if v is not _NO_VALUE]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            (key, arg), = value.items()
            if key == "Ref":
                return self._ref(arg)
            if key == "Condition" and isinstance(arg, str):
                return self.condition(arg)
            if key.startswith("Fn::"):
                return self._fn(key[4:], arg)
        out = {}
        for k, v in value.items():
            r = self._resolve(v)
            if r is not _NO_VALUE:
                out[k] = r
        return out

    def _ref(self, name: Any) -> Any:
        name = self._resolve(name)
        if not isinstance(name, str):
            raise TemplateError(f"Ref to a non-name: {name!r}")
        if name.startswith("AWS::"):
            value = self.pseudo(name)
            if value is None:
                raise TemplateError(f"unknown pseudo parameter {name}")
            return value
        if name in self.parameters:
            return self.parameters[name]
        if name in self.template.resources:
            if not self.resource_enabled(name):
                raise TemplateError(f"Ref to {name}, whose Condition is false")
            return self.resources.ref(name)
        raise TemplateError(f"Ref to unknown name {name!r}")

    def _get_att(self, arg: Any) -> Any:
        arg = self._resolve(arg)
        if isinstance(arg, str):
            arg = arg.split(".", 1)
        if not (isinstance(arg, list) and len(arg) == 2):
            raise TemplateError(f"bad Fn::GetAtt argument {arg!r}")
        logical_id, attribute = arg
        if logical_id not in self.template.resources:
            raise TemplateError(f"Fn::GetAtt of unknown resource {logical_id!r}")
        if not self.resource_enabled(logical_id):
            raise TemplateError(f"Fn::GetAtt of {logical_id}, whose Condition is false")
        return self.resources.get_att(logical_id, attribute)

    def _sub(self, arg: Any) -> str:
        if isinstance(arg, list):
            text, variables = arg[0], self._resolve(arg[1]) or {}
        else:
            text, variables = arg, {}
        if not isinstance(text, str):
            raise TemplateError(f"bad Fn::Sub argument {arg!r}")

        def replace(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr.startswith("!"):
                return "${" + expr[1:] + "}"
            if expr in variables:
                return _scalar_str(variables[expr])
            if "." in expr and not expr.startswith("AWS::"):
                return _scalar_str(self._get_att(expr.split(".", 1)))
            return _scalar_str(self._ref(expr))

        return _SUB_VAR.sub(replace, text)

    def _fn(self, name: str, arg: Any) -> Any:
        if name == "GetAtt":
            return self._get_att(arg)
        if name == "Sub":
            return self._sub(arg)
        if name == "If":
            cond, when_true, when_false = arg
            return self._resolve(when_true if self.condition(cond) else when_false)
        if name == "Equals":
            a, b = (self._resolve(x) for x in arg)
            return _scalar_str(a) == _scalar_str(b)
        if name == "Not":
            (inner,) = arg
            return not self._truth(inner)
        if name == "And":
            return all(self._truth(x) for x in arg)
        if name == "Or":
            return any(self._truth(x) for x in arg)
        if name == "Join":
            sep, items = arg[0], self._resolve(arg[1])
            return str(sep).join(_scalar_str(x) for x in items)
        if name == "Select":
            index, items = self._resolve(arg[0]), self._resolve(arg[1])
            return items[int(index)]
        if name == "Split":
            sep, text = arg[0], self._resolve(arg[1])
            return str(text).split(str(sep))
        if name == "FindInMap":
            map_name, top, second = (self._resolve(x) for x in arg[:3])
            return (self.template.data.get("Mappings") or {})[map_name][top][second]
        if name == "Base64":
            return base64.b64encode(str(self._resolve(arg)).encode()).decode()
        if name == "GetAZs":
            return [f"{REGION}{z}" for z in "abc"]
        if name == "ToJsonString":
            return json.dumps(self._resolve(arg), separators=(",", ":"))
        if name == "Length":
            return len(self._resolve(arg))
        raise TemplateError(f"Fn::{name} is not supported by the local stack")
