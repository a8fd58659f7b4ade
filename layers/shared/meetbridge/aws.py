"""AWS clients, created once per container and only when a code path needs them.

botocore directly rather than boto3: boto3 adds nothing used here and its import (s3transfer)
costs every cold start tens of milliseconds.
"""

import functools

import botocore.session
from botocore.config import Config

_RETRIES = Config(retries={'mode': 'standard', 'max_attempts': 4}, connect_timeout=3, read_timeout=10)
# SES and SNS answer a send in a fraction of a second; one that hangs is given up quickly, and the message is sent
# again later from its queue rather than holding up the rest of a batch.
MESSAGING = Config(retries={'mode': 'standard', 'max_attempts': 2}, connect_timeout=1, read_timeout=3)
# EventBridge answers PutEvents in tens of milliseconds. A webhook publishes before it answers, so a bus that
# hangs is given up well within the function's timeout (two attempts of at most 1 s + 2 s) and the webhook
# answers 503 for its platform to send it again, never a timeout after the event may have been taken.
PUBLISHING = Config(retries={'mode': 'standard', 'total_max_attempts': 2}, connect_timeout=1, read_timeout=2)
# The webhook's own DynamoDB writes (its claim, take-over, release and mark) are bounded as its publish is: the
# claim and the publish together (2 x 3 s each at worst) end well within its 20 s timeout and its claim's lease, so
# the webhook answers rather than times out (pynamodb's reads keep their own defaults: they come before the claim).
CLAIMING = Config(retries={'mode': 'standard', 'total_max_attempts': 2}, connect_timeout=1, read_timeout=2)
_CONFIGS = {'ses': MESSAGING, 'sns': MESSAGING, 'events': PUBLISHING}


@functools.cache
def _session() -> botocore.session.Session:
    return botocore.session.get_session()


@functools.cache
def client(service: str, config: Config | None = None):
    """The service's client, with `config` when a caller's calls need other bounds than the service's own."""
    # The region is botocore's own choice (AWS_DEFAULT_REGION, which Lambda sets), as for every other client.
    return _session().create_client(service, config=config or _CONFIGS.get(service, _RETRIES))


def reset_clients() -> None:
    """Drops cached clients (tests switch endpoints and credentials between runs)."""
    client.cache_clear()
    _session.cache_clear()
