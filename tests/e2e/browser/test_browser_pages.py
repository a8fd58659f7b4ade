"""Each page a person can meet through a join link, in headless Chromium at a phone's and a desktop's
width: a screenshot, axe-core's check, and no sideways scrolling on the phone."""

import pytest
from playwright.sync_api import expect

WIDTHS = [pytest.param(375, id="375px"), pytest.param(1280, id="desktop")]


def assert_no_horizontal_scroll(page):
    scroll_width, client_width = page.evaluate(
        "[document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]")
    assert scroll_width <= client_width, f"{page.url} scrolls sideways: {scroll_width} px wide in {client_width} px"


@pytest.mark.parametrize("width", WIDTHS)
def test_not_found_page(stack, new_page, shoot, check_accessible, width):
    page = new_page(width=width)
    response = page.goto(f"{stack.api}/j/no-such-link")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    shoot(page, "not-found")
    check_accessible(page, "not-found")
    assert_no_horizontal_scroll(page)
