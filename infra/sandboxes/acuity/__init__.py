"""A local Acuity Scheduling (``GET /api/v1/appointments/{id}`` with Basic auth) for tests and the local stack.

    from infra.sandboxes.acuity import AcuitySandbox
    with AcuitySandbox() as acuity:
        acuity.set_user('8123456', 'key-of-8123456')
        acuity.set_appointment({...the JSON Acuity answers...})
        ...  # GET acuity.api_base + '/appointments/{id}', auth=('8123456', 'key-of-8123456')

Alone: ``python -m infra.sandboxes.acuity --port 9093``.
"""

from .sandbox import OPERATIONS, AcuitySandbox
from .validation import check_appointment
from .webhooks import form_body, sign

__all__ = ['OPERATIONS', 'AcuitySandbox', 'check_appointment', 'form_body', 'sign']
