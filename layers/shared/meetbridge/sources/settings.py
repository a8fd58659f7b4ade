"""What a tenant configures per booking platform (PUT /v1/tenants/{tenant}/sources/{source}).

Secrets are `SecretStr` fields: they are sealed in the source's item and never answered; every other
field is kept in the clear and shown by GET.
"""

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from meetbridge.domain.model import TimeZoneName

Secret = Annotated[SecretStr, Field(min_length=1, max_length=1000)]
Login = Annotated[str, Field(min_length=1, max_length=128, pattern=r'^[A-Za-z0-9][A-Za-z0-9._-]*$')]
PEM_HEADER, PEM_FOOTER = '-----BEGIN PUBLIC KEY-----', '-----END PUBLIC KEY-----'


def _https_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != 'https' or not parts.netloc or parts.fragment:
        raise ValueError('must be the https URL entered in the platform, without a fragment')
    return url


def _public_key_pem(pem: str) -> str:
    text = pem.strip()
    if not (text.startswith(PEM_HEADER) and text.endswith(PEM_FOOTER)):
        raise ValueError(f'must be a PEM public key ({PEM_HEADER} ... {PEM_FOOTER})')
    return text


class SourceSettings(BaseModel):
    model_config = ConfigDict(extra='forbid', frozen=True)
    # by_service: a service first seen in a webhook is registered not online, the admin turns it online;
    # all: every service of this source is registered online.
    online: Literal['by_service', 'all'] = 'by_service'

    @classmethod
    def secret_fields(cls) -> tuple[str, ...]:
        return tuple(name for name, info in cls.model_fields.items() if info.annotation is SecretStr)


class SimplyBookSettings(SourceSettings):
    company: Login
    api_key: Secret
    secret_key: Secret
    timezone: TimeZoneName  # the company's: SimplyBook's times carry no offset


class CalcomSettings(SourceSettings):
    secret: Secret


class CalendlySettings(SourceSettings):
    signing_key: Secret


class AcuitySettings(SourceSettings):
    user_id: Login
    api_key: Secret


class SquareSettings(SourceSettings):
    signature_key: Secret
    notification_url: Annotated[str, Field(max_length=2048), AfterValidator(_https_url)]  # Square signs it
    access_token: Secret
    # The business's zone, for a booking whose team member has none in meetbridge: Square gives it only through
    # its Locations API, which is not read.
    timezone: TimeZoneName | None = None


class WixSettings(SourceSettings):
    public_key: Annotated[str, Field(max_length=4000), AfterValidator(_public_key_pem)]


SETTINGS_MODELS: dict[str, type[SourceSettings]] = {
    'simplybook': SimplyBookSettings,
    'calcom': CalcomSettings,
    'calendly': CalendlySettings,
    'acuity': AcuitySettings,
    'square': SquareSettings,
    'wix': WixSettings,
}
