"""Settings come from the environment; a bad value stops start-up naming the variable."""

from __future__ import annotations

import pytest

from handoff.core.errors import SettingsError
from handoff.settings import HandoffSettings


def test_settings_read_their_variables() -> None:
    settings = HandoffSettings.from_env({"HANDOFF_LOG_LEVEL": "warning", "HANDOFF_ACCEPT_TIMEOUT": "5",
                                         "HANDOFF_AGENT_GRACE": "45",
                                         "HANDOFF_WIDGET_ORIGINS": "https://shop.example, https://b.example"})
    assert settings.log_level == "WARNING"
    assert (settings.accept_timeout, settings.agent_grace) == (5.0, 45.0)
    assert settings.widget_origins == ("https://shop.example", "https://b.example")
    assert "sekret" not in repr(HandoffSettings.from_env({"HANDOFF_SECRET": "sekret"}))


@pytest.mark.parametrize(("key", "value"), [("HANDOFF_LOG_LEVEL", "chatty"), ("HANDOFF_PORT", "70000"),
                                            ("HANDOFF_ACCEPT_TIMEOUT", "-1"), ("HANDOFF_ROUTING", "/nowhere.yml")])
def test_settings_refuse_a_bad_value_naming_it(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=key):
        HandoffSettings.from_env({key: value})
