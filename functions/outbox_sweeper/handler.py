"""Every minute: publishes the events a state change wrote but could not put on the bus (meetbridge.outbox)."""

from datetime import UTC, datetime

from meetbridge import config, outbox
from meetbridge.config import FunctionSettings
from meetbridge.observability import logger, metrics


class OutboxSweeperSettings(FunctionSettings):
    """Reads the outbox and publishes what is left in it."""


# Cold start: a function deployed without one of its variables fails its init, naming it.
SETTINGS = config.load(OutboxSweeperSettings)


@config.using(OutboxSweeperSettings)
@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict, context) -> dict:
    published = outbox.sweep(datetime.now(UTC))
    if published:
        logger.info('outbox swept', extra={'published': published})
    metrics.add_metric(name='OutboxEventsSwept', unit='Count', value=published)
    return {'published': published}
