"""Each function's execution role, enforced in its worker process."""

from __future__ import annotations

from pathlib import Path


def function_statements(template_path: Path, logical_id: str) -> list[dict]:
    """The function's execution-role policy statements after the SAM transform
    (policy templates like DynamoDBCrudPolicy expanded), intrinsics NOT resolved."""
    return []


def install_guard(principal_arn: str, statements: list[dict]) -> None:
    """Process-wide: every botocore call made afterwards (boto3, pynamodb, Powertools)
    is checked against these statements (intrinsics resolved to physical ARNs); a call
    they do not allow raises botocore ClientError with AWS's AccessDenied code."""
