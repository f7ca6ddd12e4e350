"""The texts of the widget and the console (docs/translations.md): every key the pages use is in every catalog, no
catalog keeps a key nobody uses, every translation has the placeholders of its English, and the catalogs are
served to the console (same origin) and to the shops that embed the widget (CORS).

The keys are read from the files as written: ``t('key'`` (``tr('key'`` where ``t`` names a ticket) in the scripts,
``data-i18n="key"`` and ``data-i18n-attrs="attr:key;..."`` in console.html. A key therefore appears literally; a
code from the service goes through ``codeLabel`` and its optional ``code.<code>`` entries, which are exempt."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.handoff.web.conftest import Serve

STATIC = Path(__file__).resolve().parents[3] / "handoff" / "web" / "static"
LOCALES = ("en", "zh")
CALL = re.compile(r"\b(?:t|tr)\(\s*'([^']+)'")
PLACEHOLDER = re.compile(r"\{(\w+)\}")
ENGLISH_ONLY = re.compile(r"[A-Za-z][A-Za-z_]{3,}")


def catalog(name: str, locale: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((STATIC / f"{name}.{locale}.json").read_text(encoding="utf-8"))
    return loaded


def console_keys() -> dict[str, str]:
    """Key -> the file that uses it."""
    found: dict[str, str] = {}
    for path in [*sorted(STATIC.glob("console*.js")), STATIC / "i18n.js"]:
        for key in CALL.findall(path.read_text(encoding="utf-8")):
            found.setdefault(key, path.name)
    html = (STATIC / "console.html").read_text(encoding="utf-8")
    for key in re.findall(r'data-i18n="([^"]+)"', html):
        found.setdefault(key, "console.html")
    for pairs in re.findall(r'data-i18n-attrs="([^"]+)"', html):
        for pair in pairs.split(";"):
            found.setdefault(pair.split(":", 1)[1].strip(), "console.html")
    return found


def widget_keys() -> set[str]:
    return set(CALL.findall((STATIC / "widget.js").read_text(encoding="utf-8")))


def placeholders(value: str | dict[str, str]) -> set[str]:
    forms = value.values() if isinstance(value, dict) else [value]
    return {name for form in forms for name in PLACEHOLDER.findall(form)}


@pytest.mark.parametrize("locale", LOCALES)
def test_every_console_key_used_is_in_the_catalog(locale: str) -> None:
    missing = {key: where for key, where in console_keys().items() if key not in catalog("console", locale)}
    assert not missing, f"console.{locale}.json lacks {missing}"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_widget_key_used_is_in_the_catalog(locale: str) -> None:
    assert widget_keys() - set(catalog("widget", locale)) == set()


@pytest.mark.parametrize("name", ["console", "widget"])
def test_the_catalogs_keep_no_unused_key_and_the_same_keys(name: str) -> None:
    used = set(console_keys()) if name == "console" else widget_keys()
    english = catalog(name, "en")
    unused = {key for key in english if key not in used and not key.startswith("code.")}
    assert not unused, f"{name}.en.json keeps keys no page uses: {sorted(unused)}"
    for locale in LOCALES:
        assert set(catalog(name, locale)) == set(english), f"{name}.{locale}.json has other keys than English"


@pytest.mark.parametrize("name", ["console", "widget"])
@pytest.mark.parametrize("locale", LOCALES)
def test_every_translation_has_the_placeholders_of_its_english_and_a_general_plural(name: str, locale: str) -> None:
    english = catalog(name, "en")
    for key, value in catalog(name, locale).items():
        assert placeholders(value) == placeholders(english[key]), (locale, key)
        if isinstance(value, dict):
            assert "other" in value and set(value) <= {"zero", "one", "two", "few", "many", "other"}, (locale, key)


@pytest.mark.parametrize("name", ["console", "widget"])
def test_the_chinese_catalog_is_translated(name: str) -> None:
    """Chinese entries say it in Chinese: English words left over are only names (CSV, SLA, HANDOFF_...)."""
    allowed = {"HANDOFF_ALERTS", "HANDOFF_AUTOMATION", "Brightwood", "Webhook", "returns", "strategies", "handoff",
               "routing", "domain", "docs", "metrics", "Erlang", "WAPE", "YAML", "Enter", "Shift", "Tab",
               "Rasa", "Telegram", "XMPP", "Markdown"}
    for key, value in catalog(name, "zh").items():
        forms = value.values() if isinstance(value, dict) else [value]
        for form in forms:
            words = set(ENGLISH_ONLY.findall(PLACEHOLDER.sub("", form))) - allowed
            assert not words, (key, form)


async def test_the_catalogs_are_served_to_the_console_and_to_the_shops(serve: Serve) -> None:
    import httpx

    app, _ = await serve(widget_origins=("https://shop.example",))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://handoff.test") as client:
        for name in ("console.zh.json", "widget.zh.json", "i18n.js"):
            response = await client.get(f"/static/{name}", headers={"Origin": "https://shop.example"})
            assert response.status_code == 200, name
        widget = await client.get("/static/widget.zh.json", headers={"Origin": "https://shop.example"})
        assert widget.json()["widget.send"] == "发送"
        assert widget.headers["access-control-allow-origin"] == "https://shop.example"
        assert widget.headers["content-type"].startswith("application/json")
