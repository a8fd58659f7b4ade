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


@pytest.mark.parametrize('url', ['https://hooks.example.com/alerts?key=x', 'https://203.0.113.9.example/x',
                                 'https://[2606:4700::1111]:8443/x'])
def test_https_urls_are_accepted(every_setting, url):
    assert checked_webhook_url(url) == url


@pytest.mark.parametrize('url', ['http://hooks.example.com/', 'http://127.0.0.1:8080/', 'https://u:p@hooks.example/',
                                 'https://@hooks.example/', 'https://hooks.example:notaport/', 'file:///etc/passwd',
                                 # addresses inside a network: the metadata service, private, loopback, reserved
                                 'https://169.254.169.254/latest/', 'https://10.0.0.1/', 'https://[::1]:8443/x',
                                 'https://localhost:9001/', 'https://api.localhost/', 'https://[fd00:ec2::254]/',
                                 'https://0.0.0.0/', 'https://a\u200b.example/'])
def test_other_urls_are_refused(every_setting, url):
    with pytest.raises(ValueError):
        checked_webhook_url(url)


def test_plain_http_to_loopback_only_where_allowed(every_setting, monkeypatch):
    monkeypatch.setenv('ALERT_WEBHOOK_ALLOW_HTTP_LOOPBACK', 'true')

    assert checked_webhook_url('http://127.0.0.1:8080/hook') == 'http://127.0.0.1:8080/hook'
    with pytest.raises(ValueError):
        checked_webhook_url('http://hooks.example.com/')


@pytest.mark.parametrize('addresses, public', [
    (['93.184.215.14'], True),
    (['93.184.215.14', '10.1.2.3'], False),  # one inside a network is enough to refuse
    (['127.0.0.1'], False),  # e.g. a name like 0x7f000001, which the resolver reads as loopback
    (['169.254.169.254'], False),
    (['64:ff9b::a9fe:a9fe'], False),  # the metadata service through NAT64's well-known prefix
    (['64:ff9b::5db8:d70e'], True),  # a public address through it
    (['::ffff:169.254.169.254'], False),
    ([], False),
])
def test_a_host_is_posted_to_only_when_every_address_it_resolves_to_is_public(every_setting, monkeypatch, addresses,
                                                                              public):
    import socket

    from meetbridge.logic import alert_settings

    def resolve(host, port, type=0):
        assert host == 'hooks.example.com'
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, '', (address, 0)) for address in addresses]

    monkeypatch.setattr(socket, 'getaddrinfo', resolve)
    assert alert_settings.checked_addresses('https://hooks.example.com/a') == (addresses if public else [])


def test_loopback_addresses_are_checked_only_for_a_loopback_host_the_local_stack_allows(every_setting, monkeypatch):
    import socket

    from meetbridge.logic import alert_settings

    monkeypatch.setattr(socket, 'getaddrinfo', lambda host, port, type=0: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, '', ('127.0.0.1', 0))])
    assert alert_settings.checked_addresses('http://localhost:8080/hook') == []
    monkeypatch.setenv('ALERT_WEBHOOK_ALLOW_HTTP_LOOPBACK', 'true')
    assert alert_settings.checked_addresses('http://localhost:8080/hook') == ['127.0.0.1']


def spied_client(monkeypatch, answer) -> list:
    """The webhook client with a transport that records each request and answers with `answer(request)`."""
    import httpx2

    sent = []

    def handle(request):
        sent.append(request)
        return answer(request)

    monkeypatch.setattr(alerts, '_http', lambda: httpx2.Client(transport=httpx2.MockTransport(handle)))
    return sent


def test_the_post_names_the_checked_address_and_verifies_the_certificate_for_the_host_name(monkeypatch):
    import httpx2

    sent = spied_client(monkeypatch, lambda request: httpx2.Response(204))

    status = alerts.post_to_checked_address('https://Hooks.Example.com:8443/a?b=1', ['2001:db8::7'], b'{}',
                                             {'Content-Type': 'application/json'})

    [request] = sent
    assert status == 204
    assert str(request.url) == 'https://[2001:db8::7]:8443/a?b=1'
    assert request.headers['host'] == 'hooks.example.com:8443'  # what the receiver routes by
    assert request.extensions['sni_hostname'] == 'hooks.example.com'  # what TLS checks the certificate against


def test_an_address_that_refuses_the_connection_is_passed_over_for_the_next_checked_one(monkeypatch):
    import httpx2

    def answer(request):
        if request.url.host == '93.184.215.14':
            raise httpx2.ConnectError('refused', request=request)
        return httpx2.Response(200)

    sent = spied_client(monkeypatch, answer)

    assert alerts.post_to_checked_address('https://hooks.example.com/a', ['93.184.215.14', '93.184.215.15'],
                                           b'{}', {}) == 200
    assert [request.url.host for request in sent] == ['93.184.215.14', '93.184.215.15']
    with pytest.raises(httpx2.ConnectError):
        alerts.post_to_checked_address('https://hooks.example.com/a', ['93.184.215.14'], b'{}', {})
