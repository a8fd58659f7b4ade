"""Reading an HTTP API request's body (payload format 2.0) as the client sent it, within limits."""

import base64
import binascii

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2

from meetbridge.errors import InvalidInput, PayloadTooLarge
from meetbridge.safe_json import utf8_text

# Far above any booking, template or provider event; API Gateway itself allows 10 MB.
MAX_BODY_BYTES = 256 * 1024


def raw_body(event: APIGatewayProxyEventV2) -> bytes:
    """The bytes as received: signatures cover these, never a re-encoding. Powertools' `decoded_body`
    would decode them as UTF-8 and raise on anything else."""
    body = event.body or ''
    if event.is_base64_encoded:
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput('the body is not valid base64') from None
    else:
        raw = body.encode('utf-8', 'surrogatepass')  # a lone surrogate stays invalid UTF-8, rejected later
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f'the body is larger than {MAX_BODY_BYTES} bytes')
    return raw


def text_body(event: APIGatewayProxyEventV2) -> str:
    return utf8_text(raw_body(event))
