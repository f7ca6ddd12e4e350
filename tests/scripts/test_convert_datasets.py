"""The held-out-intent split of scripts/convert_datasets.py."""

from __future__ import annotations

from scripts.convert_datasets import hold_out_intents


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
