"""Team training's pure rules: weak spots, masking, a conversation's turns, a reply's score."""

from __future__ import annotations

from handoff.core.practice import (
    Mark,
    Rating,
    Spell,
    key_terms,
    mask,
    score_reply,
    turns_of,
    weak_spots,
    word_similarity,
)


def team(agent_seconds: float = 300, agent_transfers: int = 0, agent_low: int = 0,
         conversations: int = 5) -> tuple[list[Spell], list[Rating], list[Mark]]:
    """Grace's ``conversations`` returns against Linus's and Ada's five each (300 s, none transferred, rated 5)."""
    spells = [Spell("grace", "returns", agent_seconds, i < agent_transfers) for i in range(conversations)]
    spells += [Spell(who, "returns", 300, False) for who in ("linus", "ada") for _ in range(5)]
    ratings = [Rating("grace", "returns", 1 if i < agent_low else 5) for i in range(conversations)]
    ratings += [Rating(who, "returns", 5) for who in ("linus", "ada") for _ in range(5)]
    return spells, ratings, []


def flags_of(rows: list[dict], agent: str = "grace") -> list[str]:
    [row] = [r for r in rows if r["agent_id"] == agent]
    return [f["kind"] if f["kind"] != "qa" else f"qa:{f['criterion']}" for f in row["flags"]]


def test_weak_spots_flag_nothing_when_the_agent_is_like_the_team() -> None:
    assert flags_of(weak_spots(*team())) == []


def test_weak_spots_flag_handle_time_from_a_quarter_longer() -> None:
    assert flags_of(weak_spots(*team(agent_seconds=375))) == ["handle_time"]  # 1.25 x the rest's 300 s
    assert flags_of(weak_spots(*team(agent_seconds=370))) == []


def test_weak_spots_flag_transfers_and_low_ratings_by_margin() -> None:
    rows = weak_spots(*team(agent_transfers=1, agent_low=1))  # 20 % against 0 %: both past their margins
    assert flags_of(rows) == ["low_ratings", "transfers"]
    [grace] = [r for r in rows if r["agent_id"] == "grace"]
    assert grace["agent"]["low_rating_share"] == 0.2 and grace["team"]["low_rating_share"] == 0.0
    assert grace["team"]["conversations"] == 10  # the rest of the team: Grace left out


def test_weak_spots_need_enough_conversations_on_both_sides() -> None:
    assert flags_of(weak_spots(*team(agent_seconds=900, agent_transfers=4, conversations=4))) == []
    spells = [Spell("grace", "returns", 900, False)] * 5 + [Spell("linus", "returns", 300, False)] * 4
    assert flags_of(weak_spots(spells, [], [])) == []  # the rest of the team has too few to compare with


def test_weak_spots_flag_a_qa_criterion_fifteen_points_under_the_rest() -> None:
    spells, ratings, _ = team()
    marks = [Mark("grace", "returns", "tone", 50.0), Mark("grace", "returns", "tone", 60.0),
             Mark("linus", "returns", "tone", 75.0), Mark("ada", "returns", "tone", 75.0),
             Mark("grace", "returns", "accuracy", 70.0), Mark("grace", "returns", "accuracy", 70.0),
             Mark("linus", "returns", "accuracy", 80.0), Mark("ada", "returns", "accuracy", 80.0)]
    rows = weak_spots(spells, ratings, marks)
    assert flags_of(rows) == ["qa:tone"]  # 55 against 75; accuracy only 10 under
    [grace] = [r for r in rows if r["agent_id"] == "grace"]
    assert grace["qa"]["tone"] == {"agent": 55.0, "team": 75.0}


def test_weak_spots_compare_within_a_category() -> None:
    spells = [Spell("grace", "billing", 900, False)] * 5 + [Spell("linus", "returns", 300, False)] * 5
    assert all(row["flags"] == [] for row in weak_spots(spells, [], []))


def test_mask_replaces_the_customers_profile_and_details() -> None:
    text = ("Hi, I'm Jo Tester (jo.tester@example.com, +44 7700 900123), order #123456 to 12 Baker Street, "
            "NW1 6XE. Jo again: call 020 7946 0958. My shop id is shop-77.")
    masked = mask(text, ["Jo Tester", "jo.tester@example.com", "shop-77"])
    assert masked == ("Hi, I'm [name] ([email], [phone]), order [order] to [address], [postcode]. [name] again: "
                      "call [phone]. My shop id is [name].")


def test_mask_leaves_ordinary_words_and_short_numbers() -> None:
    text = "I'd like to return 2 shirts bought 3 weeks ago for 45.99"
    assert mask(text, ["Ann Lee", None, ""]) == text
    assert mask("another@mail.org wrote") == "[email] wrote"


def test_turns_pair_each_customer_turn_with_the_resolving_agents_reply() -> None:
    messages = [("customer", None, "a person please"), ("bot", None, "Passing you to a colleague."),
                ("customer", None, "My parcel never came."), ("customer", None, "It was due Monday."),
                ("agent", "grace", "Sorry to hear that."), ("agent", "grace", "I've sent a new one."),
                ("customer", None, "Thanks!"), ("system", None, "Grace resolved this."),
                ("customer", None, "bye")]
    assert turns_of(messages, "grace") == [
        ("My parcel never came. It was due Monday.", "Sorry to hear that. I've sent a new one.")]
    assert turns_of(messages, "linus") == []


def test_key_terms_are_the_replys_numbers_and_the_articles_words_first() -> None:
    reply = "You can return unworn items within 30 days for a refund; please use the prepaid label."
    article = "Returns: unworn items may be returned within 30 days for a full refund."
    assert key_terms(reply, article) == ["30", "return", "unworn", "refund", "item", "days"]


def test_score_reply_weighs_meaning_article_and_terms_and_explains() -> None:
    result = score_reply("Sure, send it back within 30 days for a refund.", ["30", "refund", "unworn"],
                         to_reply=0.8, to_article=0.55)
    # reply 100 % x 0.5, article 50 % x 0.2, terms 2 of 3 x 0.3
    assert result["score"] == 80.0
    assert result["matched"] == ["30", "refund"]
    assert result["why"][2] == "Key terms: 2 of 3 (weight 30%); missing: unworn."


def test_score_reply_leaves_out_what_is_missing() -> None:
    assert score_reply("no idea", [], to_reply=0.3, to_article=None)["score"] == 0.0
    assert score_reply("same words", [], to_reply=0.9, to_article=None)["parts"] == {"reply": 1.0}


def test_word_similarity_is_a_cosine_of_word_counts() -> None:
    assert word_similarity("refund within 30 days", "Refunds within 30 days") == 1.0
    assert word_similarity("refund", "parcel") == 0.0
