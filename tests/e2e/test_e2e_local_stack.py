"""The local stack itself, as a developer uses it: dev.json, the gateway's edges, the outbox, the snippet."""

import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.e2e

DEV_JSON_KEYS = {"api_url", "aws_endpoint_url", "tenant_id", "api_key", "webhook_secret", "service_id", "provider_id"}


def test_dev_json_describes_the_running_stack(stack):
    assert DEV_JSON_KEYS <= set(stack.info)
    assert all(stack.info[k] for k in DEV_JSON_KEYS)
    assert stack.info["service_id"] == "svc-demo"
    assert stack.info["provider_id"] == "prov-demo"
    assert stack.info["api_url"].startswith("http://127.0.0.1:")


def test_the_demo_tenant_is_configured_through_the_admin_api(stack):
    service = stack.admin("GET", "services/svc-demo")
    assert service.status == 200, service
    assert service.json()["online"] is True
    provider = stack.admin("GET", "providers/prov-demo")
    assert provider.status == 200, provider
    assert provider.json()["email"] == "dana@example.com"


def test_an_unknown_page_is_a_readable_404_and_an_unknown_api_path_a_json_404(stack):
    for path in ("/", "/nowhere/at/all", "/j", "/j/"):  # /j/{token} needs its token
        page = stack.get(path)
        assert page.status == 404 and page.headers["content-type"].startswith("text/html"), (path, page)
        assert "Link not found" in page.text
    api = stack.get("/v1/nowhere")
    assert api.status == 404 and api.json()["error"] == "not_found"


def test_the_admin_api_wants_the_tenant_key(stack):
    from e2e_support import request

    assert request(f"{stack.api}/v1/tenants/{stack.tenant_id}/services/svc-demo").status == 401


def test_the_outbox_is_served_as_json_and_html(stack):
    resp = stack.get("/_local/outbox")
    assert resp.status == 200
    assert isinstance(resp.json(), list)
    page = stack.get("/_local/outbox.html")
    assert page.status == 200
    assert "text/html" in page.headers["content-type"]
    assert "outbox" in page.text.lower()


@pytest.mark.skipif(not all(shutil.which(tool) for tool in ("bash", "openssl", "curl")),
                    reason="the banner snippet needs bash, openssl and curl")
def test_the_banner_snippet_posts_a_signed_booking(stack):
    script = stack.info["booking_script"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["MINUTES"] = "5"
    run = subprocess.run(["bash", script], capture_output=True, text=True, timeout=20, env=env)
    assert run.returncode == 0, run.stderr
    assert "HTTP 202" in run.stdout, run.stdout + run.stderr


def test_the_zoom_sandbox_runs_with_the_stack_and_the_seed_offers_a_connect_link(stack):
    from e2e_support import request

    zoom = stack.info["zoom_sandbox_url"]
    assert zoom.startswith("http://127.0.0.1:")
    assert stack.info["zoom_webhook_secret"]
    assert request(f"{zoom}/").status == 200
    start = stack.get(stack.info["zoom_connect_url"])
    assert start.status == 302, start
    assert start.headers["location"].startswith(f"{zoom}/oauth/authorize?")
    banner = stack.log_path.read_text(errors="replace")
    assert f"Zoom sandbox    {zoom}" in banner
    assert f"Connect Zoom (company account): open {stack.info['zoom_connect_url']} in a browser" in banner


def test_the_microsoft_sandbox_runs_with_the_stack_and_the_seed_offers_the_providers_teams_link(stack):
    import json
    import urllib.parse

    from e2e_support import request

    microsoft = stack.info["microsoft_sandbox_url"]
    assert microsoft.startswith("http://127.0.0.1:")
    assert request(f"{microsoft}/").status == 200
    state = request(f"{microsoft}/_sandbox/state").json()
    assert set(state["redirect_uris"]) == {f"{host}/oauth/microsoft/callback" for host in (
        stack.api, stack.api.replace("127.0.0.1", "localhost"))}
    secret = stack.aws("secretsmanager").get_secret_value(SecretId=stack.info["resources"]["MicrosoftClientSecret"])
    assert set(json.loads(secret["SecretString"])) == {"client_id", "client_secret"}
    assert json.loads(secret["SecretString"])["client_id"] == state["client_id"]
    assert stack.get("/_local/health").json()["microsoft_sandbox"] == microsoft

    assert stack.info["microsoft_connect_provider_id"] == "prov-demo"
    start = stack.get(stack.info["microsoft_connect_url"])  # opened only: completing it would move prov-demo to Teams
    assert start.status == 302, start
    authorize = start.headers["location"]
    assert authorize.startswith(f"{microsoft}/organizations/oauth2/v2.0/authorize?"), authorize
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)["response_mode"] == ["form_post"]
    banner = stack.log_path.read_text(errors="replace")
    assert f"Microsoft       {microsoft}" in banner
    assert (f"Connect Microsoft Teams (prov-demo's own account): open {stack.info['microsoft_connect_url']} "
            "in a browser") in banner
    assert "The provider's own account wins for their bookings" in banner


def test_the_google_sandbox_runs_with_the_stack_and_the_seed_offers_a_second_providers_google_link(stack):
    import json
    import urllib.parse

    from e2e_support import request

    google = stack.info["google_sandbox_url"]
    assert google.startswith("http://127.0.0.1:")
    assert request(f"{google}/_sandbox/state").status == 200
    secret = stack.aws("secretsmanager").get_secret_value(SecretId=stack.info["resources"]["GoogleClientSecret"])
    assert set(json.loads(secret["SecretString"])) == {"client_id", "client_secret"}
    assert stack.get("/_local/health").json()["google_sandbox"] == google

    # A provider of its own holds the Google link, so connecting it moves neither prov-demo nor the company.
    assert stack.info["google_connect_provider_id"] == "prov-google"
    assert stack.admin("GET", "providers/prov-google").json()["name"] == "Gus Google"
    start = stack.get(stack.info["google_connect_url"])  # opened only
    assert start.status == 302, start
    authorize = start.headers["location"]
    assert authorize.startswith(f"{google}/o/oauth2/v2/auth?"), authorize
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(authorize).query)
    assert query["client_id"] == [json.loads(secret["SecretString"])["client_id"]]
    assert query["redirect_uri"] == [f"{stack.api}/oauth/google/callback"]
    banner = stack.log_path.read_text(errors="replace")
    assert f"Google          {google}" in banner
    assert (f"Connect Google Meet (prov-google's own account): open {stack.info['google_connect_url']} "
            "in a browser") in banner


def test_a_busy_sandbox_port_stops_the_start_with_a_message_naming_the_option(tmp_path):
    import socket

    from e2e_support import StartupFailed, launch

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(StartupFailed) as failed:
            launch(tmp_path, "--no-seed", "--microsoft-port", str(port)).stop()
    message = str(failed.value)
    assert "exited with 1" in message, message
    assert f"cannot listen on 127.0.0.1:{port} for the Microsoft sandbox" in message, message
    assert "--microsoft-port or MICROSOFT_SANDBOX_PORT" in message and "Traceback" not in message, message


def test_each_function_runs_in_workers_of_its_own_and_its_lines_name_it(stack):
    import datetime as dt
    import json
    import re
    from pathlib import Path

    from e2e_support import Booking, Client

    booking = Booking(Client.unique(), start=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2))
    assert stack.post_webhook(booking.event()).status == 202
    stack.wait_for("the booking's meeting", lambda: stack.admin("GET", f"bookings/{booking.id}").json().get("meeting"))

    health = stack.get("/_local/health").json()["functions"]
    pids = {fn: h["pids"] for fn, h in health.items() if h["pids"]}
    assert {"AdminFunction", "BookingWebhookFunction", "MeetingsFunction"} <= set(pids)
    all_pids = [pid for group in pids.values() for pid in group]
    assert len(all_pids) == len(set(all_pids)) and stack.process.pid not in all_pids

    # The meetings function logs "applied" after the meeting is visible: wait for this booking's line.
    stack.wait_for("the meetings function's line for the booking", lambda: any(
        "booking event applied" in line and booking.id in line
        for line in stack.log_path.read_text(errors="replace").splitlines()))
    log = stack.log_path.read_text(errors="replace")
    applied = [line for line in log.splitlines() if "booking event applied" in line]
    assert applied and all(re.search(r" MeetingsFunction: [0-9a-f-]{36} INFO booking event applied", line)
                           for line in applied), applied
    assert '"_aws"' not in log  # metrics go to their own file
    metrics = Path(stack.info["metrics_file"]).read_text().splitlines()
    assert metrics and all("_aws" in json.loads(line) for line in metrics)
    assert f"metrics         {stack.info['metrics_file']}" in log
