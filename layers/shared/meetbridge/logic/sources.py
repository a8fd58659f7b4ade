"""A tenant's booking platforms: their settings (keys sealed, never answered), the services and providers
their webhooks name, and the platform booking ids tied to our bookings."""

from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from meetbridge import aws
from meetbridge.config import StoreSettings, settings
from meetbridge.errors import InvalidInput, NotFound
from meetbridge.sources.base import NewProvider, NewService, invalid_input_from
from meetbridge.sources.settings import SETTINGS_MODELS, SourceSettings
from meetbridge.store import repository
from meetbridge.store.models import ExternalBookingItem, ProviderItem, ServiceItem, SourceItem


def _model(source: str) -> type[SourceSettings]:
    try:
        return SETTINGS_MODELS[source]
    except KeyError:
        raise NotFound(f'unknown booking source {source!r}; sources are: {", ".join(SETTINGS_MODELS)}') from None


def _seal_context(tenant_id: str, source: str) -> tuple[str, str, str]:
    return tenant_id, 'source', source


def webhook_url(api_base: str, source: str, tenant_id: str) -> str:
    return f'{api_base}/webhooks/{source}/{tenant_id}'


def _answer(source: str, tenant_id: str, api_base: str, shown: dict[str, Any]) -> dict[str, Any]:
    flags = {f'has_{name}': True for name in _model(source).secret_fields()}
    return {'source': source, 'webhook_url': webhook_url(api_base, source, tenant_id), **shown, **flags}


def put_source(tenant_id: str, source: str, body: Any, api_base: str) -> dict[str, Any]:
    model = _model(source)
    if not isinstance(body, dict):
        raise InvalidInput('the body must be a JSON object')
    try:
        configured = model.model_validate(body)
    except ValidationError as exc:
        raise invalid_input_from(exc) from None
    secrets = {name: getattr(configured, name).get_secret_value() for name in model.secret_fields()}
    shown = configured.model_dump(exclude=set(secrets))
    SourceItem(*SourceItem.key(tenant_id, source), source=source, settings=shown, updated_at=datetime.now(UTC),
               secret_sealed=repository.seal_json(secrets, *_seal_context(tenant_id, source)) if secrets else None
               ).save()
    return _answer(source, tenant_id, api_base, shown)


def _item(tenant_id: str, source: str) -> SourceItem:
    _model(source)
    item = repository.find(SourceItem, SourceItem.key(tenant_id, source))
    if item is None:
        raise NotFound(f'the source {source!r} is not configured for this tenant')
    return item


def get_source(tenant_id: str, source: str, api_base: str) -> dict[str, Any]:
    return _answer(source, tenant_id, api_base, _item(tenant_id, source).settings.as_dict())


def delete_source(tenant_id: str, source: str, api_base: str) -> dict[str, Any]:
    """Its webhooks are answered 404 from now on; the bookings they made stay."""
    answer = get_source(tenant_id, source, api_base)
    SourceItem(*SourceItem.key(tenant_id, source)).delete()
    return answer


def settings_of(tenant_id: str, source: str) -> SourceSettings:
    """The source's settings with its keys opened, for verifying its webhooks and calling its API."""
    item = _item(tenant_id, source)
    secrets = repository.unseal_json(item.secret_sealed, *_seal_context(tenant_id, source)) if item.secret_sealed else {}
    return _model(source).model_validate({**item.settings.as_dict(), **secrets})


def _put_new(item) -> None:
    """Writes the item unless one with its key exists: what the admin set is never overwritten by a webhook."""
    try:
        aws.client('dynamodb').put_item(TableName=settings(StoreSettings).table_name, Item=item.serialize(),
                                        ConditionExpression='attribute_not_exists(pk)')
    except ClientError as error:
        if error.response['Error']['Code'] != 'ConditionalCheckFailedException':
            raise


def register_first_seen(tenant_id: str, services: list[NewService], providers: list[NewProvider], online: bool) -> None:
    now = datetime.now(UTC)
    for service in services:
        _put_new(ServiceItem(*ServiceItem.key(tenant_id, service.id), service_id=service.id, name=service.name,
                             online=online, kind='appointment', updated_at=now))
    for provider in providers:
        _put_new(ProviderItem(*ProviderItem.key(tenant_id, provider.id), provider_id=provider.id, name=provider.name,
                              email=provider.email, timezone=provider.timezone, updated_at=now))


def known_booking(tenant_id: str, source: str, external_id: str) -> str | None:
    item = repository.find(ExternalBookingItem, ExternalBookingItem.key(tenant_id, source, external_id))
    return item and item.booking_id


def booking_id_for(tenant_id: str, source: str, external_id: str) -> str:
    """Our booking id for a platform's booking id (any id a reschedule gave it); the generic source's ids are
    ours as sent."""
    if source == 'generic':
        return external_id
    _model(source)
    booking_id = known_booking(tenant_id, source, external_id)
    if booking_id is None:
        raise NotFound('booking not found')
    return booking_id


def record_external_ids(tenant_id: str, source: str, external_ids: dict[str, str]) -> None:
    now = datetime.now(UTC)
    for external_id, booking_id in external_ids.items():
        _put_new(ExternalBookingItem(*ExternalBookingItem.key(tenant_id, source, external_id), source=source,
                                     external_id=external_id, booking_id=booking_id, created_at=now))
