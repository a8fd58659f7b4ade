"""A local Square (the Customers and Team reads a booking webhook's ids need) for tests and the local stack.

    from infra.sandboxes.square import SquareSandbox
    with SquareSandbox() as square:
        square.add_access_token('EAAA-sandbox')
        square.put_customer('CUST1', {'given_name': 'Ada', 'email_address': 'ada@example.com'})
        ...  # GET square.url + '/v2/customers/CUST1' with 'Authorization: Bearer EAAA-sandbox'

Alone: ``python -m infra.sandboxes.square --port 9094``.
"""

from .sandbox import OPERATIONS, SCOPES, SquareSandbox

__all__ = ['OPERATIONS', 'SCOPES', 'SquareSandbox']
