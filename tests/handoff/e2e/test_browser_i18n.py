"""The widget and the console in Chinese, in headless Chromium against a served instance (embedded profile, no bot:
the customer's first message finds it down, so a person takes over, which is what this test wants to hear about).

A shop page embeds the widget with ``data-lang="zh"``: its buttons, labels and state line are Chinese, and so are
the service's notices (the bot is down, an agent joined), said in the conversation's language; the customer's
text stays text. An agent picks 简体中文 in the console: the sign-in, the tabs and the labels are Chinese, the
choice outlives a reload. The demo shop without the attribute stays English (the browser's language is)."""

from __future__ import annotations

from pathlib import Path

from tests.handoff.e2e.browser import Desk, Shopper, browsers, expect
from tests.handoff.e2e.harness import HandoffServer

INERT = '<img src=x onerror="alert(1)"> 我要找人工客服 <b>谢谢</b>'
# The demo shop with its widget's tag as a Chinese shop writes it (<script src="/widget.js" data-lang="zh">): the
# attribute joins the tag as the parser inserts it, before the script runs. (A page fulfilled by the test instead
# would have no address, and Chromium's local-network checks would refuse its socket to 127.0.0.1.)
DATA_LANG_ZH = """new MutationObserver((records, observer) => {
  for (const record of records) for (const node of record.addedNodes) {
    if (node.tagName === 'SCRIPT' && /widget[.]js/.test(node.src)) { node.dataset.lang = 'zh'; observer.disconnect(); }
  }
}).observe(document, { childList: true, subtree: true });"""


async def test_browser_the_widget_and_the_console_speak_chinese(served: HandoffServer, tmp_path: Path) -> None:
    async with browsers(tmp_path) as open_browser:
        desk = Desk(await open_browser.open("grace"), served.url)
        await desk.page.goto(served.url + "/console")
        await expect(desk.page.get_by_test_id("login-submit")).to_have_text("Sign in")  # the browser's: English
        await desk.page.get_by_test_id("login-locale").select_option("zh")  # the page reloads in Chinese
        await expect(desk.page.get_by_test_id("login-submit")).to_have_text("登录")
        await expect(desk.page.locator("label[for=login-username]")).to_have_text("用户名")
        await desk.sign_in("grace")  # an agent in data/demo; the choice is kept in this browser
        page = desk.page
        await expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
        await expect(page.get_by_test_id("conversations-tab")).to_have_text("会话")
        await expect(page.get_by_test_id("tickets-tab")).to_have_text("工单")
        await expect(page.get_by_test_id("locale")).to_have_value("zh")
        await expect(page.get_by_test_id("presence").locator("option[value=online]")).to_have_text("在线")
        await expect(page.locator("#queue-empty")).to_have_text("当前无人排队。")
        await expect(page.locator("#logout")).to_have_text("退出登录")
        assert await page.title() == "客服工作台"

        shop = Shopper(await open_browser.open("customer"), served.url)
        await shop.page.add_init_script(DATA_LANG_ZH)
        await shop.page.goto(served.url + "/")
        launcher = shop.page.get_by_test_id("bw-launcher")
        await expect(launcher).to_have_attribute("aria-label", "打开客服聊天")
        await launcher.click()
        await expect(shop.page.get_by_test_id("bw-panel")).to_be_visible()
        await expect(shop.page.locator("#brightwood-widget")).to_have_attribute("lang", "zh-CN")
        await expect(shop.page.get_by_test_id("bw-input")).to_have_attribute("placeholder", "请输入消息…")
        await expect(shop.page.get_by_test_id("bw-send")).to_have_text("发送")
        await expect(shop.state).to_have_text("智能助手")

        await shop.say(INERT)
        await expect(shop.bubble(INERT, "customer")).to_have_count(1)  # text, not markup
        await expect(shop.page.locator("#brightwood-widget img")).to_have_count(0)
        system = shop.said_by("system")
        await expect(system.filter(has_text="智能助手暂时无法回复")).to_have_count(1)
        await expect(system.filter(has_text="Grace Hopper 已加入会话")).to_have_count(1)  # grace is online
        await expect(shop.state).to_have_text("Grace Hopper（人工客服）")
        stored = await shop.stored()
        conversation = await desk.api(f"/api/agent/conversations/{stored['conversationId']}")
        assert (conversation.get("summary") or conversation)["customer"]["language"] == "zh"  # routing hears it too

        await expect(page.get_by_test_id("mine-item")).to_have_count(1)
        await expect(page.get_by_test_id("resolve")).to_have_text("标记为已解决")
        await expect(desk.lines(INERT, "customer")).to_have_count(1)
        await expect(page.locator("#transcript img")).to_have_count(0)
        await page.reload()  # the choice outlives a reload
        await expect(page.get_by_test_id("conversations-tab")).to_have_text("会话")

        english = Shopper(await open_browser.open("visitor"), served.url)
        await english.visit()  # the demo shop: no data-lang, the browser's language (English)
        await expect(english.page.get_by_test_id("bw-launcher")).to_have_attribute("aria-label", "Close support chat")
        await expect(english.state).to_have_text("Assistant")
        await expect(english.page.get_by_test_id("bw-send")).to_have_text("Send")
        for actor in (desk.actor, shop.actor, english.actor):
            actor.check_clean()
        assert not desk.refused, desk.refused  # the catalogs and i18n.js load under the console's CSP
