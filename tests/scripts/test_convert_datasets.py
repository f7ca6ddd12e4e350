"""The held-out-intent split and the xSID conversion of scripts/convert_datasets.py."""

from __future__ import annotations

from pathlib import Path

import yaml

from scripts.convert_datasets import convert_xsid, hold_out_intents, read_conll

# Two sentences in xSID 0.7's layout (made up for the test, not copied from the data set)
CONLL_ZH = """# id = 1
# text-en = will it snow tomorrow
# text = 明天会下雪吗
# intent = weather/find
1\t明天\tweather/find\tB-datetime
2\t会\tweather/find\tO
3\t下雪\tweather/find\tB-weather/attribute
4\t吗\tweather/find\tO

# id = 2
# text-en = wake me at six
# text = 六点叫醒我
# intent = alarm/set_alarm
1\t六点\talarm/set_alarm\tB-datetime
2\t叫醒\talarm/set_alarm\tO
3\t我\talarm/set_alarm\tO
"""
CONLL_EN = """# text = will it snow tomorrow
# intent = weather/find
# slots: 10:14:weather/attribute
1\twill\tweather/find\tO
2\tit\tweather/find\tO

# text = wake me at six
# intent = alarm/set_alarm
1\twake\talarm/set_alarm\tO
"""


def test_every_fourth_intent_leaves_training_and_its_test_messages_become_out_of_scope() -> None:
    intents = [f"intent_{i}" for i in range(8)]
    train = [(f"train {i} {n}", intent) for i, intent in enumerate(intents) for n in range(3)]
    test = [(f"test {i}", intent) for i, intent in enumerate(intents)]
    kept_train, relabelled = hold_out_intents(train, test)
    assert sorted({i for _, i in kept_train}) == [f"intent_{i}" for i in (0, 1, 2, 4, 5, 6)]
    assert len(kept_train) == 18
    assert relabelled[3] == ("test 3", "out_of_scope") and relabelled[7] == ("test 7", "out_of_scope")
    assert [i for _, i in relabelled].count("out_of_scope") == 2
    assert relabelled[0] == ("test 0", "intent_0")


def test_xsid_conll_becomes_rasa_nlu_with_valid_as_training_and_no_slash_in_intents(tmp_path: Path) -> None:
    folder = tmp_path / "xsid_zh"
    folder.mkdir()
    for split in ("valid", "test"):
        (folder / f"zh.{split}.conll").write_text(CONLL_ZH, encoding="utf-8")
        (folder / f"en.{split}.conll").write_text(CONLL_EN, encoding="utf-8")
    assert read_conll(folder / "zh.valid.conll") == [("明天会下雪吗", "weather_find"), ("六点叫醒我", "alarm_set_alarm")]
    convert_xsid(folder, tmp_path / "out")
    for language, first in (("zh", "明天会下雪吗"), ("en", "will it snow tomorrow")):
        for split in ("train", "test"):
            nlu = yaml.safe_load((tmp_path / "out" / f"xsid_{language}" / f"{split}.yml").read_text(encoding="utf-8"))
            assert [block["intent"] for block in nlu["nlu"]] == ["weather_find", "alarm_set_alarm"]
            assert nlu["nlu"][0]["examples"] == f"- {first}\n"
