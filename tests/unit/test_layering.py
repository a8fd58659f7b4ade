"""The package's layers depend one way: logic -> providers -> store."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / 'layers' / 'shared' / 'meetbridge'


def _imported_modules(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f'{node.module}.{alias.name}' for alias in node.names)
    return found


def _imports_of(layer: str) -> dict[str, set[str]]:
    return {path.name: _imported_modules(path) for path in sorted((PACKAGE / layer).glob('*.py'))}


def test_providers_import_nothing_from_logic():
    imports = _imports_of('providers')
    assert {'zoom.py', 'microsoft.py', 'custom_link.py'} <= set(imports)
    offending = {name: sorted(m for m in found if m.startswith('meetbridge.logic'))
                 for name, found in imports.items()}
    assert {name: found for name, found in offending.items() if found} == {}


def test_the_store_imports_neither_logic_nor_providers():
    offending = {name: sorted(m for m in found if m.startswith(('meetbridge.logic', 'meetbridge.providers')))
                 for name, found in _imports_of('store').items()}
    assert {name: found for name, found in offending.items() if found} == {}


def test_the_check_sees_an_import_from_logic(tmp_path):
    module = tmp_path / 'adapter.py'
    module.write_text('from meetbridge.logic import tokens\nimport meetbridge.logic.links\n')
    assert {'meetbridge.logic', 'meetbridge.logic.tokens', 'meetbridge.logic.links'} <= _imported_modules(module)
