"""The hourly health check through the local stack and its Zoom sandbox, run now with the stack's
`POST /_local/schedules/HealthFunction`: a meeting deleted at Zoom is found a day ahead, and a user who revoked the
app (no webhook) gets the account marked.

Connecting Zoom replaces the demo tenant's company account, so this module runs a stack of its own."""

import datetime as dt
import json
import urllib.parse

import pytest
from e2e_support import Booking, Client, Response, request, running_stack, submit

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("health-stack")) as running:
        yield running


def sandbox(stack, method: str, path: str, body: dict | None = None) -> Response:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"} if data else {}
    return request(f"{stack.info['zoom_sandbox_url']}/_sandbox/{path}", method, data, headers)


def connect_zoom(stack) -> None:
    """The company connect link, Allow on the sandbox's consent page, our callback."""
    link = stack.admin("POST", "connections/zoom/connect-link", {"provider_id": None, "return_url": None})
    assert link.status == 200, link
    authorize = stack.get(link.json()["url"]).headers["location"]
    back = submit(authorize, request(authorize), "Allow")
    assert back.status == 302, back
    assert stack.get(back.headers["location"]).status == 200
    assert stack.admin("GET", "accounts/default").json()["type"] == "zoom"


def run_health_check(stack) -> None:
    ran = request(f"{stack.api}/_local/schedules/HealthFunction", "POST")
    assert ran.status == 202, ran
    assert ran.json()["function"] == "HealthFunction" and ran.json()["rules"]


def test_the_run_now_endpoint_takes_only_a_post_for_a_function_with_a_rate_schedule(stack):
    assert request(f"{stack.api}/_local/schedules/AdminFunction", "POST").status == 404
    assert request(f"{stack.api}/_local/schedules/HealthFunction").status == 405


def test_a_meeting_deleted_at_zoom_a_day_ahead_is_found_and_sent_to_be_made_again(stack):
    connect_zoom(stack)
    start = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=24, minutes=20)).replace(microsecond=0)
    booking = Booking(Client.unique(), start=start)
    assert stack.post_webhook(booking.event()).status == 202
    meeting_key = stack.wait_for_links(booking)["meeting"]["key"]
    zoom_meetings = sandbox(stack, "GET", "state").json()["meetings"]
    [zoom_id] = [m["id"] for m in zoom_meetings if m["start_time"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")]
    assert sandbox(stack, "DELETE", f"meetings/{zoom_id}").status == 204
    assert sandbox(stack, "DELETE", "calls").status == 204

    run_health_check(stack)

    def asked() -> list[dict] | None:
        calls = sandbox(stack, "GET", f"calls?{urllib.parse.urlencode({'operation': 'get_meeting'})}").json()["calls"]
        return [call for call in calls if call["path"] == f"/v2/meetings/{zoom_id}"] or None

    [call] = stack.wait_for("the health check's GET of the deleted meeting", asked)
    assert call["status"] == 404
    stack.wait_for("the re-home request in the health function's log", lambda: any(
        "re-home requested" in line and meeting_key in line
        for line in stack.log_path.read_text(errors="replace").splitlines()))


def test_a_zoom_user_who_revoked_the_app_without_a_webhook_is_marked_at_the_next_check(stack):
    connect_zoom(stack)
    assert sandbox(stack, "POST", "revoke", {"user_id": "zoom-owner"}).status == 204

    run_health_check(stack)

    account = stack.wait_for("the company account marked", lambda: (
        lambda found: found if found["status"] == "needs_reconnect" else None)(
            stack.admin("GET", "accounts/default").json()))
    assert account["type"] == "zoom"
