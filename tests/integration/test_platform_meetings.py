"""A meeting the booking platform made itself (`booking.platform_meeting_url`): wrapped, never made twice.

The booking gets a meeting with provider `platform`, no account and no call to Zoom or Teams; our links,
the waiting page, the start and the emails work as for any meeting and lead to the latest URL the platform
sent. A booking moving between our meeting and the platform's switches cleanly."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from bookings import booking_event
from helpers import LambdaContext, handler, join_event
from integration_stack import connect_zoom, sent_emails
from test_calcom_webhooks import SECRET, calcom_body, post

PLATFORM_URL = 'https://app.cal.example/video/Zt6yH1nQa8XcW3vBm5LkPe'
NEW_PLATFORM_URL = 'https://app.cal.example/video/NewUid2'
CLICK = {'sec-fetch-site': 'same-origin', 'content-type': 'application/x-www-form-urlencoded'}


def _platform_event(kind: str = 'booking.created', url: str | None = PLATFORM_URL, version: int = 1,
                    **kwargs) -> dict:
    event = booking_event(kind, version=version, **kwargs)
    if url is not None:
        event['booking']['platform_meeting_url'] = url
    return event


def _token(url: str) -> str:
    return url.rsplit('/', 1)[1]


def _look(stack, url: str, method: str = 'GET') -> dict:
    return handler('join')(join_event(_token(url), method), stack.context)


def _click(stack, url: str) -> dict:
    return handler('join')(join_event(_token(url), 'POST', CLICK), stack.context)


def _target(stack, url: str) -> str:
    clicked = _click(stack, url)
    assert clicked['statusCode'] == 303, clicked
    return clicked['headers']['Location']


def _zoom_calls(sandbox) -> list[str]:
    return [call['operation'] for call in sandbox.calls() if call['operation'] not in ('authorize', 'token')]


def _dana(stack) -> None:
    assert stack.admin('PUT', 'providers/dana', {'name': 'Dana Doe', 'email': 'dana@example.com',
                                                 'timezone': 'Europe/Berlin'})[0] == 200


@pytest.fixture
def zoom_company(stack, zoom):
    """Zoom is the company's account, so any meeting of ours would be made there."""
    _dana(stack)
    connect_zoom(stack, zoom)
    zoom.reset_calls()
    return zoom


def test_a_platform_meeting_is_wrapped_without_any_call_to_zoom(stack, zoom_company):
    # The service is not marked online: the platform already decided this booking is online.
    assert stack.admin('PUT', 'services/svc', {'name': 'Consultation', 'online': False})[0] == 200

    stack.book(_platform_event(start=datetime.now(UTC) - timedelta(minutes=1)))

    view = stack.view('b1')[1]
    assert (view['meeting']['provider'], view['meeting']['account_id'], view['meeting']['status']) == \
        ('platform', None, 'scheduled')
    assert view['booking']['problem'] is None
    links = view['links']
    assert _target(stack, links['clients']['c1']) == PLATFORM_URL
    assert _target(stack, links['provider']) == PLATFORM_URL  # the host's link leads to the same meeting
    assert _zoom_calls(zoom_company) == [] and zoom_company.meetings == {}


def test_looking_at_a_link_changes_nothing_and_before_the_start_shows_the_waiting_page(stack):
    _dana(stack)
    stack.book(_platform_event(start=datetime.now(UTC) + timedelta(hours=3)))
    links = stack.view('b1')[1]['links']

    for method in ('GET', 'HEAD'):
        page = _look(stack, links['clients']['c1'], method)
        assert page['statusCode'] == 200 and 'Location' not in page['headers']
    waiting = _look(stack, links['clients']['c1'])
    assert 'Starts in about' in waiting['body'] and PLATFORM_URL not in waiting['body']
    assert _click(stack, links['clients']['c1'])['statusCode'] == 200  # still the waiting page: not yet
    assert stack.view('b1')[1]['meeting']['status'] == 'scheduled'

    assert _target(stack, links['provider']) == PLATFORM_URL  # the provider may always open it


def test_the_emails_carry_our_links_never_the_platforms_url(stack):
    _dana(stack)
    stack.book(_platform_event())
    links = stack.view('b1')[1]['links']

    [client_mail] = [m for m in sent_emails() if 'c1@example.org' in m.destinations['ToAddresses']]
    [provider_mail] = [m for m in sent_emails() if 'dana@example.com' in m.destinations['ToAddresses']]
    assert links['clients']['c1'] in client_mail.body and links['provider'] in provider_mail.body
    assert all(PLATFORM_URL not in mail.body for mail in (client_mail, provider_mail))


def test_the_schedule_starts_a_platform_meeting_and_waiting_clients_go_in(stack):
    _dana(stack)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)  # reached: it starts at once
    stack.book(_platform_event(start=start))
    link = stack.view('b1')[1]['links']['clients']['c1']
    request = {'tenant_id': stack.tenant.tenant_id, 'meeting_key': 'booking:b1', 'start': start.isoformat(),
               'scheduled_time': (start - timedelta(seconds=60)).isoformat(), 'execution_id': 'x'}

    assert handler('auto_start')(request, LambdaContext()) == {'outcome': 'started'}

    assert stack.view('b1')[1]['meeting']['started_by'] == 'schedule'
    assert _target(stack, link) == PLATFORM_URL


def test_a_reschedule_with_a_new_url_keeps_the_links_and_leads_to_the_new_url(stack, zoom_company):
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    stack.book(_platform_event(start=start))
    before = stack.view('b1')[1]

    stack.book(_platform_event('booking.rescheduled', NEW_PLATFORM_URL, version=2, start=start + timedelta(hours=1)))

    after = stack.view('b1')[1]
    assert after['links'] == before['links'] and after['meeting']['provider'] == 'platform'
    assert after['meeting']['start'].startswith((start + timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M'))
    assert _target(stack, after['links']['provider']) == NEW_PLATFORM_URL
    assert _zoom_calls(zoom_company) == []


def test_a_new_url_at_the_same_time_is_followed_too(stack):
    _dana(stack)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    stack.book(_platform_event(start=start))
    links = stack.view('b1')[1]['links']
    assert _target(stack, links['clients']['c1']) == PLATFORM_URL

    stack.book(_platform_event('booking.rescheduled', NEW_PLATFORM_URL, version=2, start=start))

    assert stack.view('b1')[1]['links'] == links
    assert _target(stack, links['clients']['c1']) == NEW_PLATFORM_URL


def test_an_older_change_never_brings_back_an_older_url(stack):
    _dana(stack)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    stack.book(_platform_event('booking.rescheduled', NEW_PLATFORM_URL, version=2, start=start))
    stack.book(_platform_event(version=1, start=start))  # created earlier, delivered late

    assert _target(stack, stack.view('b1')[1]['links']['clients']['c1']) == NEW_PLATFORM_URL


def test_a_cancel_cancels_the_platform_meeting_without_any_provider_call(stack, zoom_company):
    stack.book(_platform_event(start=datetime.now(UTC) - timedelta(minutes=1)))
    links = stack.view('b1')[1]['links']

    stack.book(_platform_event('booking.cancelled', version=2, start=datetime.now(UTC) - timedelta(minutes=1)))

    view = stack.view('b1')[1]
    assert (view['booking']['status'], view['meeting']['status']) == ('cancelled', 'cancelled')
    for link in (links['clients']['c1'], links['provider']):
        assert _click(stack, link)['statusCode'] == 410
    assert _zoom_calls(zoom_company) == []


def test_our_zoom_meeting_is_deleted_when_the_platform_attaches_its_own(stack, zoom_company):
    assert stack.admin('PUT', 'services/svc', {'name': 'Consultation', 'online': True})[0] == 200
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    stack.book(_platform_event(url=None, start=start))
    before = stack.view('b1')[1]
    assert before['meeting']['provider'] == 'zoom' and len(zoom_company.meetings) == 1
    zoom_company.reset_calls()

    stack.book(_platform_event('booking.rescheduled', version=2, start=start))

    after = stack.view('b1')[1]
    assert _zoom_calls(zoom_company) == ['delete_meeting'] and zoom_company.meetings == {}
    assert (after['meeting']['provider'], after['meeting']['account_id']) == ('platform', None)
    assert after['links'] == before['links'] and after['booking']['problem'] is None
    assert _target(stack, after['links']['clients']['c1']) == PLATFORM_URL
    assert _target(stack, after['links']['provider']) == PLATFORM_URL


def test_the_platform_taking_its_meeting_away_gets_the_booking_ours(stack, zoom_company):
    assert stack.admin('PUT', 'services/svc', {'name': 'Consultation', 'online': True})[0] == 200
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    stack.book(_platform_event(start=start))
    before = stack.view('b1')[1]
    assert _zoom_calls(zoom_company) == []

    stack.book(_platform_event('booking.rescheduled', url=None, version=2, start=start))

    after = stack.view('b1')[1]
    assert _zoom_calls(zoom_company) == ['create_meeting']
    [meeting] = zoom_company.meetings.values()
    assert after['meeting']['provider'] == 'zoom' and after['meeting']['account_id']
    assert after['links'] == before['links']
    assert _target(stack, after['links']['clients']['c1']) == meeting['join_url']

    # and back again: the Zoom meeting is deleted through the account that made it
    zoom_company.reset_calls()
    stack.book(_platform_event('booking.rescheduled', NEW_PLATFORM_URL, version=3, start=start))
    assert _zoom_calls(zoom_company) == ['delete_meeting'] and zoom_company.meetings == {}
    assert _target(stack, after['links']['clients']['c1']) == NEW_PLATFORM_URL


def test_the_platform_taking_its_meeting_away_from_an_offline_service_leaves_no_meeting(stack, zoom_company):
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    stack.book(_platform_event(start=start))  # svc is not even registered: only the platform made it online
    links = stack.view('b1')[1]['links']

    stack.book(_platform_event('booking.rescheduled', url=None, version=2, start=start))

    view = stack.view('b1')[1]
    assert view['meeting']['status'] == 'cancelled' and 'no longer attaches' in view['booking']['problem']
    assert view['booking']['status'] == 'active'
    assert _click(stack, links['clients']['c1'])['statusCode'] == 410
    assert _zoom_calls(zoom_company) == []

    stack.book(_platform_event('booking.rescheduled', NEW_PLATFORM_URL, version=3, start=start))

    view = stack.view('b1')[1]
    assert (view['meeting']['provider'], view['meeting']['status'], view['booking']['problem']) == \
        ('platform', 'scheduled', None)
    assert view['links'] == links and _target(stack, links['clients']['c1']) == NEW_PLATFORM_URL
    assert _zoom_calls(zoom_company) == []


def test_a_class_booking_with_a_platform_url_leaves_the_session_meeting_to_the_others(stack, zoom_company):
    assert stack.admin('PUT', 'services/svc', {'name': 'Yoga', 'online': True, 'kind': 'class'})[0] == 200
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for n in (1, 2):
        stack.book(_platform_event(url=None, booking_id=f'b{n}', client_id=f'c{n}', session_id='s1', start=start))
    assert len(zoom_company.meetings) == 1
    zoom_company.reset_calls()

    stack.book(_platform_event('booking.rescheduled', version=2, session_id='s1', start=start))

    assert stack.view('b1')[1]['meeting']['provider'] == 'platform'
    assert stack.view('b2')[1]['meeting']['provider'] == 'zoom' and len(zoom_company.meetings) == 1
    assert 'delete_meeting' not in _zoom_calls(zoom_company)


@pytest.mark.parametrize('url', ['http://app.cal.example/video/1', 'javascript:alert(1)', 'https://', 'x' * 3000])
def test_a_platform_url_that_is_not_https_is_refused_naming_the_field(stack, url):
    status, answer = stack.post(_platform_event(url=url))

    assert status == 400 and answer['field'] == 'booking.platform_meeting_url'
    assert url not in json.dumps(answer)  # a join URL is never echoed back
    assert stack.view('b1')[0] == 404


# --- a meeting the platform is still making (`booking.platform_meeting_pending`) ----------------------


def _pending_event(kind: str = 'booking.rescheduled', version: int = 2, **kwargs) -> dict:
    event = _platform_event(kind, url=None, version=version, **kwargs)
    event['booking']['platform_meeting_pending'] = True
    return event


def test_a_pending_meeting_keeps_the_platforms_last_url_and_moves_its_time(stack, zoom_company):
    assert stack.admin('PUT', 'services/svc', {'name': 'Consultation', 'online': True})[0] == 200
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    stack.book(_platform_event(start=start))
    before = stack.view('b1')[1]

    stack.book(_pending_event(start=start + timedelta(hours=1)))

    after = stack.view('b1')[1]
    assert after['links'] == before['links'] and after['booking']['problem'] is None
    assert (after['meeting']['provider'], after['meeting']['status']) == ('platform', 'scheduled')
    assert after['meeting']['start'].startswith((start + timedelta(hours=1)).strftime('%Y-%m-%dT%H:%M'))
    assert _target(stack, after['links']['provider']) == PLATFORM_URL  # the provider may always open it
    assert _zoom_calls(zoom_company) == [] and zoom_company.meetings == {}


def test_a_pending_meeting_leaves_our_meeting_as_it_is_and_moves_it(stack, zoom_company):
    assert stack.admin('PUT', 'services/svc', {'name': 'Consultation', 'online': True})[0] == 200
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    stack.book(_platform_event(url=None, start=start))
    before = stack.view('b1')[1]
    [meeting_id] = zoom_company.meetings
    zoom_company.reset_calls()

    stack.book(_pending_event(start=start + timedelta(hours=1)))

    after = stack.view('b1')[1]
    assert after['links'] == before['links'] and after['booking']['problem'] is None
    assert after['meeting']['provider'] == 'zoom' and list(zoom_company.meetings) == [meeting_id]
    assert _zoom_calls(zoom_company) == ['update_meeting']


def test_a_booking_whose_meeting_is_pending_gets_none_of_ours_and_the_url_is_wrapped_when_it_comes(
        stack, zoom_company):
    assert stack.admin('PUT', 'services/svc', {'name': 'Consultation', 'online': True})[0] == 200
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    stack.book(_pending_event('booking.created', version=1, start=start))

    view = stack.view('b1')[1]
    assert 'has not sent its link' in view['booking']['problem'] and view['booking']['status'] == 'active'
    assert _zoom_calls(zoom_company) == [] and zoom_company.meetings == {}
    assert sent_emails() == []  # a failed booking emails nobody

    stack.book(_platform_event('booking.rescheduled', version=2, start=start))

    view = stack.view('b1')[1]
    assert view['booking']['problem'] is None
    assert (view['meeting']['provider'], view['meeting']['status']) == ('platform', 'scheduled')
    assert _target(stack, view['links']['clients']['c1']) == PLATFORM_URL
    assert _zoom_calls(zoom_company) == []
    assert any(view['links']['clients']['c1'] in mail.body for mail in sent_emails())


def test_a_pending_meeting_of_a_service_not_online_is_recorded_with_its_problem(stack):
    _dana(stack)
    stack.book(_pending_event('booking.created', version=1))

    view = stack.view('b1')[1]
    assert 'has not sent its link' in view['booking']['problem']


def test_a_pending_class_booking_stays_in_its_sessions_meeting(stack, zoom_company):
    assert stack.admin('PUT', 'services/svc', {'name': 'Yoga', 'online': True, 'kind': 'class'})[0] == 200
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    for n in (1, 2):
        stack.book(_platform_event(url=None, booking_id=f'b{n}', client_id=f'c{n}', session_id='s1', start=start))
    before = stack.view('b1')[1]
    zoom_company.reset_calls()

    stack.book(_pending_event(session_id='s1', start=start))

    after = stack.view('b1')[1]
    assert after['meeting'] == before['meeting'] and after['links'] == before['links']
    assert after['booking']['problem'] is None and len(zoom_company.meetings) == 1
    assert _zoom_calls(zoom_company) == []


def test_a_pending_meeting_with_a_url_is_refused_naming_the_field(stack):
    event = _platform_event()
    event['booking']['platform_meeting_pending'] = True

    status, answer = stack.post(event)

    assert status == 400 and answer['field'] == 'booking.platform_meeting_pending', answer
    assert PLATFORM_URL not in json.dumps(answer)
    assert stack.view('b1')[0] == 404


# --- Cal.com ----------------------------------------------------------------------------------------


def _calcom(stack, body: bytes) -> None:
    assert post(stack, body)[0] == 202
    stack.pump()


def _iso(moment: datetime) -> str:
    return moment.strftime('%Y-%m-%dT%H:%M:%S.000Z')


def test_a_cal_video_booking_is_wrapped_and_a_reschedule_moves_it_to_the_new_call(stack, zoom_company):
    # Cal.com's event type is registered offline, as any first-seen one: the platform's meeting is still wrapped.
    assert stack.admin('PUT', 'sources/calcom', {'secret': SECRET})[0] == 200
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1)
    _calcom(stack, calcom_body(location='integrations:daily', metadata={'videoCallUrl': PLATFORM_URL},
                               start=_iso(start), end=_iso(start + timedelta(minutes=45))))

    status, view = stack.admin('GET', 'sources/calcom/bookings/Zt6yH1nQa8XcW3vBm5LkPe')
    assert status == 200 and view['meeting']['provider'] == 'platform'
    assert stack.admin('GET', 'services/calcom:1207')[1]['online'] is False
    assert _target(stack, view['links']['clients'][next(iter(view['links']['clients']))]) == PLATFORM_URL

    _calcom(stack, calcom_body('BOOKING_RESCHEDULED', uid='NewUid2', created_at='2026-03-06T08:00:00.000Z',
                               rescheduleUid='Zt6yH1nQa8XcW3vBm5LkPe', location='integrations:daily',
                               metadata={'videoCallUrl': NEW_PLATFORM_URL},
                               start=_iso(start + timedelta(days=1)), end=_iso(start + timedelta(days=1, minutes=45))))

    after = stack.admin('GET', 'sources/calcom/bookings/NewUid2')[1]
    assert after['links'] == view['links'] and after['booking']['start'][:16] == _iso(start + timedelta(days=1))[:16]
    assert _target(stack, after['links']['provider']) == NEW_PLATFORM_URL
    assert _zoom_calls(zoom_company) == []
    assert sent_emails() and all(NEW_PLATFORM_URL not in m.body for m in sent_emails())


def test_the_wrapped_meeting_is_shown_by_the_generic_booking_view_too(stack):
    _dana(stack)
    stack.book(_platform_event())

    view = stack.view('b1')[1]
    assert view['meeting']['provider'] == 'platform' and view['meeting']['account_id'] is None
    assert not re.search(r'app\.cal\.example', json.dumps(view))  # the platform's URL is never shown
