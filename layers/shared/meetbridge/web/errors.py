"""The one error map of the HTTP functions (booking_webhook, oauth, join, admin).

A domain error answers its 4xx; a provider that does not answer, a meeting the provider no longer
has, or an account that must be connected again answers 503 saying what to do; anything else is
logged with its traceback here and answered 500 without it. People (join links, connect flows,
any unknown page) get an HTML page; programs (/v1/, /webhooks/, /providers/) get JSON.
"""

import functools
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from meetbridge.errors import (
    Conflict,
    EventIdReused,
    EventNotPublished,
    Forbidden,
    InvalidInput,
    InvalidState,
    NotFound,
    PayloadTooLarge,
    RetryLater,
    Unauthorized,
)
from meetbridge.store.tokens import ConnectionUnusable
from meetbridge.observability import logger
from meetbridge.providers.base import ProviderRejected
from meetbridge.security.signatures import SignatureError
from meetbridge.web.pages import page_response

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

# The modules of exceptions this map answers, named rather than imported (see _raised_by).
REQUEST_VALIDATION_EXCEPTIONS = 'aws_lambda_powertools.event_handler.openapi.exceptions'

# The first path segment of every route a program calls; every other path is a page for people.
API_ROOTS = frozenset({'v1', 'webhooks', 'providers'})
# How long a caller waits before trying a provider again.
RETRY_AFTER_SECONDS = 60

CONTACT = 'If it keeps happening, contact the business that sent you the link.'


@dataclass(frozen=True)
class Problem:
    status: int
    code: str  # for programs
    message: str  # for programs: safe to show, never a secret
    title: str  # for people
    advice: str  # for people: what to do now
    field: str | None = None
    problems: list[dict] | None = None
    retry_after: int | None = None  # seconds

    def json_body(self) -> dict:
        body = {'error': self.code, 'message': self.message}
        if self.code == 'invalid_request':  # `field` names the problem, or is null for the whole body
            body['field'] = self.field
        if self.problems is not None:
            body['problems'] = self.problems
        return body

    def headers(self) -> dict[str, str]:
        return {} if self.retry_after is None else {'Retry-After': str(self.retry_after)}


def problem_of(exc: Exception) -> Problem:
    """What to answer for `exc`; logs it as it deserves (a 500 with its traceback)."""
    match exc:
        case InvalidInput():
            return Problem(400, 'invalid_request', str(exc), 'This request could not be read', str(exc),
                           field=exc.field)
        case _ if _raised_by(exc, REQUEST_VALIDATION_EXCEPTIONS, 'RequestValidationError'):
            return _validation_problem(exc)
        case SignatureError():
            logger.warning('signature rejected', extra={'reason': str(exc)})
            return Problem(401, 'invalid_signature', str(exc), 'Not allowed', 'This request is not signed.')
        case Unauthorized():
            return Problem(401, 'unauthorized', str(exc), 'Not allowed', str(exc))
        case Forbidden():
            return Problem(403, 'forbidden', str(exc), 'Not allowed', str(exc))
        case NotFound():
            return Problem(404, 'not_found', str(exc), 'Link not found',
                           'This address does not lead to a meeting or a page. If you followed a link from a '
                           'message, check that it was copied completely.')
        case Conflict():
            return Problem(409, 'conflict', f'{exc}; retry', 'Please try again',
                           'Something changed at the same moment. Reload this page.')
        case InvalidState():
            return Problem(409, 'invalid_state', str(exc), 'This cannot be done now', str(exc))
        case EventIdReused():
            return Problem(409, 'event_id_reused', 'this event_id was already used for a different event',
                           'Please try again', 'This request repeats an earlier one with different content.')
        case PayloadTooLarge():
            return Problem(413, 'payload_too_large', str(exc), 'This request is too large', str(exc))
        case ConnectionUnusable():
            logger.warning('meeting account unusable', extra={'reason': str(exc), 'status': exc.status})
            return Problem(503, 'reconnect_needed', str(exc), 'The meeting is unavailable',
                           'The meeting account behind this booking has to be connected again by the business. '
                           'Please contact them; the link works again once they have reconnected it.')
        case ProviderRejected():
            logger.warning('meeting provider refused', extra={'reason': str(exc)})
            return Problem(503, 'provider_rejected', str(exc), 'This meeting cannot be opened',
                           'The meeting provider no longer has this meeting or refused to open it. Please '
                           'contact the business that booked it for a new link.')
        case EventNotPublished():
            logger.warning('event not published', extra={'reason': str(exc)})
            return Problem(503, 'not_published', f'{exc}; send it again', 'Please try again',
                           'This request could not be taken now. Please send it again in a few seconds.',
                           retry_after=exc.retry_after)
        case _ if isinstance(exc, RetryLater) or _raised_by(exc, 'httpx2', 'HTTPError'):
            # A transport error's text can quote the URL it called: its type says enough.
            reason = str(exc) if isinstance(exc, RetryLater) else \
                f'the meeting provider did not answer ({type(exc).__name__})'
            logger.warning('meeting provider unavailable', extra={'reason': reason})
            return Problem(503, 'provider_unavailable', reason, 'The meeting provider is not answering',
                           f'Please wait a minute, then reload this page. {CONTACT}',
                           retry_after=RETRY_AFTER_SECONDS)
    logger.error('unhandled error', exc_info=exc)
    return Problem(500, 'internal_error', 'something went wrong on our side; the error is logged',
                   'Something went wrong', f'Please reload this page in a minute. {CONTACT}')


def _raised_by(exc: Exception, module: str, name: str) -> bool:
    """Whether `exc` is the exception `name` of `module`, without importing it: no instance of a class exists before
    its module is imported, and importing Powertools' request validation or httpx2, costs a cold start
    that never uses them a tenth of a second or more each."""
    loaded = sys.modules.get(module)
    return loaded is not None and isinstance(exc, getattr(loaded, name))


def _validation_problem(exc: 'RequestValidationError') -> Problem:
    """Powertools' request validation (pydantic) as one InvalidInput: the first problem, then all of them."""
    # The body itself was parsed by the safe loader, which raises InvalidInput: these are field problems.
    problems = []
    for error in exc.errors():
        location = [str(part) for part in error.get('loc', ()) if part not in ('body', 'path', 'query')]
        problems.append({'field': '.'.join(location) or None, 'message': error.get('msg', 'invalid')})
    first = problems[0] if problems else {'field': None, 'message': 'invalid request'}
    message = f"{first['field'] or 'request'}: {first['message']}"
    return Problem(400, 'invalid_request', message, 'This request could not be read', message,
                   field=first['field'], problems=problems)


def is_api_path(path: str) -> bool:
    return path.lstrip('/').split('/', 1)[0] in API_ROOTS


def json_response(problem: Problem) -> dict:
    return {'statusCode': problem.status, 'headers': {'Content-Type': 'application/json', **problem.headers()},
            'body': json.dumps(problem.json_body())}


def error_response(exc: Exception, path: str) -> dict:
    """The answer to `exc` for a request to `path`: JSON for the API, an HTML page for people."""
    problem = problem_of(exc)
    if is_api_path(path):
        return json_response(problem)
    response = page_response(problem.status, problem.title, problem.advice)
    response['headers'].update(problem.headers())
    return response


def answers_errors(handler: Callable[[dict, object], dict]) -> Callable[[dict, object], dict]:
    """Wraps an HTTP function's handler: whatever it raises is answered through the map above."""

    @functools.wraps(handler)
    def wrapper(event: dict, context) -> dict:
        try:
            return handler(event, context)
        except Exception as exc:  # noqa: BLE001 - every error is answered; the unexpected ones are logged
            return error_response(exc, str(event.get('rawPath') or '/'))

    return wrapper
