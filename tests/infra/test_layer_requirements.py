import tomllib


def test_layer_requirements_match_pyproject_dependencies(repo_root):
    # The layer ships exactly the project's runtime dependencies, no more and no fewer.
    dependencies = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]["dependencies"]
    requirements_file = repo_root / "layers" / "shared" / "requirements.txt"
    requirements = [
        line.strip()
        for line in requirements_file.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert requirements == dependencies, f"{requirements_file} is stale: run `make layer-requirements`"
