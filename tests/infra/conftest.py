"""The SAM template as written, and as CloudFormation after the SAM transform, both produced offline.

cfn-lint (>= 1.54) no longer looks at the transformed output, so generated roles, policies and API
routes are only checked here, by running aws-sam-translator locally (infra/local/iam.py, which the
local stack also uses for each function's policies).
"""

import copy
from pathlib import Path
from typing import Any

import pytest

from infra.local import iam


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def template_path(repo_root: Path) -> Path:
    return repo_root / "template.yaml"


@pytest.fixture(scope="session")
def sam_template(template_path: Path) -> dict[str, Any]:
    return iam.sam_template(template_path)


@pytest.fixture(scope="session")
def cfn_resources(template_path: Path) -> dict[str, Any]:
    return copy.deepcopy(iam.transformed_resources(template_path))
