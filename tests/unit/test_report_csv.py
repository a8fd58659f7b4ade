"""The meetings report as CSV: RFC 4180 (quotes, CRLF), UTF-8 with a byte order mark, one line per client, and
no cell a spreadsheet would run as a formula (OWASP's CSV injection)."""

import csv
import io
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from meetbridge.logic.reports import CSV_COLUMNS, MeetingRow, MeetingsReport, Named, ReportClient, as_csv, csv_cell

KOLKATA = ZoneInfo('Asia/Kolkata')
START = datetime(2030, 5, 4, 9, 0, tzinfo=UTC).astimezone(KOLKATA)

AWKWARD_NAMES = [
    'Plain Name', 'Doe, Jane', 'Jane "JJ" Doe', 'two\nlines', 'carriage\rreturn', 'Renée Éclair',
    'Тетяна Їжакова', 'Bjørn Øster', '=1+2', '+31 6 1234', '-2+3', '@SUM(A1:A2)', '\tTabbed', '\rReturned',
    '=HYPERLINK("http://evil.example","click"), ok', '',
]


def _report(names: list[str]) -> MeetingsReport:
    clients = [ReportClient(booking_id=f'b{number}', status='active', name=name, email=f'b{number}@example.com',
                            first_opened=None, no_show_evidence=number % 2 == 0) for number, name in enumerate(names)]
    row = MeetingRow(meeting_key='session:s1', booking_ids=[client.booking_id for client in clients],
                     service=Named(id='yoga', name='Yoga, "flow"'), provider=Named(id='p1', name=None),
                     clients=clients, start=START, end=START + timedelta(hours=1), account_type='zoom',
                     account_slot='company', meeting_status='scheduled', started_at=None, started_by=None,
                     provider_first_opened=None, problem=None)
    return MeetingsReport(timezone='Asia/Kolkata', items=[row], next=None)


@pytest.mark.parametrize('start', ['=', '+', '-', '@', '\t', '\r'])
def test_a_cell_beginning_like_a_formula_is_made_text_with_one_quote(start):
    assert csv_cell(f'{start}cmd|calc') == f"'{start}cmd|calc"


def test_other_text_is_kept_as_it_is_and_values_are_written_as_in_json():
    for text in ('Doe, Jane', 'a=b', "O'Brien", ' =not first', '2030-05-04T14:30:00+05:30',
                 '2030-05-04T06:30:00-03:00', 'Renée'):
        assert csv_cell(text) == text
    assert (csv_cell(None), csv_cell(True), csv_cell(False)) == ('', 'true', 'false')


def test_the_page_is_utf8_with_a_bom_crlf_and_reads_back_cell_for_cell():
    body = as_csv(_report(AWKWARD_NAMES))
    assert body.startswith('\ufeff') and body.encode('utf-8').startswith(b'\xef\xbb\xbf')
    assert body.endswith('\r\n')
    # Every line ends in CRLF (no cell holds a CRLF here): a bare LF or CR appears only inside a quoted cell.
    assert body.count('\r\n') == 1 + len(AWKWARD_NAMES)
    assert body.split('\r\n')[0] == '\ufeff' + ','.join(CSV_COLUMNS)

    lines = list(csv.reader(io.StringIO(body.removeprefix('\ufeff'), newline='')))
    assert lines[0] == list(CSV_COLUMNS) and len(lines) == 1 + len(AWKWARD_NAMES)
    names = [dict(zip(CSV_COLUMNS, line))['client_name'] for line in lines[1:]]
    assert names == [f"'{name}" if name[:1] in ('=', '+', '-', '@', '\t', '\r') else name for name in AWKWARD_NAMES]
    first = dict(zip(CSV_COLUMNS, lines[1]))
    assert first['service_name'] == 'Yoga, "flow"' and first['provider_name'] == ''
    assert first['start'] == '2030-05-04T14:30:00+05:30' and first['end'] == '2030-05-04T15:30:00+05:30'
    assert first['no_show_evidence'] == 'true' and dict(zip(CSV_COLUMNS, lines[2]))['no_show_evidence'] == 'false'
    assert {line[0] for line in lines[1:]} == {'session:s1'}


def test_quotes_follow_rfc_4180():
    body = as_csv(_report(['Jane "JJ" Doe', 'Doe, Jane', 'two\nlines']))
    assert '"Jane ""JJ"" Doe"' in body and '"Doe, Jane"' in body and '"two\nlines"' in body
    assert '"Yoga, ""flow"""' in body


def test_a_page_without_rows_is_the_header_alone():
    assert as_csv(MeetingsReport(timezone='UTC', items=[], next=None)) == '\ufeff' + ','.join(CSV_COLUMNS) + '\r\n'
