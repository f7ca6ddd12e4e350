"""Settings come from the environment; a bad value stops start-up naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from handoff.core.errors import SettingsError
from handoff.settings import HandoffSettings


def test_settings_read_their_variables() -> None:
    settings = HandoffSettings.from_env({"HANDOFF_LOG_LEVEL": "warning", "HANDOFF_ACCEPT_TIMEOUT": "5",
                                         "HANDOFF_AGENT_GRACE": "45",
                                         "HANDOFF_WIDGET_ORIGINS": "https://shop.example, https://b.example",
                                         "HANDOFF_SECRET": "s"})
    assert settings.log_level == "WARNING"
    assert (settings.accept_timeout, settings.agent_grace) == (5.0, 45.0)
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


def test_the_daily_topics_run_can_be_turned_off() -> None:
    assert HandoffSettings.from_env({}).insights_hour == 3
    assert HandoffSettings.from_env({"HANDOFF_INSIGHTS_HOUR": "5"}).insights_hour == 5
    assert HandoffSettings.from_env({"HANDOFF_INSIGHTS_HOUR": "Off"}).insights_hour is None


@pytest.mark.parametrize(("key", "value"), [("HANDOFF_LOG_LEVEL", "chatty"), ("HANDOFF_INSIGHTS_HOUR", "24"), ("HANDOFF_PORT", "70000"),
                                            ("HANDOFF_ACCEPT_TIMEOUT", "-1"), ("HANDOFF_ROUTING", "/nowhere.yml"),
                                            ("HANDOFF_MESSAGES_PER_MINUTE", "0"), ("HANDOFF_RETENTION_DAYS", "2.5"),
                                            ("HANDOFF_CUSTOMER_TOKEN_TTL", "never")])
def test_settings_refuse_a_bad_value_naming_it(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=key):
        HandoffSettings.from_env({key: value, "HANDOFF_SECRET": "s"})


def test_several_instances_on_one_redis_need_handoff_secret() -> None:
    """Each instance would otherwise make its own secret: a customer's token would fail on the others."""
    with pytest.raises(SettingsError, match="HANDOFF_SECRET is not set, but REDIS_URL is"):
        HandoffSettings.from_env({"REDIS_URL": "redis://127.0.0.1:6379/0"})
    settings = HandoffSettings.from_env({"REDIS_URL": "redis://127.0.0.1:6379/0", "HANDOFF_SECRET": "shared"})
    assert str(settings.secret) == "shared"


def test_the_embedded_profile_keeps_its_secret_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "var" / "handoff.secret"
    env = {"HANDOFF_SECRET_FILE": str(path)}
    first = HandoffSettings.from_env(env)
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(str(first.secret)) >= 32 and path.read_text().strip() == str(first.secret)
    restarted = HandoffSettings.from_env(env)
    assert str(restarted.secret) == str(first.secret)
    assert str(HandoffSettings.from_env({**env, "HANDOFF_SECRET": "given"}).secret) == "given"  # the variable wins


@pytest.mark.parametrize(("content", "mode", "complaint"), [("", 0o600, "is empty"),
                                                            ("s3cret\n", 0o644, "can be read by others")])
def test_a_bad_secret_file_stops_start_up(tmp_path: Path, content: str, mode: int, complaint: str) -> None:
    path = tmp_path / "handoff.secret"
    path.write_text(content)
    path.chmod(mode)
    with pytest.raises(SettingsError, match=complaint):
        HandoffSettings.from_env({"HANDOFF_SECRET_FILE": str(path)})


def test_channels_are_read_and_an_unknown_one_stops_start_up(tmp_path: Path) -> None:
    env = {"HANDOFF_SECRET_FILE": str(tmp_path / "secret")}
    assert HandoffSettings.from_env(env).channels == ("web",)
    assert HandoffSettings.from_env({**env, "HANDOFF_CHANNELS": "web, email"}).channels == ("web", "email")
    with pytest.raises(SettingsError,
                       match=r"HANDOFF_CHANNELS: no channel 'sms' \(valid channels: email, telegram, web, xmpp\)"):
        HandoffSettings.from_env({**env, "HANDOFF_CHANNELS": "email,sms"})
    with pytest.raises(SettingsError, match="HANDOFF_ARTICLE_URL"):
        HandoffSettings.from_env({**env, "HANDOFF_ARTICLE_URL": "https://help.test/"})


def test_the_xmpp_channel_needs_its_account(tmp_path: Path) -> None:
    env = {"HANDOFF_SECRET_FILE": str(tmp_path / "secret"), "HANDOFF_CHANNELS": "web,xmpp"}
    with pytest.raises(SettingsError, match="HANDOFF_XMPP_JID or HANDOFF_XMPP_PASSWORD is not set"):
        HandoffSettings.from_env(env)
    settings = HandoffSettings.from_env({**env, "HANDOFF_XMPP_JID": "support@chat.shop.test",
                                         "HANDOFF_XMPP_PASSWORD": "pw", "HANDOFF_XMPP_SERVER": "127.0.0.1:5222",
                                         "HANDOFF_XMPP_TLS": "optional"})
    assert (settings.channels, settings.xmpp_jid, settings.xmpp_server, settings.xmpp_tls) == (
        ("web", "xmpp"), "support@chat.shop.test", ("127.0.0.1", 5222), "optional")
    assert "pw" not in repr(settings)
    for key, value in (("HANDOFF_XMPP_JID", "support"), ("HANDOFF_XMPP_SERVER", "localhost"),
                       ("HANDOFF_XMPP_TLS", "maybe")):
        with pytest.raises(SettingsError, match=key):
            HandoffSettings.from_env({**env, "HANDOFF_XMPP_JID": "a@b", "HANDOFF_XMPP_PASSWORD": "pw", key: value})


def test_the_telegram_channel_needs_its_token_and_webhook_secret(tmp_path: Path) -> None:
    env = {"HANDOFF_SECRET_FILE": str(tmp_path / "secret"), "HANDOFF_CHANNELS": "web,telegram"}
    with pytest.raises(SettingsError, match="HANDOFF_TELEGRAM_TOKEN or HANDOFF_TELEGRAM_SECRET is not set"):
        HandoffSettings.from_env(env)
    with pytest.raises(SettingsError, match="HANDOFF_TELEGRAM_TOKEN or HANDOFF_TELEGRAM_SECRET is not set"):
        HandoffSettings.from_env({**env, "HANDOFF_TELEGRAM_TOKEN": "123:AAE-x_y"})
    token, secret = "123456:AAE-token_value", "a-Secret_of-the_webhook"
    settings = HandoffSettings.from_env({**env, "HANDOFF_TELEGRAM_TOKEN": token, "HANDOFF_TELEGRAM_SECRET": secret,
                                         "HANDOFF_TELEGRAM_WEBHOOK_URL": "https://support.shop.test/channels/"
                                                                         "telegram/webhook"})
    assert settings.channels == ("web", "telegram") and settings.telegram_api == "https://api.telegram.org"
    assert (str(settings.telegram_token), str(settings.telegram_secret)) == (token, secret)
    assert settings.telegram_webhook_url == "https://support.shop.test/channels/telegram/webhook"
    assert token not in repr(settings) and secret not in repr(settings)
    good = {**env, "HANDOFF_TELEGRAM_TOKEN": token, "HANDOFF_TELEGRAM_SECRET": secret}
    for key, value in (("HANDOFF_TELEGRAM_TOKEN", "not-a-token"), ("HANDOFF_TELEGRAM_SECRET", "has space"),
                       ("HANDOFF_TELEGRAM_SECRET", "x" * 257), ("HANDOFF_TELEGRAM_API", "ftp://api.test"),
                       ("HANDOFF_TELEGRAM_WEBHOOK_URL", "http://support.shop.test/channels/telegram/webhook")):
        with pytest.raises(SettingsError, match=key):
            HandoffSettings.from_env({**good, key: value})


def test_the_imap_mailbox_settings(tmp_path: Path) -> None:
    env = {"HANDOFF_SECRET_FILE": str(tmp_path / "secret"), "HANDOFF_IMAP_HOST": "imap.shop.test",
           "HANDOFF_IMAP_SECURITY": "STARTTLS", "HANDOFF_IMAP_PASSWORD": "pw"}
    settings = HandoffSettings.from_env(env)
    assert (settings.imap_host, settings.imap_port, settings.imap_security, str(settings.imap_password)) == (
        "imap.shop.test", 993, "starttls", "pw")
    assert "pw" not in repr(settings)
    with pytest.raises(SettingsError, match="HANDOFF_IMAP_SECURITY"):
        HandoffSettings.from_env({**env, "HANDOFF_IMAP_SECURITY": "ssl3"})
