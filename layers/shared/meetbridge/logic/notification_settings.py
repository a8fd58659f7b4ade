"""A tenant's notification settings: SMS, hidden links, the default language and the SMS length limit."""

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from meetbridge.notify import locales
from meetbridge.store import repository
from meetbridge.store.models import TenantItem

MAX_SMS_SEGMENTS = 10
HiddenLinkText = Annotated[str, Field(min_length=1, max_length=300)]


def _locale(tag: str) -> str:
    return locales.normalize(tag)  # its ValueError names what is wrong; pydantic answers it as a 400


Locale = Annotated[str, Field(max_length=locales.MAX_TAG_CHARS), AfterValidator(_locale)]


class NotificationSettings(BaseModel):
    """As a tenant's messages are sent; every field has its default until the tenant sets it."""

    model_config = ConfigDict(frozen=True, extra='forbid')

    sms: bool = False  # an SMS beside the email, to a client with a phone number
    links_in_messages: bool = True  # False: a client's messages say where the link is instead of showing it
    hidden_link_text: HiddenLinkText | None = None  # None: the built-in sentence in the recipient's language
    default_locale: Locale = 'en'  # the language of a client who has none, and of providers
    sms_max_segments: Annotated[int, Field(ge=1, le=MAX_SMS_SEGMENTS)] = 2  # an SMS template longer is refused


class NotificationSettingsIn(BaseModel):
    """What to change: a field left out keeps its value; `hidden_link_text: null` goes back to the built-in."""

    model_config = ConfigDict(extra='forbid')

    sms: bool | None = None
    links_in_messages: bool | None = None
    hidden_link_text: HiddenLinkText | None = None
    default_locale: Locale | None = None
    sms_max_segments: Annotated[int, Field(ge=1, le=MAX_SMS_SEGMENTS)] | None = None

    @field_validator('sms', 'links_in_messages', 'default_locale', 'sms_max_segments')
    @classmethod
    def _not_null(cls, value):
        # Runs only on a value given: a field left out is not validated.
        if value is None:
            raise ValueError('cannot be null; leave it out to keep its value')
        return value


def of(tenant: TenantItem) -> NotificationSettings:
    stored = tenant.notification_settings
    return NotificationSettings(**(stored.as_dict() if stored else {}))


def get(tenant_id: str) -> NotificationSettings:
    return of(repository.get_tenant(tenant_id))


def put(tenant_id: str, body: NotificationSettingsIn) -> NotificationSettings:
    tenant = repository.get_tenant(tenant_id)
    stored = tenant.notification_settings.as_dict() if tenant.notification_settings else None
    settings = NotificationSettings(**{**of(tenant).model_dump(), **body.model_dump(include=body.model_fields_set)})
    # Written only if the settings are still those read: two PUTs of different fields at once never lose one
    # (the second answers 409 and is sent again).
    condition = TenantItem.notification_settings.does_not_exist() if stored is None \
        else TenantItem.notification_settings == stored
    repository.update(tenant, actions=[TenantItem.notification_settings.set(settings.model_dump())],
                      condition=condition, add_version_condition=False)
    return settings
