"""Settings read once from the environment; the only module that reads os.environ."""

import functools
import os

from pydantic import BaseModel


class MissingSetting(RuntimeError):
    """A function was deployed without an environment variable its code path needs."""


class Settings(BaseModel, frozen=True):
    table_name: str = ''
    idempotency_table_name: str = ''
    kms_key_id: str = ''
    event_bus_name: str = ''
    public_base_url: str = ''
    schedule_group: str = ''
    scheduler_role_arn: str = ''
    scheduler_dlq_arn: str = ''
    auto_start_function_arn: str = ''
    meetings_queue_arn: str = ''
    auto_start_lead_seconds: int = 60
    sender_email: str = ''
    zoom_client_secret_arn: str = ''
    # Zoom's endpoints; the local stack and tests point these at the Zoom sandbox.
    zoom_oauth_base: str = 'https://zoom.us'
    zoom_api_base: str = 'https://api.zoom.us/v2'
    microsoft_client_secret_arn: str = ''
    # Work and school accounts only; the origin serves the authority's host elsewhere (the local sandbox).
    microsoft_authority: str = 'https://login.microsoftonline.com/organizations'
    microsoft_authority_origin: str = ''
    graph_base: str = 'https://graph.microsoft.com/v1.0'
    region: str = 'us-east-1'

    def require(self, name: str) -> str:
        value = getattr(self, name)
        if not value:
            raise MissingSetting(f'{name.upper()} is not set')
        return value


@functools.cache
def settings() -> Settings:
    env = os.environ
    fields = {name: env[name.upper()] for name in Settings.model_fields if name.upper() in env}
    fields['region'] = env.get('AWS_REGION') or env.get('AWS_DEFAULT_REGION') or 'us-east-1'
    return Settings(**fields)
