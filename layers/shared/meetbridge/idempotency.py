"""Powertools idempotency, used by every consumer: a repeated delivery returns the first result."""

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

from meetbridge.config import IdempotencySettings, settings


class _RunningFunctionsTable(DynamoDBPersistenceLayer):
    """Built at import, when Powertools' decorator takes it, so the table is the running function's
    IDEMPOTENCY_TABLE_NAME read at each use instead."""

    @property
    def table_name(self) -> str:
        return settings(IdempotencySettings).idempotency_table_name

    @table_name.setter
    def table_name(self, _: str) -> None:
        """Powertools' __init__ assigns the name it is given; the property above is the one used."""


def store() -> DynamoDBPersistenceLayer:
    """One per idempotent function: a persistence layer keeps the key settings of the first function
    that uses it, so sharing one between functions with different keys would mix their keys."""
    return _RunningFunctionsTable(table_name='')


def config(key: str, expires_after_seconds: int, payload_validation: str | None = None) -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath=key,
        payload_validation_jmespath=payload_validation,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=expires_after_seconds,
    )
