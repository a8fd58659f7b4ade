import pytest

from meetbridge import config
from meetbridge.config import MissingSetting, Settings


def test_require_names_the_missing_environment_variable():
    with pytest.raises(MissingSetting, match='^SENDER_EMAIL is not set$'):
        Settings().require('sender_email')


def test_require_returns_a_set_value():
    assert Settings(schedule_group='meetings').require('schedule_group') == 'meetings'


def test_settings_are_read_from_upper_case_environment_variables(monkeypatch):
    monkeypatch.setenv('SCHEDULE_GROUP', 'group-from-env')
    monkeypatch.setenv('AUTO_START_LEAD_SECONDS', '90')
    monkeypatch.delenv('KMS_KEY_ID', raising=False)
    monkeypatch.setenv('AWS_REGION', 'eu-central-1')
    config.settings.cache_clear()
    try:
        current = config.settings()
        assert current.require('schedule_group') == 'group-from-env'
        assert current.auto_start_lead_seconds == 90
        assert current.region == 'eu-central-1'
        with pytest.raises(MissingSetting, match='KMS_KEY_ID'):
            current.require('kms_key_id')
    finally:
        config.settings.cache_clear()
