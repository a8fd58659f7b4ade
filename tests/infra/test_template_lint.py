import re

import pytest

from cfnlint.api import ManualArgs, lint_file


def test_cfn_lint_reports_nothing(template_path):
    matches = lint_file(template_path, config=ManualArgs(regions=["us-east-1"]))
    assert [str(match) for match in matches] == []


@pytest.mark.parametrize(
    ("identity", "allowed"),
    [("MeetBridge", True), ("+15550100001", True), ("Clinic24", True), ("24Clinic", True), ("A", True),
     # An all-digit sender id reads as a phone number; a sender id has at most 11 characters.
     ("12345678", False), ("MeetBridge12", False), ("+0155501000", False), ("Meet Bridge", False), ("", False)],
)
def test_the_sms_origination_identity_is_a_number_or_a_sender_id_with_a_letter(sam_template, identity, allowed):
    pattern = sam_template["Parameters"]["SmsOriginationIdentity"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, identity)) is allowed
