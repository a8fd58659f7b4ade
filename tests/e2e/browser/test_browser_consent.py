"""Connecting Zoom, Microsoft Teams and Google Meet as a person does, in headless Chromium: the admin's connect link,
our /oauth/{provider}/start, the sandbox's consent page, a click on its button, and our callback's page.

Each test connects the meeting account of a provider of its own, so the demo tenant's company account
(which the other e2e tests on the session stack use) never changes."""

import re

import pytest
from browser_support import assert_no_horizontal_scroll, new_provider
from playwright.sync_api import expect

# provider type -> (our name for it, the consent page's button that grants, the one that refuses, its signed-in email)
PROVIDERS = {
    "zoom": ("Zoom", "Allow", "Deny", "owner@zoom.example"),
    "microsoft": ("Microsoft Teams", "Accept", "Cancel", "owner@contoso.example"),
    "google": ("Google Meet", "Allow", "Cancel", "owner@example.com"),
}
SANDBOX_URLS = {"zoom": "zoom_sandbox_url", "microsoft": "microsoft_sandbox_url", "google": "google_sandbox_url"}
WIDTHS = [pytest.param(375, id="375px"), pytest.param(1280, id="desktop")]


def open_consent_page(stack, page, provider_type: str, provider_id: str) -> None:
    """The admin's connect link, opened in the browser: our start page sends it on to the sandbox's consent."""
    link = stack.admin("POST", f"connections/{provider_type}/connect-link",
                       {"provider_id": provider_id, "return_url": None})
    assert link.status == 200, link
    url = link.json()["url"]
    assert url.startswith(f"{stack.api}/oauth/{provider_type}/start?"), url
    page.goto(url)
    expect(page).to_have_url(re.compile("^" + re.escape(stack.info[SANDBOX_URLS[provider_type]])))


def click_through(stack, page, provider_type: str, button: str):
    """Clicks ``button`` on the consent page; returns our callback's response once its page is shown."""
    callback = f"{stack.api}/oauth/{provider_type}/callback"
    with page.expect_response(lambda response: response.url.startswith(callback)) as answer:
        page.get_by_role("button", name=button, exact=True).click()
    if answer.value.status == 302:
        # Google gives no refresh token to a user who granted before (an earlier test's provider): our
        # callback sends the browser back to its consent screen once, and the person clicks again.
        page.wait_for_url(re.compile("^" + re.escape(stack.info[SANDBOX_URLS[provider_type]])))
        with page.expect_response(lambda response: response.url.startswith(callback)) as answer:
            page.get_by_role("button", name=button, exact=True).click()
    # Microsoft's answer passes through a page that posts itself on load: wait for ours to have loaded.
    page.wait_for_url(re.compile("^" + re.escape(callback)))
    return answer.value


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("provider_type", PROVIDERS)
def test_granting_consent_connects_the_account(new_page, stack, shoot, check_accessible, provider_type, width):
    name, grant, _, email = PROVIDERS[provider_type]
    provider_id = new_provider(stack)
    page = new_page(width=width)
    open_consent_page(stack, page, provider_type, provider_id)
    shoot(page, f"{provider_type}-consent")

    answer = click_through(stack, page, provider_type, grant)
    assert answer.status == 200, answer
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{name} is connected")
    expect(page.get_by_text(email)).to_be_visible()
    shoot(page, f"{provider_type}-connected")
    check_accessible(page, f"{provider_type} connected")
    if width == 375:
        assert_no_horizontal_scroll(page)

    account = stack.admin("GET", f"providers/{provider_id}/account")
    assert account.status == 200, account
    assert (account.json()["type"], account.json()["status"]) == (provider_type, "active"), account.json()


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("provider_type", PROVIDERS)
def test_refusing_consent_shows_that_nothing_was_connected(new_page, stack, shoot, check_accessible,
                                                           provider_type, width):
    _, _, refuse, _ = PROVIDERS[provider_type]
    provider_id = new_provider(stack)
    before = stack.admin("GET", f"providers/{provider_id}/account")
    page = new_page(width=width)
    open_consent_page(stack, page, provider_type, provider_id)

    answer = click_through(stack, page, provider_type, refuse)
    assert 400 <= answer.status < 500, answer
    expect(page.get_by_role("heading", level=1)).to_have_text("Connection cancelled")
    expect(page.get_by_text("No account was connected.")).to_be_visible()
    shoot(page, f"{provider_type}-cancelled")
    check_accessible(page, f"{provider_type} cancelled")
    if width == 375:
        assert_no_horizontal_scroll(page)

    after = stack.admin("GET", f"providers/{provider_id}/account")
    assert (after.status, after.body) == (before.status, before.body)
