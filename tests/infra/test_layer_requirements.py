import tomllib


def test_layer_requirements_match_pyproject_dependencies(repo_root):
    # The layer ships exactly the project's runtime dependencies; regenerate with `make layer-requirements`.
    dependencies = tomllib.loads((repo_root / "pyproject.toml").read_text())["project"]["dependencies"]
    requirements_file = repo_root / "layers" / "shared" / "requirements.txt"
    requirements = [
        line.strip()
        for line in requirements_file.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert requirements == dependencies
