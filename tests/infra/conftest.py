"""The SAM template as written, and as CloudFormation after the SAM transform, both produced offline.

cfn-lint (>= 1.54) no longer looks at the transformed output, so generated roles, policies and API
routes are only checked here, by running aws-sam-translator locally.
"""

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import intrinsics_multi_constructor

class _TemplateLoader(yaml.SafeLoader):
    """Reads !Ref, !GetAtt, !Sub... as their long forms, without teaching every SafeLoader the tags."""


_TemplateLoader.add_multi_constructor("!", intrinsics_multi_constructor)


class _OfflineManagedPolicyLoader:
    """Stands in for the IAM-backed loader, so the transform needs no credentials or network.

    The translator resolves AWS managed policy names from its bundled map first and only asks this for
    names it does not know, which it then passes through unchanged.
    """

    def load(self) -> dict[str, str]:
        return {}


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def template_path(repo_root: Path) -> Path:
    return repo_root / "template.yaml"


@pytest.fixture(scope="session")
def sam_template(template_path: Path) -> dict[str, Any]:
    return yaml.load(template_path.read_text(), Loader=_TemplateLoader)


@pytest.fixture(scope="session")
def cfn_resources(sam_template: dict[str, Any]) -> dict[str, Any]:
    packaged = copy.deepcopy(sam_template)
    # The translator accepts only S3 code locations, as `sam package` would have written them.
    for resource in packaged["Resources"].values():
        properties = resource.get("Properties", {})
        for uri_property in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(uri_property), str):
                properties[uri_property] = f"s3://artifacts/{properties[uri_property]}"
    with pytest.MonkeyPatch.context() as env:
        # The translator reads the region (for the partition) from a boto3 session; no credentials are used.
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.delenv("AWS_PROFILE", raising=False)
        return transform(packaged, {}, _OfflineManagedPolicyLoader())["Resources"]
