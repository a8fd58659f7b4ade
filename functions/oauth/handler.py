"""GET /oauth/{provider}/start|callback: connecting a meeting account that signs in with OAuth.

No OAuth provider is available yet (a custom link needs no sign-in); every provider name answers
with a page saying so.
"""

from meetbridge.observability import logger
from meetbridge.web.pages import page_response


@logger.inject_lambda_context
def lambda_handler(event: dict, context) -> dict:
    provider = (event.get('pathParameters') or {}).get('provider', '')
    logger.info('oauth request for an unavailable provider', extra={'provider': provider[:40]})
    return page_response(404, 'This meeting provider cannot be connected',
                         'The link you followed names a meeting provider that cannot be connected here. '
                         'Ask the business for a new connection link.')
