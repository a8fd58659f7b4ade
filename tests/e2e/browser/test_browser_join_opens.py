"""Join analytics in headless Chromium: a link's page records one open per page view, once a person has had
it in front of them for a second (web/opened.js), and nothing while it is hidden."""

import datetime as dt

from e2e_support import Booking, Client

# The page's dwell before it records (web/opened.js) is 1 s: this is well past it, so a second post, or a
# post from a hidden page, would have been sent by then.
PAST_THE_DWELL_MS = 2500
# Before the page's own scripts run: the page reports itself hidden until the test shows it.
HIDDEN_UNTIL_SHOWN = """
window.__hidden = true;
Object.defineProperty(document, 'visibilityState', {get: () => (window.__hidden ? 'hidden' : 'visible')});
"""


def client_link(stack) -> tuple[Booking, str]:
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) + dt.timedelta(hours=2)
    booking = Booking(Client.unique("Europe/Lisbon"), start=start)
    assert stack.post_webhook(booking.event()).status == 202
    return booking, stack.wait_for_links(booking)["links"]["clients"][booking.client.id]


def client_opens(stack, booking: Booking) -> dict:
    return stack.booking_view(booking.id).json()["booking"]["opens"]["client"]


def opened_posts(page) -> list:
    sent = []
    page.on("request", lambda request: sent.append(request) if request.url.endswith("/opened") else None)
    return sent


def test_a_visible_page_records_one_open(stack, new_page):
    booking, link = client_link(stack)
    page = new_page()
    posts = opened_posts(page)

    with page.expect_response(lambda answer: answer.url.endswith("/opened")) as answered:
        page.goto(link)
    assert answered.value.status == 204 and answered.value.request.method == "POST"
    page.wait_for_timeout(PAST_THE_DWELL_MS)

    assert len(posts) == 1
    opens = client_opens(stack, booking)
    assert opens["count"] == 1 and opens["first"] == opens["last"] is not None


def test_a_hidden_page_records_nothing_until_it_is_shown(stack, new_page):
    booking, link = client_link(stack)
    page = new_page()
    page.add_init_script(HIDDEN_UNTIL_SHOWN)
    posts = opened_posts(page)

    page.goto(link)
    page.wait_for_timeout(PAST_THE_DWELL_MS)
    assert posts == [] and client_opens(stack, booking)["count"] == 0

    with page.expect_response(lambda answer: answer.url.endswith("/opened")) as answered:
        page.evaluate("window.__hidden = false; document.dispatchEvent(new Event('visibilitychange'))")
    assert answered.value.status == 204
    assert len(posts) == 1 and client_opens(stack, booking)["count"] == 1
