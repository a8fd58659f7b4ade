"""EventBridge Scheduler target: starts a meeting on the booked second."""

from datetime import datetime

from aws_lambda_powertools.utilities.idempotency import idempotent_function
from pydantic import BaseModel

from meetbridge import config, idempotency
from meetbridge.config import FunctionSettings
from meetbridge.domain.model import Instant
from meetbridge.logic import starting
from meetbridge.observability import logger, metrics


class AutoStartSettings(FunctionSettings):
    """Marks the meeting started and publishes it."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(AutoStartSettings)


class StartRequest(BaseModel):
    """The schedule's Input, written by meetbridge.scheduling."""

    tenant_id: str
    meeting_key: str
    start: Instant  # one instant, one idempotency key, whatever offset wrote it
    scheduled_time: str | None = None
    execution_id: str | None = None


ONCE = idempotency.config(key='[tenant_id, meeting_key, start]', expires_after_seconds=24 * 3600)


@idempotent_function(data_keyword_argument='request', config=ONCE, persistence_store=idempotency.store())
def start_once(request: dict) -> dict:
    outcome = starting.start_on_time(request['tenant_id'], request['meeting_key'], datetime.fromisoformat(request['start']))
    logger.info('auto start', extra={'tenant_id': request['tenant_id'], 'meeting_key': request['meeting_key'],
                                     'outcome': outcome})
    return {'outcome': outcome}


@config.using(AutoStartSettings)
@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context) -> dict:
    ONCE.register_lambda_context(context)
    request = StartRequest.model_validate(event)
    return start_once(request=request.model_dump(mode='json', include={'tenant_id', 'meeting_key', 'start'}))
