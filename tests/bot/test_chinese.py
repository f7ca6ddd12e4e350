"""The Chinese configuration (config_zh.yml): a real training on a tiny Chinese data set, then real parses."""

from __future__ import annotations

import asyncio
import base64
import shutil
from typing import Any

import numpy as np
import pytest
import yaml
from rasa.core.agent import Agent
from rasa.model_training import train_nlu

from knowledge.encoder import USE_MODEL, UseEmbedder, write_use_export
from tests.bot.conftest import ROOT

NLU_ZH = r"""version: "3.1"
nlu:
- intent: order_status
  examples: |
    - 我的订单到哪里了
    - 订单[4409812](order_number)发货了吗
    - 查一下订单[55512](order_number)的状态
    - 包裹什么时候到
    - 帮我查物流
    - 快递怎么还没到
    - 我买的东西发货了没有
    - 订单[778812](order_number)现在在哪
- intent: greet
  examples: |
    - 你好
    - 您好
    - 早上好
    - 嗨
    - 在吗
    - 晚上好
    - 哈喽
    - 你好，有人吗
- intent: request_human
  examples: |
    - 转人工
    - 我要找人工客服
    - 让真人来跟我说
    - 帮我接通客服，邮箱[li@example.com](email)
    - 我想和工作人员谈谈，我的电话是[13812345678](phone_number)
    - 人工服务
    - 叫你们的客服过来
    - 我需要真人帮忙
- intent: out_of_scope
  examples: |
    - 明天天气怎么样
    - 讲个笑话
    - 昨晚足球谁赢了
    - 怎么做面包
    - 法国的首都是哪里
    - 给我写首诗
    - 推荐一部好电影
    - 帮我做数学作业
"""


@pytest.fixture(scope="module")
def agent(tmp_path_factory: pytest.TempPathFactory) -> Agent:
    work = tmp_path_factory.mktemp("zh")
    encoder = work / "encoder_zh"
    write_use_export(encoder)  # what `make models` writes to models/encoder_zh
    config = yaml.safe_load((ROOT / "config_zh.yml").read_text())
    for component in config["pipeline"]:
        if component.get("encoder"):
            component["encoder"] = str(encoder)
    (work / "config.yml").write_text(yaml.safe_dump(config, allow_unicode=True))
    data = work / "data"
    data.mkdir()
    (data / "nlu.yml").write_text(NLU_ZH, encoding="utf-8")
    shutil.copy(ROOT / "bot" / "regexes_zh.yml", data)  # as `make model-zh` trains
    model = train_nlu(str(work / "config.yml"), str(data), str(work / "model"), fixed_model_name="zh")
    assert model, "training the Chinese NLU pipeline failed"
    yield Agent.load(model)
    shutil.rmtree(work, ignore_errors=True)


def parse(agent: Agent, text: str) -> dict[str, Any]:
    return asyncio.run(agent.parse_message(text))


def test_the_chinese_configuration_has_no_english_only_component() -> None:
    names = [c["name"] for c in yaml.safe_load((ROOT / "config_zh.yml").read_text())["pipeline"]]
    assert yaml.safe_load((ROOT / "config_zh.yml").read_text())["language"] == "zh"
    assert "JiebaTokenizer" in names
    assert not [n for n in names if n.startswith("Spacy") or n.endswith("SentimentAnalyzer")]


@pytest.mark.parametrize("text, intent", [
    ("我的包裹到哪了？", "order_status"),
    ("快递还没到，帮我看看", "order_status"),
    ("您好呀", "greet"),
    ("请帮我转人工客服", "request_human"),
])
def test_chinese_messages_get_their_intent(agent: Agent, text: str, intent: str) -> None:
    assert parse(agent, text)["intent"]["name"] == intent


def test_an_off_topic_chinese_message_is_handed_off(agent: Agent) -> None:
    assert parse(agent, "今天会下雨吗")["intent"]["name"] in ("out_of_scope", "nlu_fallback")


def entities(agent: Agent, text: str) -> list[tuple[str, str]]:
    return [(e["entity"], e["value"]) for e in parse(agent, text)["entities"]]


def test_order_numbers_phones_and_emails_are_found_without_spaces_around_them(agent: Agent) -> None:
    assert parse(agent, "订单4409123发货了吗")["intent"]["name"] == "order_status"
    assert entities(agent, "订单4409123发货了吗") == [("order_number", "4409123")]
    assert entities(agent, "订单#55512到哪了") == [("order_number", "#55512")]
    assert set(entities(agent, "我的手机号13912345678，邮箱wang.fang@example.cn谢谢")) == {
        ("phone_number", "13912345678"), ("email", "wang.fang@example.cn")}


def test_the_parse_data_carries_the_multilingual_embedding(agent: Agent) -> None:
    text = "我的订单到哪里了"
    passed = parse(agent, text)["text_embedding"]
    assert (passed["model"], passed["dimension"]) == (USE_MODEL, 512)
    vector = np.frombuffer(base64.b64decode(passed["vector"]), dtype="<f4")
    np.testing.assert_allclose(vector, UseEmbedder().encode([text])[0], atol=1e-6)
