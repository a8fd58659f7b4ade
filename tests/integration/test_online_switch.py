"""One booking or class session switched online or in person (PUT …/bookings/{id}/online, …/sessions/{id}/online):
the meeting deleted at the Zoom sandbox and made again with the same links, the links' in-person page, the
notifications, through reschedules, for bookings of the session arriving later, and the same switch twice."""

import json
import os
from datetime import UTC, datetime, timedelta

import boto3
import pytest
from bookings import booking_event
from helpers import handler, http_event, join_event, sqs_event
from integration_stack import Queue, connect_zoom, sent_emails

from meetbridge.logic.bookings import KIOSK
from meetbridge.store.models import BookingItem, MeetingItem, SessionItem

ANNOUNCEMENTS = ['meeting.scheduled', 'meeting.rescheduled', 'meeting.cancelled', 'meeting.failed',
                 'meeting.in_person']


@pytest.fixture
def announced(cloud) -> Queue:
    """Every announcement of a booking as the bus carries it: a queue of its own behind a rule."""
    sqs, bus = boto3.client('sqs'), os.environ['EVENT_BUS_NAME']
    url = sqs.create_queue(QueueName='announced')['QueueUrl']
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
    events = boto3.client('events')
    events.put_rule(Name='announced', EventBusName=bus, EventPattern=json.dumps(
        {'source': ['meetbridge'], 'detail-type': ANNOUNCEMENTS}))
    events.put_targets(Rule='announced', EventBusName=bus, Targets=[{'Id': 'announced', 'Arn': arn}])
    return Queue(url, arn)


@pytest.fixture
def ready(stack, zoom, announced):
    stack.setup_online_service()
    connect_zoom(stack, zoom)
    stack.pump()
    announced.receive()
    return stack


def _zoom_calls(zoom) -> list[str]:
    return [call['operation'] for call in zoom.calls() if call['operation'] not in ('authorize', 'token')]


def _announced(queue: Queue) -> list[str]:
    return [json.loads(record['body'])['detail-type'] for record in queue.receive()]


def _switch(stack, rest: str, online: bool, **kwargs) -> dict:
    status, answer = stack.admin('PUT', f'{rest}/online', {'online': online}, **kwargs)
    assert status == 202, answer
    stack.pump()
    return answer


def _page(stack, url: str, method: str = 'GET') -> dict:
    headers = {'sec-fetch-site': 'same-origin'} if method == 'POST' else None
    return handler('join')(join_event(url.rsplit('/', 1)[1], method, headers), stack.context)


def _state(stack, url: str) -> dict:
    token = url.rsplit('/', 1)[1]
    event = http_event('GET', f'/j/{token}/state', '/j/{token}/state', {'token': token})
    event['routeKey'] = event['requestContext']['routeKey'] = 'ANY /j/{token}/state'
    answer = handler('join')(event, stack.context)
    assert answer['statusCode'] == 200 and answer['headers']['Content-Type'] == 'application/json'
    return json.loads(answer['body'])


def _subjects(to: str) -> list[str]:
    return [mail.subject for mail in sent_emails() if to in mail.destinations['ToAddresses']]


def _assert_in_person_pages(stack, links: dict) -> None:
    for url in (links['provider'], *links['clients'].values()):
        for method in ('GET', 'POST'):
            page = _page(stack, url, method)
            assert page['statusCode'] == 200 and 'This session is now in person' in page['body'], (url, method)
        assert _state(stack, url)['state'] == 'in_person'


def test_a_booking_switched_in_person_and_back_keeps_its_links_through_a_reschedule(ready, zoom, announced):
    stack, tenant_id = ready, ready.tenant.tenant_id
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    stack.book(booking_event(start=start, version=1))
    before = stack.view('b1')[1]
    assert before['booking']['online'] == {'override': None, 'effective': True}
    [zoom_id] = zoom.meetings
    links = before['links']
    emails_before = len(sent_emails())
    announced.receive()
    zoom.reset_calls()

    answer = _switch(stack, 'bookings/b1', False)

    assert answer['booking']['online'] == {'override': False, 'effective': False}  # stored; applied by the pump
    assert _zoom_calls(zoom) == ['delete_meeting'] and zoom.meetings == {}
    view = stack.view('b1')[1]
    assert view['booking']['online'] == {'override': False, 'effective': False}
    assert view['booking']['problem'] is None and view['meeting']['status'] == 'cancelled'
    assert view['links'] == links  # kept: they say the session is in person
    meeting = MeetingItem.get(*MeetingItem.key(tenant_id, 'booking:b1'))
    assert meeting.in_person and meeting.schedule_name is None and not meeting.reminder_schedule_names
    assert _announced(announced) == ['meeting.in_person']
    assert _subjects('c1@example.org')[-1].startswith('Now in person: Consultation')
    assert _subjects('dana@example.com')[-1].startswith('Now in person: Consultation')
    assert len(sent_emails()) == emails_before + 2
    _assert_in_person_pages(stack, links)
    assert stack.admin('GET', 'bookings')[1]['items'][0]['online'] is False

    # The same switch again changes nothing and sends nothing.
    version = BookingItem.get(*BookingItem.key(tenant_id, 'b1')).version
    _switch(stack, 'bookings/b1', False)
    assert BookingItem.get(*BookingItem.key(tenant_id, 'b1')).version == version
    assert _zoom_calls(zoom) == ['delete_meeting'] and _announced(announced) == []
    assert len(sent_emails()) == emails_before + 2

    # A reschedule from the platform keeps the booking in person: no meeting, nothing announced.
    moved = start + timedelta(days=1)
    stack.book(booking_event('booking.rescheduled', start=moved, version=2))
    view = stack.view('b1')[1]
    assert view['booking']['start'] == moved.isoformat().replace('+00:00', 'Z')
    assert view['booking']['online'] == {'override': False, 'effective': False}
    assert zoom.meetings == {} and _announced(announced) == [] and len(sent_emails()) == emails_before + 2

    _switch(stack, 'bookings/b1', True)

    assert _zoom_calls(zoom) == ['delete_meeting', 'create_meeting']
    [(new_id, made)] = zoom.meetings.items()
    assert new_id != zoom_id and made['start_time'] == moved.strftime('%Y-%m-%dT%H:%M:%SZ')
    view = stack.view('b1')[1]
    assert view['booking']['online'] == {'override': True, 'effective': True}
    assert view['meeting']['status'] == 'scheduled' and view['links'] == links  # the same links
    assert _announced(announced) == ['meeting.scheduled']
    assert _subjects('c1@example.org')[-1].startswith('Your online meeting')
    client_page = _page(stack, links['clients']['c1'])
    assert client_page['statusCode'] == 200 and 'Your meeting starts soon' in client_page['body']
    assert _state(stack, links['provider'])['state'] == 'waiting'

    # Switched online, it stays online through a reschedule: the same meeting moves.
    zoom.reset_calls()
    stack.book(booking_event('booking.rescheduled', start=moved + timedelta(hours=2), version=3))
    assert _zoom_calls(zoom) == ['update_meeting'] and list(zoom.meetings) == [new_id]
    assert stack.view('b1')[1]['booking']['online'] == {'override': True, 'effective': True}


def test_a_booking_of_a_service_that_is_not_online_is_switched_online(ready, zoom, announced):
    stack = ready
    stack.book(booking_event(version=1))
    assert stack.admin('PUT', 'services/svc', {'name': 'Consultation', 'online': False})[0] == 200
    assert stack.view('b1')[1]['booking']['online'] == {'override': None, 'effective': True}  # it has its meeting
    _switch(stack, 'bookings/b1', False)
    assert zoom.meetings == {}
    assert stack.view('b1')[1]['booking']['online'] == {'override': False, 'effective': False}

    _switch(stack, 'bookings/b1', True)

    assert len(zoom.meetings) == 1
    view = stack.view('b1')[1]
    assert view['meeting']['status'] == 'scheduled' and view['booking']['online']['effective'] is True


def test_a_class_session_switched_in_person_holds_later_bookings_and_comes_back_with_the_same_links(
        ready, zoom, announced):
    stack, tenant_id = ready, ready.tenant.tenant_id
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=4)
    for number in (1, 2):
        stack.book(booking_event(booking_id=f'b{number}', client_id=f'c{number}', session_id='yoga-1', start=start))
    assert len(zoom.meetings) == 1
    links = {booking_id: stack.view(booking_id)[1]['links'] for booking_id in ('b1', 'b2')}
    announced.receive()
    zoom.reset_calls()

    status, answer = stack.admin('PUT', 'sessions/yoga-1/online', {'online': False})
    assert status == 202 and answer == {'session_id': 'yoga-1', 'online': False, 'switching': ['b1', 'b2']}
    stack.pump()

    assert zoom.meetings == {} and 'delete_meeting' in _zoom_calls(zoom)
    for booking_id in ('b1', 'b2'):
        view = stack.view(booking_id)[1]
        assert view['booking']['online'] == {'override': False, 'effective': False}
        _assert_in_person_pages(stack, links[booking_id])
    assert sorted(_announced(announced)) == ['meeting.in_person'] * 2
    assert SessionItem.get(*SessionItem.key(tenant_id, 'yoga-1')).in_person_ids == {'b1', 'b2'}
    listed = {item['id']: item['online'] for item in stack.admin('GET', 'bookings')[1]['items']}
    assert listed == {'b1': False, 'b2': False}

    # A booking of the session arriving later is held in person too; a reschedule of the session keeps it so.
    zoom.reset_calls()
    stack.book(booking_event(booking_id='b3', client_id='c3', session_id='yoga-1', start=start))
    moved = start + timedelta(hours=1)
    stack.book(booking_event('booking.rescheduled', booking_id='b1', client_id='c1', session_id='yoga-1',
                             start=moved, version=2))
    assert zoom.calls() == [] and zoom.meetings == {} and _announced(announced) == []
    late = stack.view('b3')[1]
    assert late['booking']['online'] == {'override': False, 'effective': False} and late['links']['clients'] == {}
    assert stack.admin('PUT', 'sessions/yoga-1/online', {'online': False})[1]['switching'] == []  # the same again

    # One booking of it switched online on its own, then the whole session: every booking follows the session.
    _switch(stack, 'bookings/b2', True)
    assert len(zoom.meetings) == 1
    _switch(stack, 'sessions/yoga-1', True)

    assert len(zoom.meetings) == 1  # one meeting for the session
    meeting = MeetingItem.get(*MeetingItem.key(tenant_id, 'session:yoga-1'))
    assert meeting.booking_ids == {'b1', 'b2', 'b3'} and meeting.status == 'scheduled' and not meeting.in_person
    for booking_id in ('b1', 'b2'):
        view = stack.view(booking_id)[1]
        assert view['links']['clients'] == links[booking_id]['clients']
        assert view['links']['provider'] == links['b1']['provider']
        assert view['booking']['online'] == {'override': True, 'effective': True}
    assert stack.view('b3')[1]['links']['clients']['c3']  # minted once it is online
    assert BookingItem.get(*BookingItem.key(tenant_id, 'b2')).online is None  # it follows the session again
    assert sorted(_announced(announced)) == ['meeting.scheduled'] * 3


def test_a_session_switched_online_gives_later_bookings_of_a_service_that_is_not_online_a_meeting(ready, zoom):
    stack = ready
    assert stack.admin('PUT', 'services/svc', {'name': 'Yoga', 'online': False})[0] == 200
    status, answer = stack.admin('PUT', 'sessions/yoga-2/online', {'online': True})
    assert (status, answer) == (202, {'session_id': 'yoga-2', 'online': True, 'switching': []})

    stack.book(booking_event(booking_id='b1', session_id='yoga-2'))
    stack.book(booking_event(booking_id='other', session_id='yoga-3', client_id='c2'))

    assert len(zoom.meetings) == 1
    view = stack.view('b1')[1]
    assert view['meeting']['key'] == 'session:yoga-2' and view['booking']['online'] == {'override': True,
                                                                                       'effective': True}
    assert stack.view('other')[0] == 404  # another session follows its service


def test_what_cannot_be_switched_is_refused_with_a_json_problem(ready, zoom):
    stack = ready
    kiosk = booking_event(booking_id='kiosk-1')
    kiosk['booking']['channel'] = 'kiosk'
    stack.book(kiosk)
    assert stack.admin('PUT', 'bookings/kiosk-1/online', {'online': True}) == (
        409, {'error': 'invalid_state', 'message': KIOSK})
    assert stack.admin('PUT', 'bookings/nope/online', {'online': True})[0] == 404
    for body in ({'online': 'yes'}, {}, {'online': True, 'extra': 1}, {'online': None}):
        status, problem = stack.admin('PUT', 'bookings/kiosk-1/online', body)
        assert status == 400 and problem['error'] == 'invalid_request', body
    stack.book(booking_event(booking_id='b1'))
    stack.book(booking_event('booking.cancelled', booking_id='b1', version=2))
    assert stack.admin('PUT', 'bookings/b1/online', {'online': False})[0] == 409
    assert zoom.meetings == {}


def test_a_junior_key_switches_its_providers_bookings_but_no_session(ready, zoom):
    stack = ready
    stack.book(booking_event(booking_id='b1'))
    status, junior = stack.admin('POST', 'keys', {'role': 'junior', 'providers': ['dana']})
    assert status == 201

    assert stack.admin('PUT', 'bookings/b1/online', {'online': False}, api_key=junior['key'])[0] == 202
    stack.pump()
    assert zoom.meetings == {}
    assert stack.admin('PUT', 'sessions/yoga-1/online', {'online': False}, api_key=junior['key'])[0] == 403
    status, senior = stack.admin('POST', 'keys', {'role': 'senior'})
    assert stack.admin('PUT', 'sessions/yoga-1/online', {'online': False}, api_key=senior['key'])[0] == 202


def test_a_platforms_own_meeting_switched_in_person_and_back_is_the_platforms_again(ready, zoom):
    stack, url = ready, 'https://meet.platform.example/room-7'
    event = booking_event(session_id='yoga-9')
    event['booking']['platform_meeting_url'] = url
    stack.book(event)
    links = stack.view('b1')[1]['links']
    zoom.reset_calls()

    _switch(stack, 'bookings/b1', False)
    assert stack.view('b1')[1]['meeting']['status'] == 'cancelled'
    _switch(stack, 'bookings/b1', True)

    view = stack.view('b1')[1]
    assert view['meeting']['provider'] == 'platform' and view['meeting']['key'] == 'booking:b1'
    assert view['meeting']['status'] == 'scheduled' and view['links'] == links
    assert _zoom_calls(zoom) == [] and zoom.meetings == {}  # none of ours made beside it
    click = _page(stack, links['provider'], 'POST')
    assert click['statusCode'] == 303 and click['headers']['Location'] == url


def test_a_switch_racing_a_change_of_the_booking_reads_it_again_and_409_only_when_it_keeps_changing(
        ready, zoom, monkeypatch):
    from meetbridge.logic import online

    stack = ready
    stack.book(booking_event(version=1))
    key = BookingItem.key(stack.tenant.tenant_id, 'b1')
    stale = BookingItem.get(*key)
    # The booking's own change lands between the switch's read and its write.
    stack.book(booking_event('booking.rescheduled', start=stale.start + timedelta(hours=1), version=2))
    real_read = online.repository.find_consistent

    # A stale first read: the write conflicts, the booking is read again and the switch stored.
    stale_copies = iter([stale])
    with monkeypatch.context() as patched:
        patched.setattr(online.repository, 'find_consistent',
                        lambda model, item_key: next(stale_copies, None) or real_read(model, item_key))
        assert stack.admin('PUT', 'bookings/b1/online', {'online': False})[0] == 202
    assert BookingItem.get(*key).online is False
    _switch(stack, 'bookings/b1', True)

    # A booking that changed before every one of the switch's writes: 409, nothing stored, safe to repeat.
    version = BookingItem.get(*key).version
    with monkeypatch.context() as patched:
        def one_version_behind(model, item_key):
            item = real_read(model, item_key)
            item.version = version - 1
            return item

        patched.setattr(online.repository, 'find_consistent', one_version_behind)
        status, problem = stack.admin('PUT', 'bookings/b1/online', {'online': False})
    assert (status, problem['error']) == (409, 'conflict')
    assert BookingItem.get(*key).online is True
    assert len(zoom.meetings) == 1
    _switch(stack, 'bookings/b1', False)
    assert zoom.meetings == {} and stack.view('b1')[1]['booking']['online']['effective'] is False


def test_a_booking_held_in_person_moves_the_sessions_version_on(ready, zoom):
    stack, key = ready, SessionItem.key(ready.tenant.tenant_id, 'yoga-5')
    _switch(stack, 'sessions/yoga-5', False)
    assert SessionItem.get(*key).version == 1

    for number in (1, 2):
        stack.book(booking_event(booking_id=f'b{number}', client_id=f'c{number}', session_id='yoga-5'))

    session = SessionItem.get(*key)
    assert session.version == 5  # each booking noted in booking_ids, then held in in_person_ids
    assert session.booking_ids == session.in_person_ids == {'b1', 'b2'} and session.online is False
    assert zoom.meetings == {}


def test_a_booking_held_in_person_then_cancelled_has_links_that_say_cancelled_and_no_email(ready, zoom):
    stack = ready
    stack.book(booking_event(version=1))
    links = stack.view('b1')[1]['links']
    _switch(stack, 'bookings/b1', False)
    emails = len(sent_emails())

    stack.book(booking_event('booking.cancelled', version=2))

    for url in (links['provider'], links['clients']['c1']):
        page = _page(stack, url)
        assert page['statusCode'] == 410 and 'This meeting was cancelled' in page['body']
    assert len(sent_emails()) == emails  # no "online meeting cancelled" for a session held in person
    assert zoom.meetings == {}


def test_a_switch_flipped_back_online_while_the_booking_leaves_its_meeting_makes_it_again(ready, zoom,
                                                                                          monkeypatch):
    from meetbridge.logic import bookings

    stack = ready
    stack.book(booking_event(start=datetime.now(UTC).replace(microsecond=0) + timedelta(days=3), version=1))
    links = stack.view('b1')[1]['links']
    assert stack.admin('PUT', 'bookings/b1/online', {'online': False})[0] == 202
    to_in_person = stack.cloud.queues['meetings'].receive()
    real_leave = bookings._leave

    def leave_then_the_admin_flips_back(*args, **kwargs):
        real_leave(*args, **kwargs)  # the Zoom meeting is deleted; the booking is not saved yet
        assert stack.admin('PUT', 'bookings/b1/online', {'online': True})[0] == 202

    with monkeypatch.context() as patched:
        patched.setattr(bookings, '_leave', leave_then_the_admin_flips_back)
        handler('meetings')(sqs_event(to_in_person), stack.context)  # its booking's save conflicts
    handler('meetings')(sqs_event(to_in_person + stack.cloud.queues['meetings'].receive()), stack.context)
    stack.pump()

    view = stack.view('b1')[1]
    assert view['booking']['online'] == {'override': True, 'effective': True}
    assert view['meeting']['status'] == 'scheduled' and len(zoom.meetings) == 1
    assert view['links'] == links and _page(stack, links['clients']['c1'])['statusCode'] == 200
    assert _state(stack, links['clients']['c1'])['state'] != 'in_person'


def test_a_switch_flipped_back_in_person_while_the_meeting_is_made_leaves_no_meeting(ready, zoom, monkeypatch):
    from meetbridge.logic import bookings

    stack, tenant_id = ready, ready.tenant.tenant_id
    stack.book(booking_event(start=datetime.now(UTC).replace(microsecond=0) + timedelta(days=3), version=1))
    _switch(stack, 'bookings/b1', False)
    assert zoom.meetings == {}
    assert stack.admin('PUT', 'bookings/b1/online', {'online': True})[0] == 202
    to_online = stack.cloud.queues['meetings'].receive()
    real_make_on = bookings._make_on

    def made_then_the_admin_flips_back(*args, **kwargs):
        made = real_make_on(*args, **kwargs)  # the Zoom meeting exists; the booking is not saved yet
        assert stack.admin('PUT', 'bookings/b1/online', {'online': False})[0] == 202
        return made

    with monkeypatch.context() as patched:
        patched.setattr(bookings, '_make_on', made_then_the_admin_flips_back)
        handler('meetings')(sqs_event(to_online), stack.context)  # its booking's save conflicts
    handler('meetings')(sqs_event(to_online + stack.cloud.queues['meetings'].receive()), stack.context)
    stack.pump()

    meeting = MeetingItem.get(*MeetingItem.key(tenant_id, 'booking:b1'))
    assert zoom.meetings == {}
    assert meeting.status == 'cancelled' and not meeting.booking_ids and meeting.schedule_name is None
    assert stack.view('b1')[1]['booking']['online'] == {'override': False, 'effective': False}


def test_the_bookings_list_shows_a_booking_whose_meeting_lists_no_booking(ready, zoom):
    stack, tenant_id = ready, ready.tenant.tenant_id
    stack.book(booking_event(version=1))
    meeting = MeetingItem.get(*MeetingItem.key(tenant_id, 'booking:b1'))
    # Its last booking taken out, the meeting not yet removed: DynamoDB stores no empty set, and the attribute's
    # default reads the absent one back as an empty set.
    meeting.update(actions=[MeetingItem.booking_ids.remove()])
    assert MeetingItem.get(*MeetingItem.key(tenant_id, 'booking:b1')).booking_ids == set()

    status, answer = stack.admin('GET', 'bookings')

    assert status == 200 and answer['items'][0]['online'] is True


def test_a_session_switch_writes_a_booking_again_after_a_conflict_and_a_409_midway_has_sent_what_was_stored(
        ready, zoom, monkeypatch):
    from meetbridge.errors import Conflict
    from meetbridge.logic import online

    stack, tenant_id = ready, ready.tenant.tenant_id
    for number in (1, 2):
        stack.book(booking_event(booking_id=f'b{number}', client_id=f'c{number}', session_id='yoga-5'))
        _switch(stack, f'bookings/b{number}', True)  # each booking's own override, which the session's clears
    real_save = online.repository.save
    conflicts = {'b1': 1, 'b2': online.SAVE_ATTEMPTS}  # b1 once (the meetings function wrote it), b2 every time

    def save_after_conflicts(item, **kwargs):
        if isinstance(item, BookingItem) and conflicts.get(item.booking_id):
            conflicts[item.booking_id] -= 1
            raise Conflict('BookingItem changed concurrently')
        real_save(item, **kwargs)

    monkeypatch.setattr(online, 'SEND_BATCH', 1)
    with monkeypatch.context() as patched:
        patched.setattr(online.repository, 'save', save_after_conflicts)
        status, problem = stack.admin('PUT', 'sessions/yoga-5/online', {'online': False})

    assert (status, problem['error']) == (409, 'conflict')
    assert BookingItem.get(*BookingItem.key(tenant_id, 'b1')).online is None
    assert BookingItem.get(*BookingItem.key(tenant_id, 'b2')).online is True
    records = stack.cloud.queues['meetings'].receive()
    assert [json.loads(record['body'])['detail']['booking_id'] for record in records] == ['b1']
    handler('meetings')(sqs_event(records), stack.context)
    answer = _switch(stack, 'sessions/yoga-5', False)  # the same request again does the rest
    assert answer['switching'] == ['b2']
    assert zoom.meetings == {}
    assert all(stack.view(f'b{number}')[1]['booking']['online'] == {'override': False, 'effective': False}
               for number in (1, 2))


def test_a_switch_that_fails_shows_on_the_booking_until_it_is_applied(ready, zoom):
    stack = ready
    stack.book(booking_event(version=1))
    _switch(stack, 'bookings/b1', False)
    zoom.fail('create_meeting', 503, body={'code': 503, 'message': 'Service Unavailable'}, times=1)
    assert stack.admin('PUT', 'bookings/b1/online', {'online': True})[0] == 202
    records = stack.cloud.queues['meetings'].receive()

    report = handler('meetings')(sqs_event(records), stack.context)

    assert report['batchItemFailures'] == [{'itemIdentifier': records[0]['messageId']}]
    assert stack.view('b1')[1]['booking']['problem'] == 'waiting for a retry: Zoom is unavailable or busy (503)'
    assert handler('meetings')(sqs_event(records), stack.context)['batchItemFailures'] == []
    view = stack.view('b1')[1]
    assert view['booking']['problem'] is None and view['meeting']['status'] == 'scheduled'


def test_a_session_switched_online_while_its_new_booking_is_held_in_person_has_it_online(ready, zoom, monkeypatch):
    from meetbridge.logic import bookings

    stack = ready
    _switch(stack, 'sessions/yoga-5', False)
    real_record_in_person = bookings._record_in_person

    def the_admin_switches_first(*args, **kwargs):
        # The booking read the session's override (in person); the switch back online does not see it yet.
        assert stack.admin('PUT', 'sessions/yoga-5/online', {'online': True})[1]['switching'] == []
        return real_record_in_person(*args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(bookings, '_record_in_person', the_admin_switches_first)
        stack.post(booking_event(booking_id='b1', client_id='c1', session_id='yoga-5'))
        records = stack.cloud.queues['meetings'].receive()
        assert handler('meetings')(sqs_event(records), stack.context)['batchItemFailures'] != []
    handler('meetings')(sqs_event(records), stack.context)
    stack.pump()

    view = stack.view('b1')[1]
    assert view['booking']['online'] == {'override': True, 'effective': True}
    assert view['meeting']['status'] == 'scheduled' and len(zoom.meetings) == 1
    assert 'b1' not in (SessionItem.get(*SessionItem.key(stack.tenant.tenant_id, 'yoga-5')).in_person_ids or set())


def test_a_session_switched_in_person_while_its_new_booking_joins_the_meeting_has_it_in_person(ready, zoom,
                                                                                               monkeypatch):
    from meetbridge.logic import bookings

    stack = ready
    real_join = bookings._join

    def the_admin_switches_first(*args, **kwargs):
        # The booking read no override (its service is online); the switch to in person does not see it yet.
        assert stack.admin('PUT', 'sessions/yoga-5/online', {'online': False})[1]['switching'] == []
        return real_join(*args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(bookings, '_join', the_admin_switches_first)
        stack.post(booking_event(booking_id='b1', client_id='c1', session_id='yoga-5'))
        records = stack.cloud.queues['meetings'].receive()
        assert handler('meetings')(sqs_event(records), stack.context)['batchItemFailures'] != []
    handler('meetings')(sqs_event(records), stack.context)
    stack.pump()

    view = stack.view('b1')[1]
    assert view['booking']['online'] == {'override': False, 'effective': False}
    assert zoom.meetings == {}
    meeting = MeetingItem.get(*MeetingItem.key(stack.tenant.tenant_id, 'session:yoga-5'))
    assert meeting.status == 'cancelled' and not meeting.booking_ids


def test_a_booking_rescheduled_much_later_while_in_person_keeps_its_links_alive_and_shows_its_new_time(ready, zoom):
    from meetbridge.logic.links import KEEP_AFTER_END, token_of
    from meetbridge.security.secrets import digest
    from meetbridge.store.models import JoinLinkItem

    stack, tenant_id = ready, ready.tenant.tenant_id
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    stack.book(booking_event(start=start, version=1))
    links = stack.view('b1')[1]['links']
    _switch(stack, 'bookings/b1', False)
    later = start + timedelta(days=60)

    stack.book(booking_event('booking.rescheduled', start=later, version=2))

    end = BookingItem.get(*BookingItem.key(tenant_id, 'b1')).end
    assert end > later
    for url in (links['provider'], links['clients']['c1']):
        assert JoinLinkItem.get(*JoinLinkItem.key(digest(token_of(url)))).ttl == end + KEEP_AFTER_END
    meeting = MeetingItem.get(*MeetingItem.key(tenant_id, 'booking:b1'))
    assert (meeting.status, meeting.start, meeting.end) == ('cancelled', later, end)

    _switch(stack, 'bookings/b1', True)
    assert len(zoom.meetings) == 1 and stack.view('b1')[1]['links'] == links
    for url in (links['provider'], links['clients']['c1']):
        assert JoinLinkItem.get(*JoinLinkItem.key(digest(token_of(url)))).ttl == end + KEEP_AFTER_END
        assert _page(stack, url)['statusCode'] == 200


def test_a_late_in_person_notice_does_not_contradict_the_booking_back_online(ready, zoom):
    stack, queues = ready, ready.cloud.queues
    stack.book(booking_event(version=1))
    before = _subjects('c1@example.org')

    def switched(online: bool) -> list[dict]:
        assert stack.admin('PUT', 'bookings/b1/online', {'online': online})[0] == 202
        assert handler('meetings')(sqs_event(queues['meetings'].receive()), stack.context)['batchItemFailures'] == []
        return queues['notifications'].receive()

    in_person, back_online = switched(False), switched(True)
    for records in (back_online, in_person):  # the later notice first
        assert handler('notifications')(sqs_event(records), stack.context)['batchItemFailures'] == []

    sent = _subjects('c1@example.org')[len(before):]
    assert len(sent) == 1 and not sent[0].startswith('Now in person')


def test_the_page_of_a_class_booking_moved_while_in_person_shows_its_new_time(ready, zoom):
    stack = ready
    # Midday UTC: the same date in the zone the page shows it in.
    start = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=3)
    for number in (1, 2):
        stack.book(booking_event(booking_id=f'b{number}', client_id=f'c{number}', session_id='yoga-5', start=start,
                                 version=1))
    link = stack.view('b1')[1]['links']['clients']['c1']
    _switch(stack, 'bookings/b1', False)  # its session stays online for b2
    later = start + timedelta(days=7)

    stack.book(booking_event('booking.rescheduled', booking_id='b1', client_id='c1', session_id='yoga-5',
                             start=later, version=2))

    page = _page(stack, link)
    assert page['statusCode'] == 200 and 'This session is now in person' in page['body']
    assert later.strftime('%d %B %Y') in page['body'] and start.strftime('%d %B %Y') not in page['body']


def test_a_session_switch_reaches_its_booking_that_failed_for_lack_of_an_account(stack, zoom):
    tenant_id = stack.tenant.tenant_id
    assert stack.admin('PUT', 'services/svc', {'name': 'Yoga', 'online': True})[0] == 200
    stack.book(booking_event(session_id='yoga-5'))
    assert 'No meeting account' in stack.view('b1')[1]['booking']['problem']  # in no meeting
    assert SessionItem.get(*SessionItem.key(tenant_id, 'yoga-5')).booking_ids == {'b1'}
    connect_zoom(stack, zoom)
    stack.pump()

    assert _switch(stack, 'sessions/yoga-5', False)['switching'] == ['b1']
    view = stack.view('b1')[1]
    assert view['booking']['online'] == {'override': False, 'effective': False} and view['meeting'] is None
    assert zoom.meetings == {}
    assert _switch(stack, 'sessions/yoga-5', True)['switching'] == ['b1']

    view = stack.view('b1')[1]
    assert view['booking']['online'] == {'override': True, 'effective': True} and view['booking']['problem'] is None
    assert view['meeting']['key'] == 'session:yoga-5' and view['meeting']['status'] == 'scheduled'
    assert len(zoom.meetings) == 1


def test_a_session_switch_reaches_its_booking_with_the_platforms_own_meeting(ready, zoom):
    stack, url = ready, 'https://meet.platform.example/room-8'
    event = booking_event(session_id='yoga-6')
    event['booking']['platform_meeting_url'] = url
    stack.book(event)
    links = stack.view('b1')[1]['links']
    assert stack.view('b1')[1]['meeting']['key'] == 'booking:b1'  # not in the session's meeting
    zoom.reset_calls()

    assert _switch(stack, 'sessions/yoga-6', False)['switching'] == ['b1']
    view = stack.view('b1')[1]
    assert view['booking']['online'] == {'override': False, 'effective': False}
    assert view['meeting']['status'] == 'cancelled'
    _assert_in_person_pages(stack, links)
    assert _switch(stack, 'sessions/yoga-6', True)['switching'] == ['b1']

    view = stack.view('b1')[1]
    assert view['booking']['online'] == {'override': True, 'effective': True}
    assert view['meeting']['provider'] == 'platform' and view['meeting']['status'] == 'scheduled'
    assert view['links'] == links and _zoom_calls(zoom) == [] and zoom.meetings == {}
    click = _page(stack, links['provider'], 'POST')
    assert click['statusCode'] == 303 and click['headers']['Location'] == url
