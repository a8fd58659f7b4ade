from cfnlint.api import ManualArgs, lint_file


def test_cfn_lint_reports_nothing(template_path):
    matches = lint_file(template_path, config=ManualArgs(regions=["us-east-1"]))
    assert [str(match) for match in matches] == []
