"""SMS delivery (meetbridge.notify.sms) through moto's SNS, patched as the local stack patches it (the opt-out
list, strict E.164 numbers and SNS's 1600 bytes), with the recipients' replies and the outbox of infra/local/outbox.py."""

import json

import boto3
import pytest
from bookings import booking_event
from botocore.exceptions import ClientError

from infra.local import outbox
from meetbridge.notify.email import send_email
from meetbridge.notify.sms import origination_attributes, send_sms

CLIENT = '+447700900123'


@pytest.fixture
def sns(cloud):
    return boto3.client('sns')


def reply(number: str, text: str) -> tuple[int, dict]:
    status, _, body = outbox.sms_reply('', json.dumps({'from': number, 'body': text}).encode())
    return status, json.loads(body)


def test_an_sms_goes_from_the_origination_number_as_a_transactional_message(sns):
    sent = send_sms(CLIENT, 'Your consultation with Dana starts at 10:00.')

    assert sent.status == 'sent' and sent.message_id
    [listed] = outbox.text_messages()
    assert listed['id'] == sent.message_id
    assert (listed['channel'], listed['to'], listed['body']) == ('sms', CLIENT, 'Your consultation with Dana starts at 10:00.')
    assert (listed['origination'], listed['sms_type']) == ('+15550100001', 'Transactional')
    assert listed['sent_at'].endswith('Z')


def test_an_alphanumeric_identity_is_the_sender_id(sns, monkeypatch):
    monkeypatch.setenv('SMS_ORIGINATION_IDENTITY', 'MeetBridge')

    assert send_sms(CLIENT, 'Moved to Friday.').status == 'sent'

    [listed] = outbox.text_messages()
    assert listed['origination'] == 'MeetBridge'
    assert set(origination_attributes('MeetBridge')) == {'AWS.SNS.SMS.SenderID', 'AWS.SNS.SMS.SMSType'}
    assert set(origination_attributes('+15550100001')) == {'AWS.MM.SMS.OriginationNumber', 'AWS.SNS.SMS.SMSType'}
    # A number followed by a newline is not a number ("$" alone would take it as one).
    assert 'AWS.MM.SMS.OriginationNumber' not in origination_attributes('+15550100001\n')


def test_a_number_that_replied_stop_is_not_sent_to_until_it_replies_start(sns):
    assert reply(CLIENT, ' stop ') == (200, {'from': CLIENT, 'opted_out': True})
    assert sns.list_phone_numbers_opted_out()['phoneNumbers'] == [CLIENT]

    refused = send_sms(CLIENT, 'Your meeting starts in an hour.')

    assert (refused.status, refused.message_id) == ('opted_out', None)
    assert outbox.text_messages() == []
    # AWS accepts a Publish to an opted-out number and delivers nothing: moto now does the same.
    assert sns.publish(PhoneNumber=CLIENT, Message='published anyway')['MessageId']
    assert outbox.text_messages() == []

    assert reply(CLIENT, 'START') == (200, {'from': CLIENT, 'opted_out': False})
    assert send_sms(CLIENT, 'Your meeting starts in an hour.').status == 'sent'
    assert [m['body'] for m in outbox.text_messages()] == ['Your meeting starts in an hour.']


@pytest.mark.parametrize('keyword', ['STOP', 'stopall', 'Unsubscribe', 'CANCEL', 'end', 'QUIT', 'OptOut', 'ARRET',
                                     'Stopp', '\tstop\n'])
def test_each_opt_out_keyword_opts_the_number_out(sns, keyword):
    assert reply(CLIENT, keyword)[1]['opted_out'] is True
    assert sns.check_if_phone_number_is_opted_out(phoneNumber=CLIENT)['isOptedOut'] is True


@pytest.mark.parametrize('text', ['Thanks, see you then', 'stop please', 'UNSTOP'])
def test_other_replies_opt_nothing_out(sns, text):
    assert reply(CLIENT, text)[1]['opted_out'] is False


def test_unstop_opts_back_in(sns):
    reply(CLIENT, 'STOP')
    assert reply(CLIENT, 'unstop')[1]['opted_out'] is False


def test_the_opt_out_list_is_the_accounts_own_and_starts_empty(sns):
    # moto answers "opted out" for any number ending in 99 and seeds sample numbers; a new account has none.
    assert sns.list_phone_numbers_opted_out()['phoneNumbers'] == []
    assert send_sms('+447700900199', 'Hello').status == 'sent'


@pytest.mark.parametrize('body', [b'not json', b'[]', b'{"from": "447700900123", "body": "STOP"}',
                                  b'{"from": "+44 7700 900123", "body": "STOP"}', b'{"from": "+447700900123"}',
                                  b'{"from": "+447700900123\\n", "body": "STOP"}',
                                  # Over Python's 4300 digits of an integer (ValueError); nested past its recursion limit.
                                  b'{"from": ' + b'1' * 5000 + b'}', b'[' * 100_000, b'\xff\xfe'])
def test_a_malformed_reply_is_refused(sns, body):
    status, _, answer = outbox.sms_reply('', body)
    assert status == 400 and json.loads(answer)['message']
    assert sns.list_phone_numbers_opted_out()['phoneNumbers'] == []


def test_a_reply_path_with_more_after_it_is_not_found(sns):
    assert outbox.sms_reply('/more', b'{}')[0] == 404


@pytest.mark.parametrize('number', ['447700900123', '+0447700900123', '+4477009001234567', '+44 7700 900123',
                                    CLIENT + '\n'])
def test_a_publish_to_a_number_that_is_not_e164_is_an_invalid_parameter(sns, number):
    with pytest.raises(ClientError) as refused:
        send_sms(number, 'Hello')
    assert refused.value.response['Error']['Code'] == 'InvalidParameter'
    assert outbox.text_messages() == []


def test_sns_counts_its_1600_byte_limit_in_bytes(sns):
    assert send_sms(CLIENT, 'a' * 1600).status == 'sent'
    with pytest.raises(ClientError) as refused:  # 801 characters, 1602 bytes in UTF-8
        send_sms(CLIENT, 'é' * 801)
    assert refused.value.response['Error']['Code'] == 'InvalidParameter'
    assert len(outbox.text_messages()) == 1


def test_the_outbox_lists_both_channels_oldest_first_and_filters_them(sns):
    send_email('chris@example.com', 'Your meeting', '<p>Join at 10:00</p>')
    send_sms(CLIENT, 'Join at 10:00')

    status, headers, body = outbox.json_endpoint({})
    listed = json.loads(body)
    assert status == 200 and headers['content-type'] == 'application/json'
    assert [m['channel'] for m in listed] == ['email', 'sms']
    email, sms = listed
    # An email's fields are those it always had, plus its channel.
    assert set(email) == {'channel', 'id', 'from', 'sent_at', 'to', 'cc', 'bcc', 'subject', 'html', 'text', 'kind',
                          'reply_to'}
    assert (email['to'], email['subject']) == (['chris@example.com'], 'Your meeting')
    assert set(sms) == {'channel', 'id', 'to', 'body', 'sent_at', 'origination', 'sms_type'}
    assert sms['to'] == CLIENT
    assert json.loads(outbox.json_endpoint({'channel': 'sms'})[2]) == [sms]
    assert json.loads(outbox.json_endpoint({'channel': 'email'})[2]) == [email]
    assert json.loads(outbox.json_endpoint({'to': '7700900123'})[2]) == [sms]
    # ?to=+447700900123 unencoded: the query parser reads its "+" as a space.
    assert json.loads(outbox.json_endpoint({'to': ' 447700900123'})[2]) == [sms]
    assert json.loads(outbox.json_endpoint({'to': 'chris@'})[2]) == [email]
    assert outbox.json_endpoint({'channel': 'fax'})[0] == 400

    status, _, page = outbox.html_endpoint({})
    text = page.decode()
    assert status == 200
    # Newest first: the SMS, then the email.
    assert text.index(CLIENT) < text.index('Your meeting')
    assert 'Join at 10:00' in text and '+15550100001' in text


# --- the client's phone and locale in the generic contract and the booking API ---


def test_the_bookings_client_phone_and_locale_are_stored_and_shown(stack):
    stack.setup_online_service()
    event = booking_event()
    event['booking']['client'].update(phone='+447700900123', locale='fr_ca')
    stack.book(event)

    status, view = stack.view('b1')

    assert status == 200
    assert (view['booking']['client']['phone'], view['booking']['client']['locale']) == ('+447700900123', 'fr-CA')


@pytest.mark.parametrize(('field', 'value'), [('phone', '07700 900123'), ('phone', 447700900123),
                                              ('locale', 'français'), ('locale', 'en-' + 'x' * 40)])
def test_a_bad_phone_or_locale_is_a_400_naming_it_and_nothing_is_booked(stack, field, value):
    stack.setup_online_service()
    event = booking_event()
    event['booking']['client'][field] = value

    status, problem = stack.post(event)

    assert status == 400 and problem['field'] == f'booking.client.{field}'
    assert stack.view('b1')[0] == 404
