"""The booking platforms' sandboxes in the local stack: SimplyBook, Acuity and Square run with it, answer their
control endpoints and their own API (with the right credentials only), the meetings function is pointed at
them, dev.json and the banner list them with the demo tenant's webhook URLs, and their ports can be fixed."""

import base64
import datetime as dt
import hashlib
import json
import socket
from pathlib import Path

import pytest
from e2e_support import Booking, Client, StartupFailed, launch, request

pytestmark = pytest.mark.e2e

PLATFORMS = ("simplybook", "acuity", "square")
API_BASES = {"SIMPLYBOOK_API_BASE", "ACUITY_API_BASE", "SQUARE_API_BASE"}


def _json(method: str, url: str, body: object, headers: dict[str, str] | None = None):
    return request(url, method, json.dumps(body).encode(), {"Content-Type": "application/json", **(headers or {})})


def _rpc(url: str, method: str, params: list, headers: dict[str, str] | None = None) -> dict:
    answer = _json("POST", url, {"jsonrpc": "2.0", "method": method, "params": params, "id": 1}, headers)
    assert answer.status == 200, answer
    return answer.json()


def test_dev_json_the_health_endpoint_and_the_banner_list_the_booking_platforms_sandboxes(stack):
    health = stack.get("/_local/health").json()
    banner = stack.log_path.read_text(errors="replace")
    for platform in PLATFORMS:
        url = stack.info[f"{platform}_sandbox_url"]
        assert url.startswith("http://127.0.0.1:"), (platform, url)
        assert health[f"{platform}_sandbox"] == url
        assert request(f"{url}/").status == 200  # the sandbox's index page
    assert f"SimplyBook      {stack.info['simplybook_sandbox_url']}  (the SimplyBook sandbox: " in banner
    assert f"Acuity          {stack.info['acuity_sandbox_url']}  (the Acuity sandbox: " in banner
    assert f"Square          {stack.info['square_sandbox_url']}  (the Square sandbox: " in banner


def test_the_demo_tenants_webhook_url_of_each_source_is_in_dev_json_and_the_banner(stack):
    from meetbridge.sources import SOURCE_NAMES

    urls = stack.info["webhook_urls"]
    assert urls == {source: f"{stack.api}/webhooks/{source}/{stack.tenant_id}" for source in SOURCE_NAMES}
    banner = stack.log_path.read_text(errors="replace")
    assert all(f"  {source:<11}{url}" in banner for source, url in urls.items()), banner
    # The admin API answers the same URL when the source is configured.
    configured = stack.admin("PUT", "sources/calcom", {"secret": "calcom-e2e-secret"})
    try:
        assert configured.status == 200, configured
        assert configured.json()["webhook_url"] == urls["calcom"]
    finally:
        assert stack.admin("DELETE", "sources/calcom").status in (200, 204)


def test_the_simplybook_sandbox_is_seeded_and_answers_getbookingdetails_to_the_right_keys_only(stack):
    simplybook = stack.info["simplybook_sandbox_url"]
    booking_hash = "514ccafaa45aa779ff50e4642c37ba5d"
    details = {"id": "1042", "event_id": "3", "event_name": "Consultation", "unit_id": "2", "unit_name": "Dana Reyes",
               "client_name": "Zoë Nakamura", "client_email": "zoe@client.example",
               "start_date_time": "2030-03-04 09:30:00", "end_date_time": "2030-03-04 10:00:00"}
    company = _json("PUT", f"{simplybook}/_sandbox/companies/e2eclinic", {"api_key": "e2e-api-key",
                                                                          "secret_key": "e2e-secret-key"})
    assert company.status in (200, 201), company
    seeded = _json("PUT", f"{simplybook}/_sandbox/companies/e2eclinic/bookings/1042",
                   {"hash": booking_hash, "details": details})
    assert seeded.status in (200, 201), seeded

    token = _rpc(f"{simplybook}/login", "getToken", ["e2eclinic", "e2e-api-key"])["result"]
    session = {"X-Company-Login": "e2eclinic", "X-Token": token}
    sign = hashlib.md5(f"1042{booking_hash}e2e-secret-key".encode()).hexdigest()
    assert _rpc(f"{simplybook}/", "getBookingDetails", ["1042", sign], session)["result"] == details

    assert _rpc(f"{simplybook}/login", "getToken", ["e2eclinic", "another-key"])["error"]["code"] == -33002
    forged = hashlib.md5(f"1042{'0' * 32}e2e-secret-key".encode()).hexdigest()
    assert _rpc(f"{simplybook}/", "getBookingDetails", ["1042", forged], session)["error"]["code"] == -32085


def test_the_acuity_sandbox_is_seeded_and_answers_the_appointment_to_the_right_key_only(stack):
    acuity = stack.info["acuity_sandbox_url"]
    appointment = {"id": 1204583921, "firstName": "Bob", "lastName": "McTest", "email": "bob@example.com",
                   "datetime": "2030-03-04T09:30:00-0500", "duration": "60", "type": "Consultation",
                   "appointmentTypeID": 51234567, "calendar": "Dana Reyes", "calendarID": 8123456,
                   "timezone": "America/New_York", "canceled": False}
    assert _json("PUT", f"{acuity}/_sandbox/users/8123456", {"api_key": "a1b2c3d4e5f60718293a4b5c6d7e8f90"}).status == 204
    assert _json("PUT", f"{acuity}/_sandbox/appointments/1204583921", appointment).status == 204

    def get(key: str):
        basic = base64.b64encode(f"8123456:{key}".encode()).decode()
        return request(f"{acuity}/api/v1/appointments/1204583921", headers={"Authorization": f"Basic {basic}"})

    found = get("a1b2c3d4e5f60718293a4b5c6d7e8f90")
    assert found.status == 200 and found.json() == appointment, found
    refused = get("not-the-key")
    assert refused.status == 401 and refused.json()["error"] == "unauthorized", refused


def test_the_square_sandbox_is_seeded_and_answers_customers_and_team_members_to_the_right_token_only(stack):
    square = stack.info["square_sandbox_url"]
    assert _json("PUT", f"{square}/_sandbox/access-tokens/EAAA-e2e-token", {}).status == 200
    customer = {"given_name": "Ada", "family_name": "Lovelace", "email_address": "ada@example.com"}
    member = {"given_name": "Sandy", "family_name": "Staff", "status": "ACTIVE"}
    assert _json("PUT", f"{square}/_sandbox/customers/CUST-E2E", customer).status == 200
    assert _json("PUT", f"{square}/_sandbox/team-members/TM-E2E", member).status == 200

    bearer = {"Authorization": "Bearer EAAA-e2e-token"}
    read_customer = request(f"{square}/v2/customers/CUST-E2E", headers=bearer)
    assert read_customer.status == 200, read_customer
    assert read_customer.json()["customer"] == {"id": "CUST-E2E", **customer}
    read_member = request(f"{square}/v2/team-members/TM-E2E", headers=bearer)
    assert read_member.status == 200 and read_member.json()["team_member"] == {"id": "TM-E2E", **member}, read_member
    refused = request(f"{square}/v2/customers/CUST-E2E", headers={"Authorization": "Bearer EAAA-other"})
    assert refused.status == 401 and refused.json()["errors"][0]["code"] == "UNAUTHORIZED", refused


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads a worker's environment from /proc")
def test_the_meetings_function_and_only_it_is_pointed_at_the_booking_platforms_sandboxes(stack):
    booking = Booking(Client.unique(), start=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=3))
    assert stack.post_webhook(booking.event()).status == 202
    stack.wait_for("the booking's meeting", lambda: stack.admin("GET", f"bookings/{booking.id}").json().get("meeting"))
    functions = stack.get("/_local/health").json()["functions"]

    def environment(logical_id: str) -> dict[str, str]:
        pid = functions[logical_id]["pids"][0]
        raw = Path(f"/proc/{pid}/environ").read_bytes()
        return dict(entry.split("=", 1) for entry in raw.decode().split("\0") if "=" in entry)

    meetings = environment("MeetingsFunction")
    assert meetings["SIMPLYBOOK_API_BASE"] == stack.info["simplybook_sandbox_url"]
    assert meetings["ACUITY_API_BASE"] == f"{stack.info['acuity_sandbox_url']}/api/v1"
    assert meetings["SQUARE_API_BASE"] == stack.info["square_sandbox_url"]
    assert not API_BASES & set(environment("BookingWebhookFunction"))  # it does not declare them


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_booking_platforms_sandbox_ports_are_fixed_by_option_or_variable_and_a_busy_one_is_named(tmp_path,
                                                                                                    monkeypatch):
    simplybook_port, square_port = _free_port(), _free_port()
    monkeypatch.setenv("SQUARE_SANDBOX_PORT", str(square_port))
    fixed = launch(tmp_path / "fixed", "--no-seed", "--simplybook-port", str(simplybook_port))
    try:
        assert fixed.info["simplybook_sandbox_url"] == f"http://127.0.0.1:{simplybook_port}"
        assert fixed.info["square_sandbox_url"] == f"http://127.0.0.1:{square_port}"
        assert fixed.info["webhook_urls"] is None  # no demo tenant
        assert request(f"{fixed.info['square_sandbox_url']}/_sandbox/state").status == 200
    finally:
        fixed.stop()

    monkeypatch.delenv("SQUARE_SANDBOX_PORT")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(StartupFailed) as failed:
            launch(tmp_path / "busy", "--no-seed", "--acuity-port", str(port)).stop()
    message = str(failed.value)
    assert "exited with 1" in message and "Traceback" not in message, message
    assert f"cannot listen on 127.0.0.1:{port} for the Acuity sandbox" in message, message
    assert "--acuity-port or ACUITY_SANDBOX_PORT (0 = any free port)" in message, message
