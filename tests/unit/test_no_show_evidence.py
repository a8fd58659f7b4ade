"""no_show_evidence: only a booking whose client had a link to open can show that they did not open it."""

from datetime import UTC, datetime, timedelta

from meetbridge.logic.analytics import NEVER, Opens, no_show_evidence
from meetbridge.store.models import BookingItem

START = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def _booking(**fields) -> BookingItem:
    return BookingItem('TENANT#t', 'BOOKING#b', booking_id='b', start=START, end=START + timedelta(hours=1),
                       **{'status': 'active', 'client_link_sealed': b'sealed', **fields})


def test_before_the_start_there_is_no_evidence_either_way():
    assert no_show_evidence(_booking(), NEVER, START - timedelta(seconds=1)) is None


def test_a_start_passed_without_an_open_is_evidence_and_an_open_is_not():
    assert no_show_evidence(_booking(), NEVER, START) is True
    assert no_show_evidence(_booking(), Opens(START, START, 1), START + timedelta(minutes=5)) is False


def test_a_cancelled_booking_expected_nobody():
    assert no_show_evidence(_booking(status='cancelled'), NEVER, START + timedelta(hours=2)) is False


def test_a_booking_without_a_link_to_open_shows_nothing():
    kiosk = _booking(client_link_sealed=None, channel='kiosk', problem='online meetings are not available')
    assert no_show_evidence(kiosk, NEVER, START + timedelta(hours=2)) is None


def test_a_booking_held_in_person_shows_nothing():
    assert no_show_evidence(_booking(in_person=True), NEVER, START + timedelta(hours=2)) is None
