"""boto3 clients, created once per container and only when a code path needs them."""

import functools

import boto3
from botocore.config import Config

from meetbridge.config import settings

_RETRIES = Config(retries={'mode': 'standard', 'max_attempts': 4}, connect_timeout=3, read_timeout=10)


@functools.cache
def client(service: str):
    return boto3.client(service, region_name=settings().region, config=_RETRIES)


def reset_clients() -> None:
    """Drops cached clients (tests switch endpoints and credentials between runs)."""
    client.cache_clear()
