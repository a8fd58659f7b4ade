"""Each function's settings: the environment variables it needs, declared, validated at cold start, and
the only values shared code reads (no other module of the package reads a function's environment).

A concern (store, sealing, scheduling, Zoom, ...) is a small model of the variables one part of the shared
code needs. Each function's handler composes the concerns its code paths use into its own model, loads it
at import, so a function deployed without one of them fails its init naming the variable, and runs every
invocation under it (``@config.using(JoinSettings)``). Shared code asks for a concern
(``settings(ZoomSettings).zoom_api_base``) and gets the running function's values; a function that did not
declare that concern fails loudly, naming the function and the variables.

Loading is aws-lambda-env-modeler's ``get_environment_variables``: validated once per model and cached for
the container's life. Tests that change variables between tests set ``LAMBDA_ENV_MODELER_DISABLE_CACHE=true``
(the library's own switch), so every read sees the current environment; there is nothing else to reset.
"""

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Annotated, TypeVar

from aws_lambda_env_modeler import get_environment_variables
from pydantic import BaseModel, ConfigDict, Field, ValidationError

# An empty value is as unusable as a missing one.
NonEmpty = Annotated[str, Field(min_length=1)]


class MissingSetting(RuntimeError):
    """A function runs without a variable its code path needs, or reads one it did not declare."""


class Concern(BaseModel):
    """Fields are the lower-case names of the environment variables they are read from."""

    model_config = ConfigDict(frozen=True, alias_generator=str.upper)


class ObservabilitySettings(Concern):
    """Logs and metrics; Powertools reads these itself."""

    # Declared all the same, so every variable the template gives a function is one its model names.

    powertools_service_name: NonEmpty
    powertools_metrics_namespace: NonEmpty
    powertools_log_level: str = 'INFO'


class StoreSettings(Concern):
    """The single table."""

    table_name: NonEmpty


class IdempotencySettings(Concern):
    """Powertools' idempotency records."""

    idempotency_table_name: NonEmpty


class SealingSettings(Concern):
    """The KMS key that seals tenant secrets, tokens and links."""

    kms_key_id: NonEmpty


class EventsSettings(Concern):
    """The bus events are published to."""

    event_bus_name: NonEmpty


class ScheduleGroupSettings(Concern):
    """One-time EventBridge Scheduler schedules: their group, the role they run as and their dead-letter queue."""

    schedule_group: NonEmpty
    scheduler_role_arn: NonEmpty
    scheduler_dlq_arn: NonEmpty


class SchedulingSettings(Concern):
    """Meetings' start schedules, how early they fire, and re-queueing a booking after a provider's daily
    limit."""

    auto_start_function_arn: NonEmpty
    auto_start_lead_seconds: int
    meetings_queue_arn: NonEmpty


class ReminderSettings(Concern):
    """Meetings' reminder schedules: the notifications queue they put each reminder on."""

    notifications_queue_arn: NonEmpty


class StartQueueSettings(Concern):
    """The start queue: a meeting's start request waits there, delayed to the booked second."""

    start_queue_url: NonEmpty


class WaitingSettings(Concern):
    """How long a booking's change may wait for its provider before the admin is told (once)."""

    waiting_notice_seconds: int = 3600


class MeetingsQueueSettings(Concern):
    """The meetings queue: a dead letter is replayed to it; each meeting of a re-homed account, and each meeting a
    health check finds missing at its provider, is a message on it."""

    meetings_queue_url: NonEmpty


class DeadLetterSettings(Concern):
    """The meetings queue's dead-letter queue, for a tenant's dead letters."""

    meetings_dead_letter_queue_url: NonEmpty


class NotificationsDeadLetterSettings(Concern):
    """The notifications queue's dead-letter queue: messages still unsent after their last retry wait there,
    rendered and sealed, for a replay."""

    notifications_dead_letter_queue_url: NonEmpty


class HealthQueueSettings(Concern):
    """The health queue: the hourly tick puts one message per tenant on it, each tenant's message one per OAuth
    account, and each of those is one account's check (its meetings left for lack of time go on as one more)."""

    health_queue_url: NonEmpty


class LinksSettings(Concern):
    """The base of join links (`PublicBaseUrl`, else the API's own URL)."""

    public_base_url: NonEmpty


class EmailSettings(Concern):
    """The SES `Source` address (`SenderEmail`)."""

    sender_email: NonEmpty


class SmsSettings(Concern):
    """The SMS origination identity (`SmsOriginationIdentity`): an E.164 number, or an alphanumeric sender id."""

    sms_origination_identity: NonEmpty


class AlertWebhookSettings(Concern):
    """Whether an alert webhook or a callback may be plain http to this machine (set by the local stack only)."""

    alert_webhook_allow_http_loopback: bool = False


class AlertQueuesSettings(Concern):
    """The alerts queue (the windows' digest schedules put their flush there) and the alert webhooks' queue."""

    alerts_queue_arn: NonEmpty
    alert_webhook_queue_url: NonEmpty


class CallbacksQueueSettings(Concern):
    """The callbacks queue: one message per callback to the booking platform (a replay puts one there again)."""

    callbacks_queue_url: NonEmpty


class ZoomSettings(Concern):
    """The Zoom app's credentials (a Secrets Manager secret, read through Powertools parameters, cached 5
    minutes) and Zoom's endpoints."""

    zoom_client_secret_arn: NonEmpty
    # Zoom's endpoints; the local stack and tests point these at the Zoom sandbox.
    zoom_oauth_base: str = 'https://zoom.us'
    zoom_api_base: str = 'https://api.zoom.us/v2'


class MicrosoftSettings(Concern):
    """The Entra app's credentials (a Secrets Manager secret, cached 5 minutes), the identity authority,
    where its host is served when not itself (the local sandbox only), and Graph."""

    microsoft_client_secret_arn: NonEmpty
    # Work and school accounts only; the origin serves the authority's host elsewhere (the local sandbox).
    microsoft_authority: str = 'https://login.microsoftonline.com/organizations'
    microsoft_authority_origin: str = ''
    graph_base: str = 'https://graph.microsoft.com/v1.0'


class GoogleSettings(Concern):
    """The Google OAuth client's credentials (a Secrets Manager secret, cached 5 minutes), Google's OAuth
    endpoints and the Calendar API."""

    google_client_secret_arn: NonEmpty
    # Google's endpoints; the local stack and tests point these at the Google sandbox.
    google_authorize_url: str = 'https://accounts.google.com/o/oauth2/v2/auth'
    google_token_url: str = 'https://oauth2.googleapis.com/token'
    google_revoke_url: str = 'https://oauth2.googleapis.com/revoke'
    google_calendar_base: str = 'https://www.googleapis.com/calendar/v3'


class BookingPlatformSettings(Concern):
    """The booking platforms' APIs that webhooks carrying only ids are looked up in; the local stack and tests
    point these at the platforms' sandboxes."""

    simplybook_api_base: str = 'https://user-api.simplybook.me'
    acuity_api_base: str = 'https://acuityscheduling.com/api/v1'
    square_api_base: str = 'https://connect.squareup.com'


class FunctionSettings(ObservabilitySettings, StoreSettings, IdempotencySettings, SealingSettings, EventsSettings):
    """What the template's Globals give every function; each function's model starts from it."""


CONCERNS = (ObservabilitySettings, StoreSettings, IdempotencySettings, SealingSettings, EventsSettings,
            ScheduleGroupSettings, SchedulingSettings, ReminderSettings, StartQueueSettings, WaitingSettings,
            MeetingsQueueSettings, DeadLetterSettings, NotificationsDeadLetterSettings, HealthQueueSettings,
            LinksSettings, EmailSettings, SmsSettings, AlertWebhookSettings, AlertQueuesSettings, CallbacksQueueSettings,
            ZoomSettings, MicrosoftSettings, GoogleSettings, BookingPlatformSettings)

FunctionModel = TypeVar('FunctionModel', bound=BaseModel)
ConcernModel = TypeVar('ConcernModel', bound=Concern)

# The model of the function whose code runs in this context (an invocation, or a console command).
_running: ContextVar[type[BaseModel] | None] = ContextVar('meetbridge_function_settings', default=None)


def variables(model: type[BaseModel]) -> list[str]:
    """The environment variables a model reads, in declaration order."""
    return [field.alias or name for name, field in model.model_fields.items()]


def required_variables(model: type[BaseModel]) -> list[str]:
    return [field.alias or name for name, field in model.model_fields.items() if field.is_required()]


def _problems(model: type[BaseModel], error: ValidationError) -> str:
    """Names the variables and what is wrong with them, never their values."""
    problems = []
    for problem in error.errors(include_input=False, include_url=False):
        variable = '.'.join(str(part) for part in problem['loc'])
        problems.append(f'{variable} is not set' if problem['type'] == 'missing' else f'{variable}: {problem["msg"]}')
    return f'{model.__name__}: ' + '; '.join(problems)


def load(model: type[FunctionModel]) -> FunctionModel:
    """The function's settings from the environment (cached); raises MissingSetting naming what is wrong."""
    try:
        return get_environment_variables(model=model)
    except ValueError as exc:
        if isinstance(exc.__cause__, ValidationError):
            raise MissingSetting(_problems(model, exc.__cause__)) from None
        raise


@contextlib.contextmanager
def using(model: type[BaseModel]) -> Iterator[None]:
    """Runs a handler (as a decorator) or a block (as a context) with a function's settings; nests, and is
    per thread and per task, so handlers called one inside another's process each see their own."""
    load(model)
    token = _running.set(model)
    try:
        yield
    finally:
        _running.reset(token)


def settings(concern: type[ConcernModel]) -> ConcernModel:
    """The running function's values for one concern."""
    model = _running.get()
    if model is None:
        raise MissingSetting(f'{", ".join(variables(concern))} read outside any function: run the code under '
                             f'config.using(<the function\'s settings model>)')
    if not issubclass(model, concern):
        raise MissingSetting(f'{model.__name__} does not declare {", ".join(variables(concern))} '
                             f'({concern.__name__}), which this code path reads')
    return load(model)


def placeholder_environment(*models: type[BaseModel]) -> dict[str, str]:
    """A value for each variable the models require, for tools that import a handler without running it."""
    return {field.alias or name: '60' if field.annotation is int else 'placeholder'
            for model in models for name, field in model.model_fields.items() if field.is_required()}
