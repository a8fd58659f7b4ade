"""Powertools idempotency, used by every consumer: a repeated delivery returns the first result."""

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

from meetbridge.config import settings


def store() -> DynamoDBPersistenceLayer:
    """One per idempotent function: a persistence layer keeps the key settings of the first function
    that uses it, so sharing one between functions with different keys would mix their keys."""
    return DynamoDBPersistenceLayer(table_name=settings().require('idempotency_table_name'))


def config(key: str, expires_after_seconds: int, payload_validation: str | None = None) -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath=key,
        payload_validation_jmespath=payload_validation,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=expires_after_seconds,
    )
