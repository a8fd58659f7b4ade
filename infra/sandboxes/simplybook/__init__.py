"""A local SimplyBook.me (the JSON-RPC ``getToken`` and ``getBookingDetails`` a callback receiver calls) for
tests and the local stack.

    from infra.sandboxes.simplybook import SimplyBookSandbox, booking_sign
    with SimplyBookSandbox() as simplybook:
        simplybook.add_company('acme', api_key='k', secret_key='s')
        simplybook.put_booking('acme', '1042', booking_hash, details)
        ...  # POST simplybook.url + '/login' (getToken), then simplybook.url + '/' (getBookingDetails)

Alone: ``python -m infra.sandboxes.simplybook --port 9092``.
"""

from .sandbox import OPERATIONS, SimplyBookSandbox, booking_sign

__all__ = ['OPERATIONS', 'SimplyBookSandbox', 'booking_sign']
