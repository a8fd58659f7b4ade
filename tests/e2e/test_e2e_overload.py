"""A flood beyond what the webhook function can take is refused at once with 429 and Retry-After, never a 5xx
or a timeout, on a stack of its own whose functions have one worker each (``--max-workers 1``)."""

import datetime as dt
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from e2e_support import Booking, Client, running_stack

pytestmark = pytest.mark.e2e

AT_ONCE = 30  # requests let go together, far beyond one worker and its line of two
ROUNDS = 5  # at most, until one is refused


@pytest.fixture(scope="module")
def one_worker_stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("overload"), "--max-workers", "1") as running:
        yield running


def _flood(stack):
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=3)
    bookings = [Booking(Client.unique(), start) for _ in range(AT_ONCE)]
    together = threading.Barrier(AT_ONCE)

    def post(booking):
        together.wait(30)
        return booking, stack.post_webhook(booking.event())

    with ThreadPoolExecutor(AT_ONCE) as pool:
        return list(pool.map(post, bookings))


def _webhook_invocations(stack) -> int:
    return stack.get("/_local/health").json()["functions"]["BookingWebhookFunction"]["invocations"]


def test_a_flood_of_webhooks_is_refused_at_once_with_429_and_retry_after_and_the_rest_are_accepted(one_worker_stack):
    invoked_before = _webhook_invocations(one_worker_stack)
    answers = []
    for _ in range(ROUNDS):
        answers += _flood(one_worker_stack)
        if any(response.status == 429 for _, response in answers):
            break
    statuses = {response.status for _, response in answers}
    assert statuses <= {202, 429}, [response for _, response in answers if response.status not in (202, 429)]
    refused = [response for _, response in answers if response.status == 429]
    assert refused, "a flood of 30 at once on one worker was never refused"
    assert all(r.headers.get("retry-after") == "1" and r.json() == {"message": "Too Many Requests"} for r in refused)
    assert 202 in statuses
    # A refused request was never invoked: the webhook function ran once for each request that was answered.
    assert _webhook_invocations(one_worker_stack) - invoked_before == len(answers) - len(refused)
    # A refused booking was not taken in: retried after Retry-After, as a platform does, it is accepted once.
    booking, _ = next((b, r) for b, r in answers if r.status == 429)
    retried = one_worker_stack.wait_for(
        "the refused booking accepted on a retry",
        lambda: (r := one_worker_stack.post_webhook(booking.event())).status == 202 and r, interval=1)
    assert retried.json()["accepted"]
