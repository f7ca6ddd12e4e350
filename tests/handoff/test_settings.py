"""Settings come from the environment; a bad value stops start-up naming the variable."""

from __future__ import annotations

import pytest

from handoff.core.errors import SettingsError
from handoff.settings import HandoffSettings


def test_settings_read_their_variables() -> None:
    settings = HandoffSettings.from_env({"HANDOFF_LOG_LEVEL": "warning", "HANDOFF_ACCEPT_TIMEOUT": "5",
                                         "HANDOFF_WIDGET_ORIGINS": "https://shop.example, https://b.example"})
    assert settings.log_level == "WARNING"
    assert settings.accept_timeout == 5.0
    assert settings.widget_origins == ("https://shop.example", "https://b.example")
    assert "sekret" not in repr(HandoffSettings.from_env({"HANDOFF_SECRET": "sekret"}))


def test_abuse_limits_and_data_settings_have_defaults_and_read_their_variables() -> None:
    defaults = HandoffSettings.from_env({})
    assert (defaults.retention_days, defaults.customer_token_ttl, defaults.client_ip_header) == (730, 30 * 86400.0,
                                                                                                 None)
    settings = HandoffSettings.from_env({"HANDOFF_MESSAGES_PER_MINUTE": "5", "HANDOFF_RETENTION_DAYS": "30",
                                         "HANDOFF_CLIENT_IP_HEADER": "X-Forwarded-For", "HANDOFF_IDLE_TTL": "60"})
    assert (settings.messages_per_minute, settings.retention_days, settings.client_ip_header, settings.idle_ttl) == (
        5, 30, "X-Forwarded-For", 60.0)


@pytest.mark.parametrize(("key", "value"), [("HANDOFF_LOG_LEVEL", "chatty"), ("HANDOFF_PORT", "70000"),
                                            ("HANDOFF_ACCEPT_TIMEOUT", "-1"), ("HANDOFF_ROUTING", "/nowhere.yml"),
                                            ("HANDOFF_MESSAGES_PER_MINUTE", "0"), ("HANDOFF_RETENTION_DAYS", "2.5"),
                                            ("HANDOFF_CUSTOMER_TOKEN_TTL", "never")])
def test_settings_refuse_a_bad_value_naming_it(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=key):
        HandoffSettings.from_env({key: value})
