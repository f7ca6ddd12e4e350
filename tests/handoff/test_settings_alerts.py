"""The alerts' settings: rules file, interval, webhook secret, SMTP server; secrets stay out of repr."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.core.errors import SettingsError
from handoff.settings import ROOT, HandoffSettings


def test_alert_settings_have_defaults_and_read_their_variables() -> None:
    defaults = HandoffSettings.from_env({"HANDOFF_SECRET": "s"})
    assert defaults.alerts_config == ROOT / "handoff" / "alerts.yml" and defaults.alert_interval == 15.0
    assert (defaults.alert_webhook_secret, defaults.smtp_host, defaults.smtp_port, defaults.smtp_starttls) == (
        None, None, 25, False)
    settings = HandoffSettings.from_env({
        "HANDOFF_SECRET": "s", "HANDOFF_ALERTS": "/etc/handoff/alerts.yml", "HANDOFF_ALERT_INTERVAL": "30",
        "HANDOFF_ALERT_WEBHOOK_SECRET": "hook-sekret", "HANDOFF_SMTP_HOST": "smtp.example.com",
        "HANDOFF_SMTP_PORT": "587", "HANDOFF_SMTP_USER": "alerts", "HANDOFF_SMTP_PASSWORD": "mail-sekret",
        "HANDOFF_SMTP_FROM": "alerts@example.com", "HANDOFF_SMTP_STARTTLS": "true"})
    assert (settings.alerts_config, settings.alert_interval) == (Path("/etc/handoff/alerts.yml"), 30.0)
    assert str(settings.alert_webhook_secret) == "hook-sekret" and str(settings.smtp_password) == "mail-sekret"
    assert (settings.smtp_host, settings.smtp_port, settings.smtp_user, settings.smtp_from, settings.smtp_starttls) == (
        "smtp.example.com", 587, "alerts", "alerts@example.com", True)
    assert "sekret" not in repr(settings)


@pytest.mark.parametrize(("key", "value"), [("HANDOFF_ALERT_INTERVAL", "0"), ("HANDOFF_SMTP_PORT", "99999"),
                                            ("HANDOFF_SMTP_STARTTLS", "maybe")])
def test_alert_settings_refuse_a_bad_value_naming_it(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=key):
        HandoffSettings.from_env({key: value, "HANDOFF_SECRET": "s"})
