import threading

import pytest

from meetbridge import config
from meetbridge.config import (
    EmailSettings,
    FunctionSettings,
    MissingSetting,
    ScheduleGroupSettings,
    SchedulingSettings,
    StoreSettings,
    ZoomSettings,
    settings,
)


class MailerSettings(FunctionSettings, EmailSettings):
    """A function that sends email and declares nothing about Zoom."""


def test_load_names_the_model_and_every_missing_variable(monkeypatch):
    monkeypatch.delenv('SENDER_EMAIL')
    monkeypatch.delenv('TABLE_NAME')
    with pytest.raises(MissingSetting) as raised:
        config.load(MailerSettings)
    assert str(raised.value) == 'MailerSettings: SENDER_EMAIL is not set; TABLE_NAME is not set'


def test_an_empty_variable_is_as_missing_as_an_absent_one_and_its_value_is_never_shown(monkeypatch):
    monkeypatch.setenv('SENDER_EMAIL', '')
    monkeypatch.setenv('AUTO_START_LEAD_SECONDS', 'sixty')
    with pytest.raises(MissingSetting) as raised:
        config.load(type('Scheduler', (FunctionSettings, ScheduleGroupSettings, SchedulingSettings, EmailSettings), {}))
    message = str(raised.value)
    assert message.startswith('Scheduler: ') and 'SENDER_EMAIL: String should have at least 1 character' in message
    assert 'AUTO_START_LEAD_SECONDS: Input should be a valid integer' in message and 'sixty' not in message


def test_settings_are_read_from_upper_case_variables_with_real_defaults_only_where_they_exist(monkeypatch):
    monkeypatch.setenv('AUTO_START_LEAD_SECONDS', '90')
    monkeypatch.delenv('ZOOM_API_BASE', raising=False)
    loaded = config.load(type('Everything', config.CONCERNS, {}))
    assert loaded.auto_start_lead_seconds == 90 and loaded.schedule_group == 'meetbridge-test-meetings'
    assert loaded.zoom_api_base == 'https://api.zoom.us/v2'
    assert config.required_variables(ZoomSettings) == ['ZOOM_CLIENT_SECRET_ARN']
    assert config.variables(ZoomSettings) == ['ZOOM_CLIENT_SECRET_ARN', 'ZOOM_OAUTH_BASE', 'ZOOM_API_BASE']


def test_shared_code_reads_the_running_functions_settings():
    with config.using(MailerSettings):
        assert settings(EmailSettings).sender_email == 'meetings@example.com'
        assert settings(StoreSettings).table_name == 'meetbridge-test'


def test_reading_a_concern_the_function_did_not_declare_names_the_function_and_the_variables():
    with config.using(MailerSettings), pytest.raises(MissingSetting) as raised:
        settings(ZoomSettings)
    assert str(raised.value) == ('MailerSettings does not declare ZOOM_CLIENT_SECRET_ARN, ZOOM_OAUTH_BASE, '
                                 'ZOOM_API_BASE (ZoomSettings), which this code path reads')


def test_reading_outside_any_function_fails_naming_the_variables():
    with pytest.raises(MissingSetting, match='^SENDER_EMAIL read outside any function'):
        settings(EmailSettings)


def test_a_handler_runs_under_its_own_settings_nested_in_anothers_and_restores_them():
    @config.using(MailerSettings)
    def mailer_handler(event, context):
        return settings(EmailSettings).sender_email

    with config.using(FunctionSettings):
        assert mailer_handler({}, None) == 'meetings@example.com'
        with pytest.raises(MissingSetting, match='^FunctionSettings does not declare SENDER_EMAIL'):
            settings(EmailSettings)


def test_each_thread_sees_only_the_function_it_runs():
    seen = {}

    @config.using(MailerSettings)
    def mailer_handler():
        seen['handler'] = settings(EmailSettings).sender_email

    def outside():
        try:
            settings(EmailSettings)
        except MissingSetting as exc:
            seen['outside'] = str(exc)

    with config.using(MailerSettings):
        threads = [threading.Thread(target=mailer_handler), threading.Thread(target=outside)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert seen['handler'] == 'meetings@example.com' and 'outside any function' in seen['outside']


def test_a_changed_variable_reaches_the_next_read_when_the_cache_is_off(monkeypatch):
    with config.using(MailerSettings):
        monkeypatch.setenv('SENDER_EMAIL', 'other@example.com')
        assert settings(EmailSettings).sender_email == 'other@example.com'


def test_every_setting_fixture_lets_test_code_call_shared_code(every_setting):
    assert settings(ZoomSettings).zoom_client_secret_arn.startswith('arn:aws:secretsmanager:')


def test_placeholders_cover_exactly_the_required_variables():
    assert config.placeholder_environment(MailerSettings, ZoomSettings) == {
        'POWERTOOLS_SERVICE_NAME': 'placeholder', 'POWERTOOLS_METRICS_NAMESPACE': 'placeholder',
        'TABLE_NAME': 'placeholder', 'IDEMPOTENCY_TABLE_NAME': 'placeholder', 'KMS_KEY_ID': 'placeholder',
        'EVENT_BUS_NAME': 'placeholder', 'SENDER_EMAIL': 'placeholder', 'ZOOM_CLIENT_SECRET_ARN': 'placeholder'}
