"""Delivery through SES."""

from meetbridge import aws
from meetbridge.config import EmailSettings, settings
from meetbridge.notify.render import text_alternative

# What SES refuses for good: sending again cannot change the answer.
REFUSED_FOR_GOOD = frozenset({'MessageRejected', 'MailFromDomainNotVerified', 'MailFromDomainNotVerifiedException',
                              'InvalidParameterValue'})


def send_email(to: str, subject: str, html_body: str) -> str:
    response = aws.client('ses').send_email(
        Source=settings(EmailSettings).sender_email,
        Destination={'ToAddresses': [to]},
        Message={
            'Subject': {'Data': subject, 'Charset': 'UTF-8'},
            'Body': {
                'Html': {'Data': html_body, 'Charset': 'UTF-8'},
                'Text': {'Data': text_alternative(html_body), 'Charset': 'UTF-8'},
            },
        },
    )
    return response['MessageId']
