"""What a new user meets first, done as the README says: the console command, the demo room, the emails."""

import datetime as dt
import json
import os
import re
import shlex
import socket
import subprocess
from pathlib import Path

import pytest
from e2e_support import REPO_ROOT, Booking, Client, request

pytestmark = pytest.mark.e2e

CONSOLE = ".venv/bin/meetbridge"  # where `make dev` and `make test` install it, as the README says
DOCUMENTS = [REPO_ROOT / "README.md", REPO_ROOT / "infra" / "local" / "README.md",
             *sorted((REPO_ROOT / "docs").glob("*.md"))]
NOT_RUNNING = "meetbridge: the local stack is not running (start it with `make dev`)"
DEMO_ROOM_PASSWORD = "demo-pass"
PROVIDER_EMAIL = "dana@example.com"
AWS_PLACEHOLDERS = ("<TableName>", "<SealingKeyArn>", "<region>")
COMMAND_LINE = re.compile(r"\s*(\S*/)?meetbridge\s")  # the command itself, by any path


def console_examples(document: Path) -> list[str]:
    """The lines of a document's code blocks that run the console command, in order."""
    found, in_block = [], False
    for line in document.read_text().splitlines():
        if line.lstrip().startswith("```"):
            in_block = not in_block
            continue
        if in_block and COMMAND_LINE.match(line):
            found.append(line.strip())
    return found


def new_shell_environment() -> dict[str, str]:
    """A new user's shell: no AWS settings and no table or key of the test process."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("AWS_") and k not in ("TABLE_NAME", "KMS_KEY_ID")}


def run_console(line: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """One documented command line, the command itself resolved as the README's relative path is from the root."""
    words = shlex.split(line, comments=True)
    return subprocess.run([str(REPO_ROOT / words[0]), *words[1:]], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60)


def a_clone_with_local_state(root: Path, state: dict) -> Path:
    """A directory tree like a clone's whose .meetbridge/dev.json is ``state``; returns a subdirectory deep in it."""
    (root / ".meetbridge").mkdir(parents=True)
    (root / ".meetbridge" / "dev.json").write_text(json.dumps(state))
    nested = root / "layers" / "shared" / "meetbridge"
    nested.mkdir(parents=True)
    return nested


def test_the_readme_says_the_first_make_dev_installs_from_the_package_index():
    two_commands = (REPO_ROOT / "README.md").read_text().split("## Two commands", 1)[1].split("\n## ", 1)[0]
    install = [line for line in (REPO_ROOT / "Makefile").read_text().splitlines() if "pip install" in line]

    assert "package index (PyPI)" in two_commands and "about a minute" in two_commands
    assert install and not any("--no-index" in line for line in install), "the Makefile installs from the index"


def test_the_docs_describe_the_providers_that_exist():
    providers = REPO_ROOT / "layers" / "shared" / "meetbridge" / "providers"
    modules = sorted(m.stem for m in providers.glob("*.py") if m.stem not in ("__init__", "base"))
    architecture = (REPO_ROOT / "docs" / "architecture.md").read_text()
    (providers_row,) = [line for line in architecture.splitlines() if line.startswith("| `providers/` |")]

    assert modules, f"no provider modules in {providers}"
    assert all(f"`{module}`" in providers_row for module in modules), providers_row
    for document in DOCUMENTS:
        text = document.read_text()
        for leftover in ("reserved for the planned", "until the OAuth providers exist", "no OAuth provider",
                         "Zoom support is planned", "meet.example.com/demo-room"):
            assert leftover not in text, f"{document.relative_to(REPO_ROOT)} still says {leftover!r}"


def test_every_console_example_in_the_docs_uses_the_command_the_readme_names():
    examples = {str(document.relative_to(REPO_ROOT)): console_examples(document) for document in DOCUMENTS}

    assert examples["README.md"], "the README shows no console command"
    misnamed = {name: [e for e in lines if not e.startswith(CONSOLE + " ")] for name, lines in examples.items()}
    assert not any(misnamed.values()), f"examples that do not run {CONSOLE}: {misnamed}"
    assert (REPO_ROOT / CONSOLE).is_file(), f"{CONSOLE} is not installed; `make dev` installs it"


def test_the_readme_console_examples_work_from_a_subdirectory_against_the_running_stack(stack, tmp_path):
    examples = console_examples(REPO_ROOT / "README.md")
    local = [e for e in examples if not any(p in e for p in AWS_PLACEHOLDERS)]
    assert local[0].split()[1:3] == ["tenant", "create"], "the examples start by creating a tenant"
    cwd = a_clone_with_local_state(tmp_path / "clone", stack.info)
    env = new_shell_environment()

    tenant_id, api_keys, outputs = None, [], []
    for example in local:
        line = example.replace("TENANT_ID", tenant_id) if tenant_id else example
        run = run_console(line, cwd, env)
        assert run.returncode == 0 and "Traceback" not in run.stderr, (line, run.stdout, run.stderr)
        outputs.append(run.stdout)
        tenant_id = tenant_id or re.search(r"tenant id:\s+(t_\S+)", run.stdout).group(1)
        api_keys += re.findall(r"api key:\s+(mbk_\S+)", run.stdout)

    assert "Acme Clinic" in outputs[1]
    listed = json.loads(outputs[-1])
    assert {"tenant_id": tenant_id, "name": "Acme Clinic"}.items() <= next(
        t for t in listed if t["tenant_id"] == tenant_id).items()
    # The command acted on the running stack: its AWS holds the tenant, and only the newest key opens its API.
    first_key, newest_key = api_keys[0], api_keys[-1]
    assert first_key != newest_key
    services = f"{stack.api}/v1/tenants/{tenant_id}/services/svc-none"
    assert request(services, headers={"Authorization": f"Bearer {newest_key}"}).status == 404
    assert request(services, headers={"Authorization": f"Bearer {first_key}"}).status == 403


def test_the_readme_deploy_example_names_table_key_and_region_before_the_noun(stack, tmp_path):
    """The "Create a tenant" step of a deploy, against the stack's AWS standing in for the account's."""
    (example,) = [e for e in console_examples(REPO_ROOT / "README.md") if "<TableName>" in e]
    line = (example.replace("<TableName>", stack.info["table_name"])
            .replace("<SealingKeyArn>", stack.info["kms_key_id"]).replace("<region>", stack.info["region"]))
    env = {**new_shell_environment(), "AWS_ENDPOINT_URL": stack.info["aws_endpoint_url"],
           "AWS_ACCESS_KEY_ID": "deployer", "AWS_SECRET_ACCESS_KEY": "deployer"}

    run = run_console(line, tmp_path, env)

    assert run.returncode == 0, (run.stdout, run.stderr)
    assert re.search(r"tenant id:\s+t_\S+", run.stdout), run.stdout


def test_a_stopped_stack_is_named_with_the_way_to_start_it(tmp_path):
    with socket.socket() as bound:  # bound and never listening: refuses connections like a stopped stack's port
        bound.bind(("127.0.0.1", 0))
        stale = {"table_name": "meetbridge-local", "kms_key_id": "alias/local", "region": "us-east-1",
                 "aws_endpoint_url": f"http://127.0.0.1:{bound.getsockname()[1]}"}
        cwd = a_clone_with_local_state(tmp_path / "clone", stale)

        run = run_console(f"{CONSOLE} tenant list", cwd, new_shell_environment())

    assert run.returncode == 1
    assert run.stderr.strip() == NOT_RUNNING
    assert run.stdout == ""


def test_without_a_local_stack_the_command_says_how_to_get_one(tmp_path):
    run = run_console(f"{CONSOLE} tenant list", tmp_path, new_shell_environment())

    assert run.returncode == 1
    assert run.stderr.startswith(NOT_RUNNING) and "--table/--kms-key" in run.stderr
    assert "Traceback" not in run.stderr


def test_the_demo_custom_link_opens_a_room_page_the_stack_serves(stack):
    account = stack.admin("GET", "accounts/default")
    assert account.status == 200, account
    room = account.json()
    assert room["type"] == "custom_link" and room["has_password"] is True
    assert room["url"] == f"{stack.api}/_local/room/demo"

    booking = Booking(Client.unique(), start=dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1))
    assert stack.post_webhook(booking.event("booking.created")).status == 202
    provider_link = stack.wait_for_links(booking)["links"]["provider"]
    opened = stack.click_join(provider_link)
    assert opened.status == 303 and opened.headers["location"] == room["url"], opened

    page = stack.get(opened.headers["location"])
    assert page.status == 200, page
    assert page.headers["content-type"].startswith("text/html")
    assert "<h1>Demo meeting room</h1>" in page.text


def test_the_moved_emails_keep_the_room_password(stack):
    client = Client.unique()
    booking = Booking(client, start=(dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=2)).replace(microsecond=0))
    assert stack.post_webhook(booking.event("booking.created")).status == 202
    stack.wait_for_emails(1, to=client.email)
    booking.start += dt.timedelta(hours=1)

    assert stack.post_webhook(booking.event("booking.rescheduled")).status == 202

    (to_client,) = stack.wait_for_emails(1, to=client.email, mentioning="moved")
    (to_provider,) = stack.wait_for_emails(1, to=PROVIDER_EMAIL, mentioning=f"Rescheduled: Online consultation with {client.name}")
    for moved in (to_client, to_provider):
        assert f"Password: {DEMO_ROOM_PASSWORD}" in moved["html"], moved["html"]
        assert f"Password: {DEMO_ROOM_PASSWORD}" in moved["text"], moved["text"]
