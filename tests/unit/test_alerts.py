from datetime import UTC, datetime

import pytest

from meetbridge import events
from meetbridge.domain.templates import ALERT_TEMPLATES, sample_variables, variables_of
from meetbridge.logic import alerts
from meetbridge.logic.alert_settings import checked_webhook_url
from meetbridge.notify.defaults import DEFAULT_TEMPLATES
from meetbridge.notify.render import check, render
from meetbridge.security.signatures import verify_timestamped

AT = datetime(2026, 3, 9, 9, 30, 12, tzinfo=UTC)


def test_an_account_event_is_grouped_by_its_account_and_a_tenant_event_by_the_tenant():
    broken = alerts.alert_of(events.CONNECTION_BROKEN, {'event_id': 'e1', 'tenant_id': 't', 'account_id': 'acc_1',
                                                        'problem': 'refused'}, AT)
    failed = alerts.alert_of(events.MEETING_FAILED, {'notice_id': 'n1', 'tenant_id': 't', 'booking_id': 'b1',
                                                     'problem': 'no account'}, AT)

    assert (broken.alert_id, broken.kind, broken.at, alerts.group_of(broken)) == (
        'e1', 'connection_broken', '2026-03-09T09:30:12Z', 'acc_1')
    assert (failed.alert_id, failed.booking_id, alerts.group_of(failed)) == ('n1', 'b1', 'tenant')


def test_each_kind_says_what_happened():
    problem = alerts.alert_of(events.BOOKING_PROBLEM, {'event_id': 'e', 'booking_id': 'b', 'account_id': 'acc',
                                                       'kind': 'fell_back', 'problem': 'Zoom refused'}, AT)
    expiring = alerts.alert_of(events.CONNECTION_EXPIRING, {'event_id': 'e', 'account_id': 'acc', 'problem': 'soon',
                                                            'expires_at': '2026-03-10T00:00:00Z'}, AT)
    reconciled = alerts.alert_of(events.ACCOUNTS_RECONCILED, {
        'event_id': 'e', 'account_id': 'acc', 'rehomed': 3, 'ended_untouched': 1,
        'failed': [{'meeting_key': 'booking:b', 'booking_ids': ['b'], 'problem': 'Graph refused'}]}, AT)

    assert problem.problem == 'fell back: Zoom refused'
    assert expiring.problem == 'soon (expires 2026-03-10T00:00:00Z)'
    assert reconciled.problem == ('3 future meetings moved, 1 failed, 1 ended and left as they were '
                                  '(Graph refused)')


@pytest.mark.parametrize('example', sample_variables())
@pytest.mark.parametrize('name', ALERT_TEMPLATES)
def test_alert_defaults_list_the_alerts_with_every_sample(name, example):
    variables = sample_variables()[example]
    check(*DEFAULT_TEMPLATES[name])

    subject, body = render(*DEFAULT_TEMPLATES[name], variables)

    assert subject.startswith('Alert: ')
    assert body.count('<li>') == len(variables['alerts'])
    assert ('more.' in body) == bool(variables['more_alerts'])
    assert 'href' not in body
    assert set(variables_of(name)) >= {'alerts', 'company_name', 'account_type'}


def test_the_webhook_signature_is_the_inbound_webhooks_scheme():
    raw = b'{"id":"alr_1","type":"alert"}'

    header = alerts.signature(b'whsec_test', 1_800_000_000, raw)

    assert verify_timestamped([b'whsec_test'], header, raw, 1_800_000_000, 300) == 1_800_000_000


@pytest.mark.parametrize('url', ['https://hooks.example.com/alerts?key=x', 'https://[::1]:8443/x'])
def test_https_urls_are_accepted(every_setting, url):
    assert checked_webhook_url(url) == url


@pytest.mark.parametrize('url', ['http://hooks.example.com/', 'http://127.0.0.1:8080/', 'https://u:p@hooks.example/',
                                 'https://@hooks.example/', 'https://hooks.example:notaport/', 'file:///etc/passwd'])
def test_other_urls_are_refused(every_setting, url):
    with pytest.raises(ValueError):
        checked_webhook_url(url)


def test_plain_http_to_loopback_only_where_allowed(every_setting, monkeypatch):
    monkeypatch.setenv('ALERT_WEBHOOK_ALLOW_HTTP_LOOPBACK', 'true')

    assert checked_webhook_url('http://127.0.0.1:8080/hook') == 'http://127.0.0.1:8080/hook'
    with pytest.raises(ValueError):
        checked_webhook_url('http://hooks.example.com/')
