from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from meetbridge.domain.access import (
    AFTER_END_GRACE,
    EARLY_START_WINDOW,
    LinkState,
    Outcome,
    Phase,
    Role,
    decide,
    phase,
    provider_click_starts_meeting,
)

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
END = START + timedelta(hours=1)
S = timedelta(seconds=1)


def state(role: Role = Role.CLIENT, **changes) -> LinkState:
    base = LinkState(
        role=role, link_active=True, booking_cancelled=False, meeting_cancelled=False, meeting_started=False,
        payment_required=False, paid=False, account_usable=True, start=START, end=END,
    )
    return replace(base, **changes)


CLIENT, PROVIDER = Role.CLIENT, Role.PROVIDER
UNPAID = dict(payment_required=True, paid=False)
PAID = dict(payment_required=True, paid=True)

CASES = [
    # (id, role, changes, now, expected)
    ('revoked link', CLIENT, dict(link_active=False), START, Outcome.CANCELLED),
    ('revoked provider link', PROVIDER, dict(link_active=False), START, Outcome.CANCELLED),
    ('cancelled booking', CLIENT, dict(booking_cancelled=True), START, Outcome.CANCELLED),
    ('cancelled meeting', CLIENT, dict(meeting_cancelled=True), START, Outcome.CANCELLED),
    ('cancelled meeting, provider', PROVIDER, dict(meeting_cancelled=True), START - timedelta(hours=1),
     Outcome.CANCELLED),
    ('cancelled wins over ended', CLIENT, dict(booking_cancelled=True), END + timedelta(days=3), Outcome.CANCELLED),
    ('cancelled wins over unusable account', CLIENT, dict(meeting_cancelled=True, account_usable=False), START,
     Outcome.CANCELLED),
    ('in person', CLIENT, dict(in_person=True), START, Outcome.IN_PERSON),
    ('in person wins over the revoked provider link', PROVIDER,
     dict(in_person=True, link_active=False, meeting_cancelled=True), START, Outcome.IN_PERSON),
    ('in person wins over ended and unpaid', CLIENT, dict(in_person=True, **UNPAID), END + timedelta(days=1),
     Outcome.IN_PERSON),
    ('a cancelled booking is cancelled, in person or not', CLIENT, dict(in_person=True, booking_cancelled=True),
     START, Outcome.CANCELLED),
    ('just after end + grace', CLIENT, {}, END + AFTER_END_GRACE + S, Outcome.ENDED),
    ('ended, provider too', PROVIDER, {}, END + AFTER_END_GRACE + S, Outcome.ENDED),
    ('ended even when started', CLIENT, dict(meeting_started=True), END + AFTER_END_GRACE + S, Outcome.ENDED),
    ('ended wins over unpaid', CLIENT, UNPAID, END + timedelta(days=1), Outcome.ENDED),
    ('exactly end + grace still opens', CLIENT, {}, END + AFTER_END_GRACE, Outcome.REDIRECT),
    ('running over, within grace', CLIENT, {}, END + timedelta(minutes=30), Outcome.REDIRECT),
    ('unusable account', CLIENT, dict(account_usable=False), START, Outcome.UNAVAILABLE),
    ('unusable account, provider', PROVIDER, dict(account_usable=False), START, Outcome.UNAVAILABLE),
    ('provider two hours early', PROVIDER, {}, START - timedelta(hours=2), Outcome.REDIRECT),
    ('provider a second early', PROVIDER, {}, START - S, Outcome.REDIRECT),
    ('provider at start', PROVIDER, {}, START, Outcome.REDIRECT),
    ('provider of an unpaid booking', PROVIDER, UNPAID, START, Outcome.REDIRECT),
    ('client a day early', CLIENT, {}, START - timedelta(days=1), Outcome.WAIT),
    ('client a second early', CLIENT, {}, START - S, Outcome.WAIT),
    ('client exactly at start', CLIENT, {}, START, Outcome.REDIRECT),
    ('client mid-meeting', CLIENT, {}, START + timedelta(minutes=20), Outcome.REDIRECT),
    ('client early, provider started it', CLIENT, dict(meeting_started=True), START - timedelta(minutes=10),
     Outcome.REDIRECT),
    ('unpaid before start', CLIENT, UNPAID, START - timedelta(minutes=5), Outcome.PAYMENT_REQUIRED),
    ('unpaid at start', CLIENT, UNPAID, START, Outcome.PAYMENT_REQUIRED),
    ('unpaid after start', CLIENT, UNPAID, START + timedelta(minutes=5), Outcome.PAYMENT_REQUIRED),
    ('unpaid, meeting started', CLIENT, dict(UNPAID, meeting_started=True), START + S, Outcome.PAYMENT_REQUIRED),
    ('paid at start', CLIENT, PAID, START, Outcome.REDIRECT),
    ('paid, started early', CLIENT, dict(PAID, meeting_started=True), START - timedelta(minutes=5), Outcome.REDIRECT),
    ('paid before start waits', CLIENT, PAID, START - S, Outcome.WAIT),
    ('paid flag alone, payment not required', CLIENT, dict(payment_required=False, paid=False), START,
     Outcome.REDIRECT),
]


@pytest.mark.parametrize(('role', 'changes', 'now', 'expected'), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_decide(role, changes, now, expected):
    assert decide(state(role, **changes), now) is expected


def test_windows_are_as_documented():
    assert EARLY_START_WINDOW == timedelta(minutes=15)
    assert AFTER_END_GRACE == timedelta(hours=1)


CLICKS = [
    ('provider, exactly 15 min early', PROVIDER, {}, START - timedelta(minutes=15), True),
    ('provider, 15 min + 1 s early', PROVIDER, {}, START - timedelta(minutes=15) - S, False),
    ('provider, an hour early', PROVIDER, {}, START - timedelta(hours=1), False),
    ('provider, 5 min early', PROVIDER, {}, START - timedelta(minutes=5), True),
    ('provider, at start', PROVIDER, {}, START, True),
    ('provider, at end', PROVIDER, {}, END, True),
    ('provider, after end', PROVIDER, {}, END + S, False),
    ('provider, already started', PROVIDER, dict(meeting_started=True), START - timedelta(minutes=5), False),
    ('client never starts it', CLIENT, {}, START, False),
    ('client never starts it early', CLIENT, {}, START - timedelta(minutes=5), False),
]


@pytest.mark.parametrize(('role', 'changes', 'now', 'expected'), [c[1:] for c in CLICKS], ids=[c[0] for c in CLICKS])
def test_provider_click_starts_meeting(role, changes, now, expected):
    assert provider_click_starts_meeting(state(role, **changes), now) is expected


def test_an_early_provider_click_outside_the_window_still_opens_the_meeting_without_starting_it():
    link, now = state(PROVIDER), START - timedelta(minutes=30)

    assert decide(link, now) is Outcome.REDIRECT
    assert provider_click_starts_meeting(link, now) is False


PHASES = [
    ('client a second early', CLIENT, {}, START - S, Phase.WAITING),
    ('client at start', CLIENT, {}, START, Phase.OPEN),
    ('client early, started by hand', CLIENT, dict(meeting_started=True), START - timedelta(hours=2), Phase.OPEN),
    ('provider an hour early', PROVIDER, {}, START - timedelta(hours=1), Phase.WAITING),
    ('provider 15 min + 1 s early', PROVIDER, {}, START - timedelta(minutes=15) - S, Phase.WAITING),
    ('provider exactly 15 min early', PROVIDER, {}, START - timedelta(minutes=15), Phase.OPEN),
    ('provider early, started by hand', PROVIDER, dict(meeting_started=True), START - timedelta(hours=1), Phase.OPEN),
    ('provider after end, within grace', PROVIDER, {}, END + S, Phase.OPEN),
    ('unpaid client', CLIENT, UNPAID, START, Phase.PAYMENT_REQUIRED),
    ('cancelled', PROVIDER, dict(meeting_cancelled=True), START, Phase.CANCELLED),
    ('ended', CLIENT, {}, END + AFTER_END_GRACE + S, Phase.ENDED),
    ('unusable account', CLIENT, dict(account_usable=False), START - timedelta(hours=1), Phase.UNAVAILABLE),
]


@pytest.mark.parametrize(('role', 'changes', 'now', 'expected'), [c[1:] for c in PHASES], ids=[c[0] for c in PHASES])
def test_phase_the_page_is_in(role, changes, now, expected):
    assert phase(state(role, **changes), now) is expected
