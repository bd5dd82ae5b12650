"""Topics' impact on CSAT: requests are scored, the turns customers close conversations with are not."""

from pipeline.endings import closing_topics
from pipeline.impact import compute_impact
from pipeline.store import Store
from tests.conversation_store import conversation_store

CARD_LATE, REFUND, PIN, TOP_UP, THANKS, FRUSTRATED, HELLO, BALANCE = 0, 1, 2, 3, 10, 11, 20, 21


def _store(tmp_path, conversations: list[tuple[list[int], int]]) -> Store:
    """One conversation per (customer turns' topics in order, CSAT), all in one week."""
    return conversation_store(
        tmp_path / "impact.duckdb", [(0, turns, {"csat": csat}) for turns, csat in conversations]
    )


def test_closing_turns_are_left_out_and_the_request_that_ends_badly_leads(tmp_path):
    """Late cards end badly 6 times in 10, the three other requests 2 or 3 in 10; each conversation
    ends with a thanks or a complaint, said with the score. The complaint topic would lead the list
    with every one of its conversations at 1; it is how conversations end, not what they were about,
    and is left out, so the late cards lead. A request that follows a greeting is also a last turn,
    but always after the same opener: it keeps its row."""
    conversations = []
    for request, bad in ((CARD_LATE, 6), (REFUND, 2), (PIN, 3), (TOP_UP, 3)):
        conversations += [([request, FRUSTRATED], 1)] * bad + [([request, THANKS], 5)] * (10 - bad)
    conversations += [([HELLO, BALANCE], 4)] * 5
    store = _store(tmp_path, conversations)

    assert closing_topics(store) == [THANKS, FRUSTRATED]
    impact = compute_impact(store)
    assert set(impact["topic_id"]) == {CARD_LATE, REFUND, PIN, TOP_UP, HELLO, BALANCE}
    first = impact.iloc[0]
    assert first["topic_id"] == CARD_LATE and first["impact"] < 0
    assert first["score_with"] == (6 * 1 + 4 * 5) / 10
    assert first["overall"] == (14 * 1 + 26 * 5 + 5 * 4) / 45


def test_with_one_request_behind_most_complaints_the_complaints_stay_scored(tmp_path):
    """Where one opening topic is behind more than half a closing topic's conversations, position
    cannot tell a closer from a follow-up request; the topic keeps its row (the rule before)."""
    conversations = [([CARD_LATE, FRUSTRATED], 1)] * 6 + [([REFUND, FRUSTRATED], 1)] * 2
    conversations += [([CARD_LATE, THANKS], 5)] * 4 + [([REFUND, THANKS], 5)] * 8
    store = _store(tmp_path, conversations)
    assert closing_topics(store) == []
    assert FRUSTRATED in set(compute_impact(store)["topic_id"])


def test_a_store_without_closing_turns_scores_every_topic(tmp_path):
    """Single-message conversations (an email, a form): nothing is a closing turn."""
    store = _store(tmp_path, [([CARD_LATE], 2), ([REFUND], 4), ([REFUND], 5)])
    assert closing_topics(store) == []
    impact = compute_impact(store).set_index("topic_id")
    assert impact.loc[CARD_LATE, "score_with"] == 2 and impact.loc[REFUND, "score_with"] == 4.5


def test_a_driver_beyond_chance_is_told_from_one_within_it(tmp_path):
    """Late cards end badly 12 times in 20, the other requests 4 or 5 in 20: only late cards score
    differently from the rest beyond chance; the others' small impacts are said to be within it."""
    conversations = []
    for request, bad in ((CARD_LATE, 12), (REFUND, 4), (PIN, 5), (TOP_UP, 4)):
        conversations += [([request, FRUSTRATED], 1)] * bad + [([request, THANKS], 5)] * (20 - bad)
    impact = compute_impact(_store(tmp_path, conversations)).set_index("topic_id")
    assert set(impact.index) == {CARD_LATE, REFUND, PIN, TOP_UP}  # the closers are left out
    assert impact.loc[CARD_LATE, "q_value"] < 0.01 and impact.loc[CARD_LATE, "impact"] < 0
    assert (impact.drop(CARD_LATE)["q_value"] > 0.05).all()
    assert impact["p_value"].between(0, 1).all()
