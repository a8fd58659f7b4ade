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


def test_an_unknown_route_is_a_404_like_api_gateway(stack):
    resp = stack.get("/nowhere/at/all")
    assert resp.status == 404
    assert resp.json() == {"message": "Not Found"}
    assert stack.get("/j").status == 404  # /j/{token} needs its token


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
