"""What a notification template may show, and the bracket variables tenants write."""

import re

CLIENT_LINK = 'online_meeting_link'
PROVIDER_LINK = 'online_meeting_provider_link'

RECIPIENTS = ('client', 'provider')
CHANGES = ('created', 'rescheduled', 'cancelled')
TEMPLATE_NAMES = tuple(f'{recipient}_{change}' for recipient in RECIPIENTS for change in CHANGES)

# Everything a template can use, as [name] or {{ name }}.
VARIABLES = (
    CLIENT_LINK,
    PROVIDER_LINK,
    'online_meeting_password',
    'online_meeting_description',
    'company_name',
    'booking_id',
    'service_name',
    'provider_name',
    'client_name',
    'client_email',
    'start_time',
    'end_time',
    'start_date',
    'timezone',
)

_BRACKET = re.compile(r'\[(' + '|'.join(VARIABLES) + r')\]')


def recipient_of(template_name: str) -> str:
    return template_name.split('_', 1)[0]


def bracket_to_jinja(text: str) -> str:
    """`[online_meeting_link]` → `{{ online_meeting_link }}`; other brackets stay as written."""
    return _BRACKET.sub(r'{{ \1 }}', text)


def forbidden_variables(template_name: str, text: str) -> set[str]:
    """A client must never receive the host's link."""
    if recipient_of(template_name) == 'client' and re.search(r'\b' + PROVIDER_LINK + r'\b', text):
        return {PROVIDER_LINK}
    return set()
