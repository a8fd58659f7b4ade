"""Graph's onlineMeeting createOrGet: idempotent by (user, externalId), only its five parameters, and
Graph's defaults for missing times."""

import pytest
from test_microsoft_support import DANA, OWNER, connect, graph, ms

__all__ = ['ms']
PATH = '/me/onlineMeetings/createOrGet'


@pytest.fixture(autouse=True)
def clean(ms):
    ms.clear_faults()
    ms.reset_calls()


@pytest.fixture
def owner(ms):
    return connect(ms, OWNER)[1]


def body(**overrides):
    return {'externalId': 'ref-1', 'subject': 'Consultation', 'startDateTime': '2030-03-04T09:30:00+01:00',
            'endDateTime': '2030-03-04T10:00:00+01:00', **overrides}


def test_the_first_call_creates_201_and_a_second_answers_200_with_the_same_meeting_unchanged(http, ms, owner):
    first = graph(http, ms, owner, 'POST', PATH, json=body(externalId='same-ref'))
    assert first.status_code == 201, first.text
    made = first.json()
    assert made['externalId'] == 'same-ref' and made['startDateTime'] == '2030-03-04T08:30:00Z'
    second = graph(http, ms, owner, 'POST', PATH, json=body(externalId='same-ref', subject='Other',
                                                            startDateTime='2031-01-01T00:00:00Z',
                                                            endDateTime='2031-01-01T01:00:00Z'))
    assert second.status_code == 200
    again = second.json()
    assert again['id'] == made['id'] and again['subject'] == 'Consultation'
    assert again['startDateTime'] == '2030-03-04T08:30:00Z'
    assert [m['id'] for m in ms.meetings.values() if m['externalId'] == 'same-ref'] == [made['id']]
    assert [c['status'] for c in ms.calls('create_or_get_meeting')] == [201, 200]


def test_another_user_with_the_same_external_id_gets_a_meeting_of_their_own(http, ms, owner):
    dana = connect(ms, DANA)[1]
    mine = graph(http, ms, owner, 'POST', PATH, json=body(externalId='shared-ref')).json()
    theirs = graph(http, ms, dana, 'POST', PATH, json=body(externalId='shared-ref'))
    assert theirs.status_code == 201 and theirs.json()['id'] != mine['id']


def test_a_deleted_meeting_is_made_again(http, ms, owner):
    made = graph(http, ms, owner, 'POST', PATH, json=body(externalId='gone-ref')).json()
    assert graph(http, ms, owner, 'DELETE', f'/me/onlineMeetings/{made["id"]}').status_code == 204
    again = graph(http, ms, owner, 'POST', PATH, json=body(externalId='gone-ref'))
    assert again.status_code == 201 and again.json()['id'] != made['id']


def test_missing_times_default_to_now_and_one_hour(http, ms, owner):
    made = graph(http, ms, owner, 'POST', PATH, json={'externalId': 'no-times'}).json()
    start, end = made['startDateTime'], made['endDateTime']
    assert start[:16] == ms.now().strftime('%Y-%m-%dT%H:%M') and end > start
    only_start = graph(http, ms, owner, 'POST', PATH, json={'externalId': 'start-only',
                                                            'startDateTime': '2030-03-04T09:30:00Z'}).json()
    assert only_start['endDateTime'] == '2030-03-04T10:30:00Z'


@pytest.mark.parametrize('payload, text', [
    ({'subject': 'no external id'}, "'externalId' is required"),
    ({'externalId': ''}, "'externalId' is required"),
    ({'externalId': 'x', 'endDateTime': '2030-03-04T09:30:00Z'}, 'without startDateTime'),
    ({'externalId': 'x', 'startDateTime': '2030-03-04T09:30:00Z', 'endDateTime': '2030-03-04T09:00:00Z'},
     'later than startDateTime'),
    ({'externalId': 'x', 'lobbyBypassSettings': {'scope': 'everyone'}},
     "parameter 'lobbyBypassSettings' in the request payload is not a valid parameter for the operation"),
    ({'externalId': 'x', 'allowedPresenters': 'organizer'}, "parameter 'allowedPresenters'"),
])
def test_invalid_payloads_answer_400_and_make_nothing(http, ms, owner, payload, text):
    before = ms.meetings
    response = graph(http, ms, owner, 'POST', PATH, json=payload)
    assert response.status_code == 400, response.text
    error = response.json()['error']
    assert error['code'] == 'BadRequest' and text in error['message']
    assert ms.meetings == before


def test_a_lost_answer_still_made_the_meeting_and_the_retry_gets_it(http, ms, owner):
    ms.fail('create_or_get_meeting', 504, after=True)
    assert graph(http, ms, owner, 'POST', PATH, json=body(externalId='lost-ref')).status_code == 504
    [made] = [m for m in ms.meetings.values() if m['externalId'] == 'lost-ref']
    retry = graph(http, ms, owner, 'POST', PATH, json=body(externalId='lost-ref'))
    assert retry.status_code == 200 and retry.json()['id'] == made['id']
