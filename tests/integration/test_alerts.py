"""Alerts to the tenant's contacts: settings, grouping per account an hour, redelivery, signed webhooks with
retries, dead letters and their replay. The webhook's receiver is a server on loopback."""

import json
import os
import threading
import time
from datetime import UTC, datetime

import boto3
import pytest
from helpers import handler, sqs_event
from integration_stack import connect_zoom, sent_emails

from meetbridge import events
from meetbridge.logic import dead_letters
from meetbridge.security.signatures import verify_timestamped

ALERT_ADDRESS = 'ops@acme.example'


def set_contacts(stack, emails=(ALERT_ADDRESS,), webhook_url=None) -> None:
    status, body = stack.admin('PUT', 'settings/alerts', {'emails': list(emails), 'webhook_url': webhook_url})
    assert status == 200, body


def broken(stack, account_id: str, n: int) -> None:
    events.publish(events.CONNECTION_BROKEN, {
        'event_id': f'{stack.tenant.tenant_id}/{account_id}/broken/v{n}', 'tenant_id': stack.tenant.tenant_id,
        'account_id': account_id, 'holder': 'company', 'type': 'zoom', 'problem': f'refused ({n})'})


def run_alerts(stack, records: list[dict] | None = None) -> dict:
    records = stack.cloud.queues['alerts'].receive() if records is None else records
    return handler('alerts')(sqs_event(records), stack.context)


def alert_emails() -> list:
    return [message for message in sent_emails() if ALERT_ADDRESS in message.destinations['ToAddresses']]


def due_digests(stack) -> list[dict]:
    """The digests' schedules that are waiting, fired now (as Scheduler would at their time) as records."""
    scheduler = boto3.client('scheduler')
    group = os.environ['SCHEDULE_GROUP']
    records = []
    for schedule in scheduler.list_schedules(GroupName=group)['Schedules']:
        if not schedule['Name'].startswith('alerts-'):
            continue
        target = scheduler.get_schedule(Name=schedule['Name'], GroupName=group)['Target']
        assert target['Arn'] == stack.cloud.queues['alerts'].arn
        scheduler.delete_schedule(Name=schedule['Name'], GroupName=group)  # it fired and deleted itself
        records.append({'messageId': schedule['Name'], 'receiptHandle': 'x', 'body': target['Input'], 'attributes': {},
                        'messageAttributes': {}, 'md5OfBody': '', 'eventSource': 'aws:sqs',
                        'eventSourceARN': stack.cloud.queues['alerts'].arn, 'awsRegion': 'us-east-1'})
    return records


@pytest.fixture
def alerting(stack):
    set_contacts(stack)
    return stack


# --- settings -----------------------------------------------------------------------------------------


def test_contacts_are_set_and_read_back(stack):
    assert stack.admin('GET', 'settings/alerts') == (200, {'emails': [], 'webhook_url': None})
    body = {'emails': ['ops@acme.example', 'Boss@Acme.example'], 'webhook_url': 'https://hooks.acme.example/alerts'}

    assert stack.admin('PUT', 'settings/alerts', body) == (200, body)
    assert stack.admin('GET', 'settings/alerts') == (200, body)
    assert stack.admin('PUT', 'settings/alerts', {'emails': []}) == (200, {'emails': [], 'webhook_url': None})
    assert stack.admin('GET', 'settings/alerts') == (200, {'emails': [], 'webhook_url': None})


@pytest.mark.parametrize('body', [
    {'emails': [f'a{n}@acme.example' for n in range(11)]},
    {'emails': ['not an address']},
    {'emails': ['ops@acme.example\r\nBcc: x@evil.example']},
    {'emails': ['ops@acme.example', 'OPS@acme.example']},
    {'emails': 'ops@acme.example'},
    {'emails': [{'$ne': 1}]},
    {'emails': [], 'webhook_url': 'http://hooks.acme.example/alerts'},
    {'emails': [], 'webhook_url': 'http://127.0.0.1:8080/alerts'},  # loopback only where the local stack allows it
    {'emails': [], 'webhook_url': 'https://user:pass@hooks.acme.example/'},
    {'emails': [], 'webhook_url': 'https://hooks.acme.example:99999/'},
    {'emails': [], 'webhook_url': 'ftp://hooks.acme.example/'},
    {'emails': [], 'webhook_url': 'javascript:alert(1)'},
    {'emails': [], 'webhook_url': 'https:///no-host'},
    {'emails': [], 'webhook_url': 'https://hooks.acme.example/' + 'x' * 2048},
    {'emails': [], 'webhook_url': ''},
    {'emails': [], 'opt_in': True},
    {},
])
def test_hostile_contacts_are_refused_with_a_json_problem(stack, body):
    status, answer = stack.admin('PUT', 'settings/alerts', body)

    assert status == 400, answer
    assert answer['error'] and answer['message']
    assert stack.admin('GET', 'settings/alerts') == (200, {'emails': [], 'webhook_url': None})


def test_only_an_admin_key_sets_contacts(stack):
    senior = stack.admin('POST', 'keys', {'role': 'senior'})[1]

    assert stack.admin('PUT', 'settings/alerts', {'emails': [ALERT_ADDRESS]}, api_key=senior['key'])[0] == 403
    assert stack.admin('GET', 'settings/alerts', api_key=senior['key'])[0] == 403


# --- email and grouping -----------------------------------------------------------------------------


def test_a_broken_zoom_account_is_emailed_to_the_alert_contacts_in_one_consumer_run(alerting, zoom):
    stack = alerting
    connect_zoom(stack, zoom)
    zoom.expire_access_tokens()
    zoom.fail('token', 400, body={'reason': 'Invalid Token!', 'error': 'invalid_grant'})
    assert stack.admin('GET', 'accounts/default/users')[0] == 400  # the refresh is refused: connection.broken
    account = stack.admin('GET', 'accounts/default')[1]

    assert run_alerts(stack) == {'batchItemFailures': []}

    [email] = alert_emails()
    assert email.subject == 'Alert: a meeting account stopped working'
    assert 'Acme Clinic' in email.body and 'zoom' in email.body and account['email'] in email.body
    assert 'company' in email.body and 'UTC' in email.body
    assert '/j/' not in email.body and 'zak=' not in email.body


def test_ten_alerts_of_one_account_in_an_hour_are_one_email_then_one_digest(alerting):
    stack = alerting
    for n in range(10):
        broken(stack, 'acc_one', n)

    assert run_alerts(stack) == {'batchItemFailures': []}
    assert len(alert_emails()) == 1
    digest = due_digests(stack)
    assert len(digest) == 1

    assert run_alerts(stack, digest) == {'batchItemFailures': []}
    first, second = alert_emails()
    assert second.body.count('<li>') == 9
    assert first.body.count('<li>') == 1
    assert '(9 alerts)' in second.subject
    # The digest sent something, so it opened the next window: an alert now waits for that one's digest.
    broken(stack, 'acc_one', 10)
    run_alerts(stack)
    assert len(alert_emails()) == 2
    assert run_alerts(stack, due_digests(stack)) == {'batchItemFailures': []}
    assert len(alert_emails()) == 3
    # A window whose digest had nothing to send closes: the next alert goes out at once.
    assert run_alerts(stack, due_digests(stack)) == {'batchItemFailures': []}
    assert len(alert_emails()) == 3
    broken(stack, 'acc_one', 11)
    run_alerts(stack)
    assert len(alert_emails()) == 4


def test_two_accounts_are_two_groups(alerting):
    stack = alerting
    for n in range(3):
        broken(stack, 'acc_a', n)
        broken(stack, 'acc_b', n)
    events.publish(events.MEETING_FAILED, {'notice_id': 'n1', 'tenant_id': stack.tenant.tenant_id, 'booking_id': 'b1',
                                           'meeting_key': 'booking:b1', 'change': 'failed', 'problem': 'no account'})

    run_alerts(stack)

    assert len(alert_emails()) == 3  # acc_a, acc_b, and the tenant's own group
    failed = [email for email in alert_emails() if 'could not be made' in email.subject]
    assert len(failed) == 1 and 'booking b1' in failed[0].body
    assert len(due_digests(stack)) == 3


def test_alerts_of_one_account_taken_at_once_are_one_email_and_one_digest(alerting):
    """Ten consumers at the same moment, each with one alert: the group's versioned writes make one of them open
    the window and the rest keep their alert for its digest, none lost."""
    stack = alerting
    for n in range(10):
        broken(stack, 'acc_one', n)
    records = stack.cloud.queues['alerts'].receive()
    answers = []
    threads = [threading.Thread(target=lambda record=record: answers.append(run_alerts(stack, [record])))
               for record in records]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [{'batchItemFailures': []}] * 10
    assert len(alert_emails()) == 1
    run_alerts(stack, due_digests(stack))
    first, digest = alert_emails()
    problems = {f'refused ({n})' for n in range(10)}
    assert sum(problem in first.body for problem in problems) == 1
    assert sum(problem in digest.body for problem in problems) == 9


def test_a_redelivered_alert_is_not_sent_twice(alerting):
    stack = alerting
    broken(stack, 'acc_one', 1)
    records = stack.cloud.queues['alerts'].receive()

    assert run_alerts(stack, records) == {'batchItemFailures': []}
    assert run_alerts(stack, records) == {'batchItemFailures': []}
    assert len(alert_emails()) == 1
    # Kept for the digest, redelivered, and the digest's own schedule fired twice: one digest with it once.
    broken(stack, 'acc_one', 2)
    kept = stack.cloud.queues['alerts'].receive()
    run_alerts(stack, kept)
    run_alerts(stack, kept)
    digest = due_digests(stack)
    run_alerts(stack, digest)
    run_alerts(stack, digest)
    assert len(alert_emails()) == 2 and alert_emails()[1].body.count('<li>') == 1


def test_an_alert_whose_email_failed_is_sent_on_its_retry_once(alerting):
    from test_role_grants_are_used import unavailable_once

    from meetbridge import aws

    stack = alerting
    broken(stack, 'acc_one', 1)
    records = stack.cloud.queues['alerts'].receive()
    with unavailable_once('ses', 'SendEmail', client=aws.client('ses')):
        assert run_alerts(stack, records)['batchItemFailures']
    assert run_alerts(stack, records) == {'batchItemFailures': []}
    assert run_alerts(stack, records) == {'batchItemFailures': []}

    assert len(alert_emails()) == 1


def test_an_address_ses_refuses_for_good_does_not_stop_the_other_recipients_or_the_webhook(
        alerting, alert_receiver, monkeypatch):
    from botocore.exceptions import ClientError

    from meetbridge.notify import email

    stack = alerting
    set_contacts(stack, emails=('refused@acme.example', ALERT_ADDRESS), webhook_url=alert_receiver.url)
    send = email.send_email

    def refusing(to, subject, html):
        if to == 'refused@acme.example':
            raise ClientError({'Error': {'Code': 'MessageRejected', 'Message': 'Email address is not verified.'}},
                              'SendEmail')
        return send(to, subject, html)

    monkeypatch.setattr(email, 'send_email', refusing)
    broken(stack, 'acc_one', 1)

    assert run_alerts(stack) == {'batchItemFailures': []}
    assert len(alert_emails()) == 1
    assert run_webhooks(stack)[0] == {'batchItemFailures': []} and len(alert_receiver.requests) == 1


def test_a_webhook_host_that_resolves_inside_a_network_is_not_posted_to(alerting, monkeypatch):
    import socket

    stack = alerting
    set_contacts(stack, webhook_url='https://hooks.acme.example/alerts')

    def inside(host, port, type=0):
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, '', ('10.0.0.7', 443))]

    monkeypatch.setattr(socket, 'getaddrinfo', inside)
    posted = []
    monkeypatch.setattr('meetbridge.logic.alerts._http', lambda: posted.append('post') or None)
    broken(stack, 'acc_one', 1)
    run_alerts(stack)

    report, records = run_webhooks(stack)
    assert report == {'batchItemFailures': [{'itemIdentifier': records[0]['messageId']}]} and posted == []


def rebinding(monkeypatch, name: str, checked: str, later: str) -> list[str]:
    """A resolver that answers `checked` for `name` the first time and `later` every time after (DNS rebinding);
    returns the list of the times it was asked for `name`."""
    import socket

    resolve, asked = socket.getaddrinfo, []

    def answer(host, port, *args, **kwargs):
        if host != name:
            return resolve(host, port, *args, **kwargs)
        asked.append(host)
        address = checked if len(asked) == 1 else later
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, '', (address, port or 0))]

    monkeypatch.setattr(socket, 'getaddrinfo', answer)
    return asked


def test_a_host_that_resolves_elsewhere_after_its_check_is_posted_to_at_the_checked_address(alerting, monkeypatch):
    import socket

    stack = alerting
    set_contacts(stack, webhook_url='https://hooks.acme.example/alerts')
    asked = rebinding(monkeypatch, 'hooks.acme.example', checked='93.184.215.14', later='169.254.169.254')
    connected = []

    def refused(address, *args, **kwargs):  # no test reaches the internet: the public address refuses
        connected.append(address)
        raise ConnectionRefusedError(address)

    monkeypatch.setattr(socket, 'create_connection', refused)
    broken(stack, 'acc_one', 1)
    run_alerts(stack)

    report, records = run_webhooks(stack)
    assert report == {'batchItemFailures': [{'itemIdentifier': records[0]['messageId']}]}
    assert connected == [('93.184.215.14', 443)] and asked == ['hooks.acme.example']


def test_the_local_stacks_loopback_webhook_is_posted_to_the_address_checked_naming_its_host(
        alerting, alert_receiver, monkeypatch):
    stack = alerting
    port = alert_receiver.server.server_port
    set_contacts(stack, webhook_url=f'http://localhost:{port}/alerts')
    asked = rebinding(monkeypatch, 'localhost', checked='127.0.0.1', later='169.254.169.254')
    broken(stack, 'acc_one', 1)
    run_alerts(stack)

    assert run_webhooks(stack)[0] == {'batchItemFailures': []}
    [(headers, _)] = alert_receiver.requests
    assert headers['host'] == f'localhost:{port}' and asked == ['localhost']


def test_a_tenant_template_is_used_and_a_failing_one_falls_back_to_the_default(alerting):
    stack = alerting
    status, template = stack.admin('PUT', 'templates/alert_connection_broken', {
        'subject': 'Broken: {{ account_type }}', 'body': '{% for a in alerts %}<p>{{ a.problem }}</p>{% endfor %}'})
    assert status == 200 and 'alerts' in template['variables'] and 'online_meeting_link' not in template['variables']
    broken(stack, 'acc_one', 1)
    run_alerts(stack)

    [email] = alert_emails()
    assert email.subject == 'Broken:' and '<p>refused (1)</p>' in email.body


# --- the signed webhook ---------------------------------------------------------------------------------


def run_webhooks(stack, receive_count: int = 1) -> tuple[dict, list[dict]]:
    records = stack.cloud.queues['alert-webhooks'].receive()
    for record in records:
        record['attributes']['ApproximateReceiveCount'] = str(receive_count)
    return handler('alerts')(sqs_event(records), stack.context), records


def test_the_webhook_is_signed_with_the_tenants_webhook_secret(alerting, alert_receiver):
    stack, receiver = alerting, alert_receiver
    set_contacts(stack, webhook_url=receiver.url)
    broken(stack, 'acc_one', 1)
    run_alerts(stack)

    assert run_webhooks(stack)[0] == {'batchItemFailures': []}

    [(headers, raw)] = receiver.requests
    signed_at = verify_timestamped([stack.tenant.webhook_secret.encode()], headers['x-meetbridge-signature'], raw,
                                   time.time(), 300)
    assert abs(signed_at - time.time()) < 60
    body = json.loads(raw)
    assert body['type'] == 'alert' and body['tenant_id'] == stack.tenant.tenant_id and body['group'] == 'acc_one'
    assert body['id'].startswith('alr_') and datetime.fromisoformat(body['sent_at']) <= datetime.now(UTC)
    assert [(alert['kind'], alert['problem'], alert['account_id']) for alert in body['alerts']] == [
        ('connection_broken', 'refused (1)', 'acc_one')]
    assert headers['content-type'] == 'application/json'


def _take_all(queue_url: str) -> list[dict]:
    """Every visible message, received (not deleted) as Lambda's poller receives them."""
    sqs = boto3.client('sqs')
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=['All'],
                                   VisibilityTimeout=30).get('Messages', [])
    return [{'messageId': message['MessageId'], 'receiptHandle': message['ReceiptHandle'], 'body': message['Body'],
             'attributes': message['Attributes'], 'messageAttributes': {}, 'md5OfBody': message['MD5OfBody'],
             'eventSource': 'aws:sqs', 'eventSourceARN': f"arn:aws:sqs:us-east-1:123456789012:{queue_url.rsplit('/', 1)[1]}",
             'awsRegion': 'us-east-1'} for message in messages]


def test_a_refused_webhook_is_retried_with_growing_delays_then_kept_as_a_dead_letter_and_replayed(
        alerting, alert_receiver, monkeypatch, capsys):
    import functions.alerts.handler as alerts_handler

    stack, receiver = alerting, alert_receiver
    set_contacts(stack, webhook_url=receiver.url)
    delays, retry_delay = [], alerts_handler.retry_delay

    def recorded_delay(receive_count: int) -> int:
        delays.append(retry_delay(receive_count))
        return 0  # the test does not wait for them

    monkeypatch.setattr(alerts_handler, 'retry_delay', recorded_delay)
    receiver.statuses = [500] * 10
    broken(stack, 'acc_one', 1)
    run_alerts(stack)
    webhooks = stack.cloud.queues['alert-webhooks'].url

    for _ in range(10):
        records = _take_all(webhooks)
        assert len(records) == 1
        assert handler('alerts')(sqs_event(records), stack.context)['batchItemFailures']
    assert _take_all(webhooks) == []  # the 11th receive found it past maxReceiveCount: moved to the dead letters
    assert delays == [30, 60, 120, 240, 480, 960, 1800, 1800, 1800, 1800]
    assert len(receiver.requests) == 10 and len({body['id'] for body in receiver.bodies()}) == 1

    queues = dead_letters.redrives()
    dlq = stack.cloud.queues['alert-webhooks-dlq'].url
    assert queues[dlq] == webhooks
    [letter] = dead_letters.list_letters(dlq, stack.tenant.tenant_id)
    assert letter.detail_type == 'alert.webhook' and letter.event_id == receiver.bodies()[0]['id']
    dead_letters.replay(dlq, webhooks, letter.message_id, stack.tenant.tenant_id)

    assert handler('alerts')(sqs_event(_take_all(webhooks)), stack.context) == {'batchItemFailures': []}
    assert len(receiver.requests) == 11 and receiver.bodies()[-1] == receiver.bodies()[0]
    verify_timestamped([stack.tenant.webhook_secret.encode()], receiver.requests[-1][0]['x-meetbridge-signature'],
                       receiver.requests[-1][1], time.time(), 300)
    logged = capsys.readouterr()
    assert 'not-logged' not in logged.out + logged.err
    assert stack.tenant.webhook_secret not in logged.out + logged.err
