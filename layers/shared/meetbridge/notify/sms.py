"""Delivery of text messages through SNS: a direct Publish to the phone number.

SNS sends through End User Messaging SMS's origination identities, and its account opt-out list is fed by the
recipients' STOP replies; a number on it is not published to (docs/architecture.md, "SMS").
"""

import re
from dataclasses import dataclass
from typing import Literal

from meetbridge import aws
from meetbridge.config import SmsSettings, settings

# What SNS refuses for good: sending again cannot change the answer.
REFUSED_FOR_GOOD = frozenset({'InvalidParameter', 'InvalidParameterValue', 'AuthorizationError'})
from meetbridge.domain.model import E164_PATTERN

_E164 = re.compile(E164_PATTERN)


@dataclass(frozen=True)
class SmsOutcome:
    status: Literal['sent', 'opted_out']
    message_id: str | None  # SNS's, when sent


def origination_attributes(identity: str) -> dict[str, dict[str, str]]:
    """The Publish attributes that send from `identity`: an E.164 number is the origination number, anything else
    an alphanumeric sender id. Every message is transactional (a booking's notice, not marketing)."""
    chosen = ('AWS.MM.SMS.OriginationNumber' if _E164.fullmatch(identity) else 'AWS.SNS.SMS.SenderID', identity)
    return {name: {'DataType': 'String', 'StringValue': value}
            for name, value in (chosen, ('AWS.SNS.SMS.SMSType', 'Transactional'))}


def send_sms(to: str, body: str) -> SmsOutcome:
    """Sends `body` to the E.164 number `to`, unless the number opted out. SNS's errors propagate (ClientError)."""
    sns = aws.client('sns')
    if sns.check_if_phone_number_is_opted_out(phoneNumber=to)['isOptedOut']:
        return SmsOutcome(status='opted_out', message_id=None)
    response = sns.publish(PhoneNumber=to, Message=body,
                           MessageAttributes=origination_attributes(settings(SmsSettings).sms_origination_identity))
    return SmsOutcome(status='sent', message_id=response['MessageId'])
