"""The variables a function's handler declares, read from its source without importing it.

A meetbridge handler declares its settings as ``SETTINGS = config.load(<Model>)``, the model a class of the
handler module composed of ``meetbridge.config``'s concerns. The stack needs those variable names before
any worker starts (to know which sandboxes to start, and which functions to point at them), and a setting
with a default, such as ``SIMPLYBOOK_API_BASE``, is in no template environment. Importing the handler
here would run its init in the stack's process (its AWS clients, its settings read from this process's
environment), so the model's class is read from the source and its concerns are looked up in
``meetbridge.config``.
"""

from __future__ import annotations

import ast
from pathlib import Path


class SettingsModelError(Exception):
    pass


def declared_variables(handler_file: Path) -> frozenset[str]:
    """The environment variables the handler's settings model reads (none for a handler without one)."""
    try:
        tree = ast.parse(handler_file.read_text(), str(handler_file))
    except SyntaxError:
        return frozenset()  # its init fails by itself, reported on its invocations as on Lambda
    model_name = _loaded_model(tree)
    if model_name is None:
        return frozenset()
    model = next((node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == model_name), None)
    if model is None:
        raise SettingsModelError(f"{handler_file}: SETTINGS loads {model_name}, which is not a class of the module")
    from meetbridge import config

    variables: set[str] = set()
    for base in model.bases:
        # FunctionSettings, or config.FunctionSettings
        name = base.id if isinstance(base, ast.Name) else base.attr if isinstance(base, ast.Attribute) else None
        concern = getattr(config, name, None) if name else None
        if not (isinstance(concern, type) and issubclass(concern, config.Concern)):
            raise SettingsModelError(f"{handler_file}: {model_name}'s base {ast.unparse(base)} is not a concern "
                                     "of meetbridge.config")
        variables.update(config.variables(concern))
    # Fields of the model's own: Concern's alias generator upper-cases them.
    variables.update(statement.target.id.upper() for statement in model.body
                     if isinstance(statement, ast.AnnAssign) and isinstance(statement.target, ast.Name))
    return frozenset(variables)


def _loaded_model(tree: ast.Module) -> str | None:
    """``X`` of the module's ``SETTINGS = config.load(X)`` (or ``load(X)``)."""
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)
                and any(isinstance(target, ast.Name) and target.id == "SETTINGS" for target in node.targets)):
            continue
        callee, args = node.value.func, node.value.args
        called = callee.id if isinstance(callee, ast.Name) else callee.attr if isinstance(callee, ast.Attribute) else None
        if called == "load" and len(args) == 1 and isinstance(args[0], ast.Name):
            return args[0].id
    return None
