"""Calendar events with a Google Meet on the sandbox: insert/get/patch/delete/list on `primary` with
Google's rules and error bodies, the conference's pending/success/failure, and token checks."""

from concurrent.futures import ThreadPoolExecutor

import httpx2
import pytest
from google_sandbox_support import (DANA, INSERT, NOMEET, OWNER, auth_uri, calendar, clean, connect, error_of,
                                    event_body, event_id, exchange, google, insert)

__all__ = ['clean', 'google']


@pytest.fixture
def token(google, http):
    """A fresh token per test: some tests move the clock or revoke grants."""
    return connect(http, google, OWNER)


def path(reference: str, query: str = '') -> str:
    return f'/calendars/primary/events/{event_id(reference)}' + (f'?{query}' if query else '')


# --- insert ---


def test_insert_answers_the_event_with_its_meet(google, http, token):
    response = insert(http, google, token, 'insert-1')
    assert response.status_code == 200 and response.headers['content-type'] == 'application/json; charset=UTF-8'
    event = response.json()
    assert event['kind'] == 'calendar#event' and event['id'] == event_id('insert-1') and event['status'] == 'confirmed'
    assert event['creator'] == event['organizer'] == {'email': 'owner@example.com', 'self': True}
    assert event['start'] == {'dateTime': '2030-03-04T10:30:00+01:00', 'timeZone': 'Europe/Berlin'}
    assert event['end'] == {'dateTime': '2030-03-04T11:00:00+01:00', 'timeZone': 'Europe/Berlin'}
    assert event['sequence'] == 0 and event['iCalUID'] == event['id'] + '@google.com'
    assert event['reminders'] == {'useDefault': True} and event['eventType'] == 'default'
    assert event['etag'].startswith('"') and event['created'].endswith('Z') and event['htmlLink']
    data = event['conferenceData']
    assert data['createRequest'] == {'requestId': 'insert-1', 'conferenceSolutionKey': {'type': 'hangoutsMeet'},
                                     'status': {'statusCode': 'success'}}
    code = data['conferenceId']
    assert len(code) == 12 and code[3] == code[8] == '-' and code.replace('-', '').isalpha() and code.islower()
    assert event['hangoutLink'] == f'{google.url}/meet/{code}'
    assert data['entryPoints'] == [{'entryPointType': 'video', 'uri': event['hangoutLink'],
                                    'label': f'meet.google.com/{code}'}]
    assert data['conferenceSolution']['name'] == 'Google Meet'
    assert google.events[event['id']]['owner'] == OWNER
    assert http.get(event['hangoutLink']).status_code == 200
    assert google.calls('meet_page')[-1]['status'] == 200


def test_the_same_id_again_is_409_duplicate_even_once_deleted(google, http, token):
    assert insert(http, google, token, 'dup-1').status_code == 200
    again = insert(http, google, token, 'dup-1')
    assert error_of(again) == (409, 'duplicate', 'The requested identifier already exists.')
    assert calendar(http, google, token, 'DELETE', path('dup-1')).status_code == 204
    assert error_of(insert(http, google, token, 'dup-1'))[:2] == (409, 'duplicate')


def test_another_users_calendar_has_its_own_ids(google, http, token):
    assert insert(http, google, token, 'shared-ref').status_code == 200
    dana = connect(http, google, DANA)
    assert insert(http, google, dana, 'shared-ref').status_code == 200
    assert calendar(http, google, dana, 'GET', path('shared-ref')).json()['organizer']['email'] == 'dana@example.com'


@pytest.mark.parametrize('bad_id', ['abcd', 'ABCDEF', 'abcdefw', 'abc-def', 'a' * 1025, '', 12345])
def test_an_event_id_outside_base32hex_5_to_1024_is_400_invalid(google, http, token, bad_id):
    response = insert(http, google, token, 'bad-id', id=bad_id)
    assert error_of(response) == (400, 'invalid', 'Invalid resource id value.')


def test_an_id_of_5_or_1024_base32hex_characters_and_no_id_at_all_are_fine(google, http, token):
    assert insert(http, google, token, 'five', id='0v0v0').status_code == 200
    assert insert(http, google, token, 'long', id='v' * 1024).status_code == 200
    body = event_body('no-id')
    del body['id']
    chosen = calendar(http, google, token, 'POST', INSERT, json=body).json()['id']
    assert len(chosen) == 26 and set(chosen) <= set('0123456789abcdefghijklmnopqrstuv')


def test_a_reused_request_id_is_ignored_the_new_event_has_no_conference(google, http, token):
    first = insert(http, google, token, 'req-1').json()
    second = insert(http, google, token, 'req-2', conferenceData=event_body('req-1')['conferenceData']).json()
    assert 'hangoutLink' in first and 'conferenceData' not in second and 'hangoutLink' not in second


@pytest.mark.parametrize('query', ['/calendars/primary/events?sendUpdates=none',
                                   '/calendars/primary/events?conferenceDataVersion=0'])
def test_without_conference_data_version_1_the_conference_data_is_ignored_silently(google, http, token, query):
    reference = 'no-version-' + query[-1]
    response = insert(http, google, token, reference, query=query)
    assert response.status_code == 200
    assert 'conferenceData' not in response.json() and 'hangoutLink' not in response.json()
    # the requestId was never used: a conference can still be asked for with it
    patched = calendar(http, google, token, 'PATCH', path(reference, 'conferenceDataVersion=1'),
                       json={'conferenceData': event_body(reference)['conferenceData']})
    assert patched.json()['conferenceData']['createRequest']['status']['statusCode'] == 'success'


@pytest.mark.parametrize('query', ['conferenceDataVersion=2', 'conferenceDataVersion=-1', 'conferenceDataVersion=x',
                                   'sendUpdates=everyone', 'sendUpdates=', 'conferenceDataVersion=1&sendUpdates=NONE'])
def test_bad_query_values_are_400_invalid(google, http, token, query):
    response = insert(http, google, token, 'bad-query', query='/calendars/primary/events?' + query)
    assert error_of(response)[:2] == (400, 'invalid')
    assert event_id('bad-query') not in google.events


@pytest.mark.parametrize('value', ['all', 'externalOnly', 'none'])
def test_every_send_updates_value_is_taken(google, http, token, value):
    response = insert(http, google, token, f'send-{value}', query=f'/calendars/primary/events?sendUpdates={value}')
    assert response.status_code == 200


@pytest.mark.parametrize('overrides, reason, message', [
    ({'start': None}, 'required', 'Missing start time.'),
    ({'end': None}, 'required', 'Missing end time.'),
    ({'start': {}}, 'required', 'Missing start time.'),
    ({'start': {'dateTime': '2030-03-04T09:30:00'}}, 'required', 'Missing time zone definition for start time.'),
    ({'start': {'dateTime': '2030-03-04 09:30:00Z'}}, 'invalid', 'Invalid start time.'),
    ({'start': {'dateTime': '2030-02-30T09:30:00Z'}}, 'invalid', 'Invalid start time.'),
    ({'start': {'dateTime': 20300304}}, 'invalid', 'Invalid start time.'),
    ({'start': {'dateTime': '2030-03-04T09:30:00Z', 'date': '2030-03-04'}}, 'invalid', 'Invalid start time.'),
    ({'start': {'dateTime': '2030-03-04T09:30:00Z', 'timeZone': 'Mars/Olympus'}}, 'invalid',
     'Invalid time zone definition for start time.'),
    ({'end': {'dateTime': '2030-03-04T09:29:59Z'}}, 'timeRangeEmpty', 'The specified time range is empty.'),
    ({'start': {'date': '2030-03-04'}, 'end': {'date': '2030-03-04'}}, 'timeRangeEmpty',
     'The specified time range is empty.'),
    ({'start': {'date': '2030-03-04'}}, 'invalid', 'Start and end times must either both be date or both be dateTime.'),
    ({'status': 'maybe'}, 'invalid', 'Invalid value for: status'),
    ({'summary': ['x']}, 'invalid', 'Invalid value for: summary'),
    ({'conferenceData': {'createRequest': {'requestId': 'r', 'conferenceSolutionKey': {'type': 'zoom'}}}},
     'invalid', 'Invalid conference type value.'),
    ({'conferenceData': {'createRequest': {'conferenceSolutionKey': {'type': 'hangoutsMeet'}}}},
     'invalid', 'Invalid conference create request.'),
])
def test_bad_bodies_get_googles_400s(google, http, token, overrides, reason, message):
    body = event_body('bad-body', **overrides)
    body = {k: v for k, v in body.items() if v is not None}
    response = calendar(http, google, token, 'POST', INSERT, json=body)
    assert error_of(response) == (400, reason, message)


def test_times_in_any_offset_or_a_local_time_with_its_zone(google, http, token):
    local = insert(http, google, token, 'local', start={'dateTime': '2030-07-01T09:00:00', 'timeZone': 'America/New_York'},
                   end={'dateTime': '2030-07-01T09:45:00', 'timeZone': 'America/New_York'}).json()
    assert local['start'] == {'dateTime': '2030-07-01T09:00:00-04:00', 'timeZone': 'America/New_York'}
    offset = insert(http, google, token, 'offset', start={'dateTime': '2030-07-01T09:00:00+05:30'},
                    end={'dateTime': '2030-07-01T04:00:00Z'}).json()
    assert offset['start'] == {'dateTime': '2030-07-01T03:30:00Z'} and offset['end'] == {'dateTime': '2030-07-01T04:00:00Z'}
    zero = insert(http, google, token, 'zero-length', end=event_body()['start']).json()  # start == end is allowed
    assert zero['start']['dateTime'] == zero['end']['dateTime']
    all_day = insert(http, google, token, 'all-day', start={'date': '2030-07-01'}, end={'date': '2030-07-02'}).json()
    assert all_day['start'] == {'date': '2030-07-01'}


def test_unreadable_bodies_are_400_parse_error(google, http, token):
    for content in (b'{', b'[]', b'"x"', b'{"summary": NaN}', b'\xff'):
        response = calendar(http, google, token, 'POST', INSERT, content=content,
                            headers={'Content-Type': 'application/json'})
        assert error_of(response)[:2] == (400, 'parseError')
    empty = calendar(http, google, token, 'POST', INSERT)
    assert error_of(empty) == (400, 'required', 'Missing start time.')


# --- conference states ---


def test_a_pending_conference_becomes_success_after_the_set_number_of_reads(google, http, token):
    google.set_conference_pending(2)
    created = insert(http, google, token, 'pending-1').json()
    assert created['conferenceData']['createRequest']['status'] == {'statusCode': 'pending'}
    assert 'hangoutLink' not in created and 'entryPoints' not in created['conferenceData']
    reads = [calendar(http, google, token, 'GET', path('pending-1')).json() for _ in range(3)]
    assert [r['conferenceData']['createRequest']['status']['statusCode'] for r in reads] == [
        'pending', 'pending', 'success']
    assert reads[-1]['hangoutLink'].startswith(google.url + '/meet/')
    assert http.get(reads[-1]['hangoutLink']).status_code == 200
    google.set_conference_pending(0)
    assert 'hangoutLink' in insert(http, google, token, 'pending-2').json()


def test_a_user_without_meet_gets_failure_and_no_link(google, http):
    nomeet = connect(http, google, NOMEET)
    event = insert(http, google, nomeet, 'no-meet').json()
    assert event['conferenceData']['createRequest']['status'] == {'statusCode': 'failure'}
    assert 'hangoutLink' not in event and 'entryPoints' not in event['conferenceData']
    again = calendar(http, google, nomeet, 'GET', path('no-meet')).json()
    assert again['conferenceData']['createRequest']['status'] == {'statusCode': 'failure'}


# --- get, patch, delete, list ---


def test_get_answers_the_event_and_404_for_one_that_never_existed(google, http, token):
    created = insert(http, google, token, 'get-1').json()
    assert calendar(http, google, token, 'GET', path('get-1')).json() == created
    assert error_of(calendar(http, google, token, 'GET', path('never-made'))) == (404, 'notFound', 'Not Found')
    dana = connect(http, google, DANA)
    assert calendar(http, google, dana, 'GET', path('get-1')).status_code == 404  # not on Dana's calendar


def test_patch_moves_the_event_keeps_the_conference_and_bumps_the_sequence(google, http, token):
    created = insert(http, google, token, 'patch-1').json()
    moved = calendar(http, google, token, 'PATCH', path('patch-1', 'conferenceDataVersion=1&sendUpdates=none'),
                     json={'summary': 'Moved', 'start': {'dateTime': '2030-03-05T09:30:00Z', 'timeZone': 'Europe/Berlin'},
                           'end': {'dateTime': '2030-03-05T10:30:00Z', 'timeZone': 'Europe/Berlin'},
                           'status': 'confirmed'})
    event = moved.json()
    assert moved.status_code == 200 and event['summary'] == 'Moved' and event['sequence'] == 1
    assert event['start']['dateTime'] == '2030-03-05T10:30:00+01:00'
    assert event['hangoutLink'] == created['hangoutLink'] and event['conferenceData'] == created['conferenceData']
    renamed = calendar(http, google, token, 'PATCH', path('patch-1'), json={'summary': 'Renamed'}).json()
    assert renamed['sequence'] == 1 and renamed['updated'] >= event['updated']  # no time change: same sequence
    same_instant = calendar(http, google, token, 'PATCH', path('patch-1'),
                            json={'start': {'dateTime': '2030-03-05T11:30:00+02:00'}}).json()
    assert same_instant['sequence'] == 1  # the same instant in another offset is no move


def test_patch_of_start_alone_keeps_the_zone_and_refuses_an_empty_range(google, http, token):
    insert(http, google, token, 'patch-2')
    later = calendar(http, google, token, 'PATCH', path('patch-2'), json={'start': {'dateTime': '2030-03-04T09:45:00Z'}})
    assert later.json()['start'] == {'dateTime': '2030-03-04T10:45:00+01:00', 'timeZone': 'Europe/Berlin'}
    empty = calendar(http, google, token, 'PATCH', path('patch-2'), json={'start': {'dateTime': '2030-03-04T11:00:00Z'}})
    assert error_of(empty)[:2] == (400, 'timeRangeEmpty')
    assert error_of(calendar(http, google, token, 'PATCH', path('nothing-here'), json={'summary': 'x'}))[:2] == (
        404, 'notFound')


def test_status_confirmed_restores_an_event_the_host_deleted(google, http, token):
    created = insert(http, google, token, 'restore-1').json()
    google.remove_event(created['id'])
    removed = calendar(http, google, token, 'GET', path('restore-1')).json()
    assert removed['status'] == 'cancelled'
    assert http.get(created['hangoutLink']).status_code == 404  # a cancelled event's Meet page is gone
    restored = calendar(http, google, token, 'PATCH', path('restore-1', 'conferenceDataVersion=1&sendUpdates=none'),
                        json={'status': 'confirmed', 'start': event_body()['start'], 'end': event_body()['end']}).json()
    assert restored['status'] == 'confirmed' and restored['hangoutLink'] == created['hangoutLink']


def test_delete_is_204_then_410_and_get_shows_it_cancelled(google, http, token):
    insert(http, google, token, 'delete-1')
    deleted = calendar(http, google, token, 'DELETE', path('delete-1', 'sendUpdates=none'))
    assert deleted.status_code == 204 and deleted.content == b''
    assert error_of(calendar(http, google, token, 'DELETE', path('delete-1'))) == (
        410, 'deleted', 'Resource has been deleted')
    assert calendar(http, google, token, 'GET', path('delete-1')).json()['status'] == 'cancelled'
    assert error_of(calendar(http, google, token, 'DELETE', path('never-made')))[:2] == (404, 'notFound')
    assert error_of(calendar(http, google, token, 'DELETE', path('delete-1', 'sendUpdates=x')))[:2] == (400, 'invalid')


def test_list_pages_and_hides_cancelled_events_unless_asked(google, http):
    user = google.add_user('105000000000000000201', 'lister@example.com')['id']
    lister = connect(http, google, user)
    for n in range(3):
        insert(http, google, lister, f'list-{n}')
    calendar(http, google, lister, 'DELETE', path('list-1'))
    one = calendar(http, google, lister, 'GET', '/calendars/primary/events?maxResults=1').json()
    assert one['kind'] == 'calendar#events' and one['summary'] == 'lister@example.com'
    assert [e['id'] for e in one['items']] == [event_id('list-0')] and one['nextPageToken']
    rest = calendar(http, google, lister, 'GET', '/calendars/primary/events',
                    params={'maxResults': 5, 'pageToken': one['nextPageToken']}).json()
    assert [e['id'] for e in rest['items']] == [event_id('list-2')] and 'nextPageToken' not in rest
    everything = calendar(http, google, lister, 'GET', '/calendars/primary/events?showDeleted=true').json()
    assert len(everything['items']) == 3
    for query in ('maxResults=0', 'maxResults=2501', 'pageToken=nonsense', 'showDeleted=yes'):
        assert error_of(calendar(http, google, lister, 'GET', '/calendars/primary/events?' + query))[:2] == (
            400, 'invalid')


# --- which calendar, and the token ---


@pytest.mark.parametrize('method, suffix', [('POST', ''), ('GET', ''), ('GET', '/abcdefgh'), ('PATCH', '/abcdefgh'),
                                            ('DELETE', '/abcdefgh')])
def test_any_calendar_but_primary_is_404(google, http, token, method, suffix):
    response = calendar(http, google, token, method, f'/calendars/owner@example.com/events{suffix}',
                        json=event_body('other-calendar') if method in ('POST', 'PATCH') else None)
    assert error_of(response) == (404, 'notFound', 'Not Found')


def test_a_missing_wrong_expired_or_revoked_token_is_401_auth_error(google, http):
    held = connect(http, google, DANA)
    for headers in ({'Authorization': ''}, {'Authorization': 'Bearer nope'}, {'Authorization': 'Basic abc'}):
        response = calendar(http, google, '', 'GET', '/calendars/primary/events', headers=headers)
        assert error_of(response) == (401, 'authError', 'Invalid Credentials')
        assert response.headers['www-authenticate'].startswith('Bearer')
    google.advance(3599)
    assert error_of(calendar(http, google, held, 'GET', '/calendars/primary/events'))[:2] == (401, 'authError')
    fresh = connect(http, google, DANA)
    google.expire_access_tokens()
    assert calendar(http, google, fresh, 'GET', '/calendars/primary/events').status_code == 401
    newest = connect(http, google, DANA)
    google.revoke_grants(DANA)
    assert calendar(http, google, newest, 'GET', '/calendars/primary/events').status_code == 401


@pytest.mark.parametrize('scope, can_write', [('https://www.googleapis.com/auth/calendar.events', True),
                                             ('https://www.googleapis.com/auth/calendar', True),
                                             ('https://www.googleapis.com/auth/calendar.readonly', False)])
def test_each_calendar_scope_covers_what_it_should(google, http, scope, can_write):
    answer = google.authorize(OWNER, auth_uri(google, scope=f'openid {scope}', prompt='consent'))
    held = exchange(http, google, answer['code']).json()
    assert calendar(http, google, held, 'GET', '/calendars/primary/events').status_code == 200
    created = insert(http, google, held, 'scope-' + scope[-8:].replace('.', ''))
    assert created.status_code == (200 if can_write else 403)


def test_unknown_calendar_paths_and_methods_answer_in_googles_shape(google, http, token):
    assert error_of(calendar(http, google, token, 'GET', '/users/me/calendarList'))[:2] == (404, 'notFound')
    assert calendar(http, google, token, 'PUT', path('anything')).status_code == 405


# --- redelivery: the same request at once from several workers ---


def test_concurrent_inserts_of_one_id_make_one_event_and_409s(google, token):
    def attempt(_: int) -> int:
        with httpx2.Client(trust_env=False, timeout=5.0) as client:
            return insert(client, google, token, 'raced-1').status_code

    with ThreadPoolExecutor(max_workers=6) as pool:
        statuses = sorted(pool.map(attempt, range(6)))
    assert statuses == [200] + [409] * 5
    assert sum(1 for e in google.events.values() if e['id'] == event_id('raced-1')) == 1
