"""How conversations ended: closing turns read by conversation, and the requests that end unhappy."""

import pandas as pd

from pipeline import queries
from pipeline.digest import build_digest, endings_section
from pipeline.endings import closing_topics, compare_requests, compute_endings, save_endings
from pipeline.insights import refresh_insights
from pipeline.store import Store
from tests.conversation_store import conversation_store

CARD_LATE, REFUND, PIN, TOP_UP, THANKS, FRUSTRATED, NO_THANKS = 0, 1, 2, 3, 10, 11, 12
LABELS = {
    CARD_LATE: "card not arrived",
    REFUND: "refund",
    PIN: "change pin",
    TOP_UP: "top up failed",
    THANKS: "thanks",
    FRUSTRATED: "frustrating",
    NO_THANKS: "no thanks bye",
}
SAID = {
    THANKS: ("positive", 0.9, 0.02),
    FRUSTRATED: ("negative", -0.9, 0.95),
    NO_THANKS: ("negative", -0.3, 0.6),
}


def _store(tmp_path, conversations: list[tuple[int, list[int]]]) -> Store:
    """One conversation per (week, customer turns' topics in order); closing turns carry their
    sentiment, requests are neutral."""
    return conversation_store(
        tmp_path / "endings.duckdb", [(week, turns, None) for week, turns in conversations], LABELS, SAID
    )


def _refresh(store: Store) -> list[int]:
    closing = closing_topics(store)
    save_endings(store, compute_endings(store, closing), "test")
    return closing


def _planted(week: int, card_unhappy: int, other_unhappy: int) -> list[tuple[int, list[int]]]:
    """20 late-card conversations and 20 of each other request in ``week``; ``card_unhappy`` and
    ``other_unhappy`` of them end frustrated, 2 of each end without a closing word, the rest thank."""
    out = []
    for request, unhappy in ((CARD_LATE, card_unhappy), (REFUND, other_unhappy), (PIN, other_unhappy),
                             (TOP_UP, other_unhappy)):  # fmt: skip
        out += [(week, [request, FRUSTRATED])] * unhappy
        out += [(week, [request, request])] * 2  # asked twice, did not close
        out += [(week, [request, THANKS])] * (18 - unhappy)
    return out


def test_each_conversation_ends_once_with_the_sentiment_of_its_closing_turn(tmp_path):
    store = _store(tmp_path, _planted(0, 12, 4) + [(0, [REFUND])] * 3)  # 3 one-message conversations
    assert _refresh(store) == [THANKS, FRUSTRATED]
    ends = store.query("SELECT * FROM conversation_endings").set_index("conversation_id")
    assert len(ends) == 83  # every conversation, once
    assert ends["ending"].value_counts().to_dict() == {"thanked": 48, "unhappy": 24, "none": 11}
    single = ends[ends["customer_turns"] == 1]
    assert len(single) == 3 and (single["ending"] == "none").all()
    unhappy = ends[ends["ending"] == "unhappy"]
    closing_topic = store.query(
        "SELECT message_id, topic_id FROM assignments WHERE message_id IN (SELECT unnest($ids))",
        {"ids": unhappy["closing_message_id"].tolist()},
    )
    assert (closing_topic["topic_id"] == FRUSTRATED).all() and len(closing_topic) == 24


def test_a_closing_turn_the_model_only_leans_negative_on_is_not_an_unhappy_ending(tmp_path):
    """A polite "No thanks, bye" that the sentiment model labels negative at p = 0.6 closes neutrally;
    only a confident negative is an unhappy ending."""
    polite = [(0, [request, NO_THANKS]) for request in (CARD_LATE, REFUND, PIN, TOP_UP)] * 3
    store = _store(tmp_path, _planted(0, 4, 4) + polite)
    assert _refresh(store) == [THANKS, FRUSTRATED, NO_THANKS]
    ends = store.query("SELECT ending, count(*) AS n FROM conversation_endings GROUP BY ALL")
    assert dict(zip(ends["ending"], ends["n"], strict=True)) == {
        "thanked": 56,
        "unhappy": 16,
        "neutral": 12,
        "none": 8,
    }
    week = queries.endings_by_week(store, "2026-09-07").iloc[-1]
    assert (week["neutral"], week["unhappy"]) == (12, 16)
    assert "; 12 closed neutrally, 8 without a closing word." in "\n".join(
        endings_section(store, "2026-09-07", queries.endings_by_week(store, "2026-09-07"))
    )


def test_the_request_that_ends_unhappy_more_often_is_flagged_with_its_counts(tmp_path):
    """Late cards end frustrated 12 times in 20, the other requests 4 in 20: only late cards are
    flagged, and the table says how many of each."""
    store = _store(tmp_path, _planted(0, 12, 4))
    _refresh(store)
    requests = queries.request_endings(store, "2026-09-07").set_index("topic_id")
    assert set(requests.index) == {CARD_LATE, REFUND, PIN, TOP_UP}  # closers are not requests
    card = requests.loc[CARD_LATE]
    assert (card["conversations"], card["unhappy"], card["thanked"]) == (20, 12, 6)
    assert card["rest_share"] == 12 / 60 and card["more_unhappy"] and card["q_value"] < 0.001
    assert not requests.drop(CARD_LATE)["more_unhappy"].any()
    assert requests.index[0] == CARD_LATE


def test_no_request_is_flagged_when_all_end_alike(tmp_path):
    store = _store(tmp_path, _planted(0, 5, 5))
    _refresh(store)
    assert not queries.request_endings(store, "2026-09-07")["more_unhappy"].any()


def test_the_brief_reports_the_weeks_endings_against_last_week(tmp_path):
    """Week 1's unhappy endings rise from 16 in 80 to 24 in 80; the brief says both weeks' shares, the
    trend, an unhappy customer's last words with what they came about, and flags late cards."""
    store = _store(tmp_path, _planted(0, 4, 4) + _planted(1, 12, 4))
    _refresh(store)
    ended = queries.endings_by_week(store, "2026-09-14")
    assert ended[["week", "multi_turn", "thanked", "unhappy"]].values.tolist() == [
        ["2026-09-07", 80, 56, 16],
        ["2026-09-14", 80, 48, 24],
    ]
    said = queries.ending_verbatims(store, "2026-09-14", "unhappy", 3)
    assert len(said) == 3 and said["text"].str.startswith("frustrating").all()
    assert said["opening"].str.match(r"(card not arrived|refund|change pin|top up failed) \(").all()
    brief = "\n".join(endings_section(store, "2026-09-14", ended))
    assert "## How conversations ended" in brief
    assert "**48 (60%) ended with thanks** and **24 (30%) unhappy** (last week 70% and 20%)" in brief
    assert "8 without a closing word" in brief
    assert "the last 2: 20% → **30%**" in brief
    assert "| card not arrived | 40 | 16 (40%) | 20 |" in brief and "more often than the rest" in brief


def test_requests_too_small_to_test_are_listed_without_a_verdict():
    counts = pd.DataFrame({"topic_id": [0, 1, 2], "conversations": [4, 30, 30], "unhappy": [4, 6, 6]})
    tested = compare_requests(counts).set_index("topic_id")
    assert pd.isna(tested.loc[0, "q_value"]) and not tested.loc[0, "more_unhappy"]
    assert tested.loc[1, "rest_share"] == 10 / 34


def test_the_dashboard_brief_shows_how_conversations_ended(tmp_path, monkeypatch):
    """The brief page reads the endings the run stored: the week's sentence, the unhappy last words,
    the requests with late cards flagged; closing topics are left out of its themes and topics."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT

    store = _store(tmp_path, _planted(0, 4, 4) + _planted(1, 12, 4))
    counts = refresh_insights(store, "test")
    assert (counts["closing_topics"], counts["conversation_endings"]) == (2, 160)
    monkeypatch.setenv("VOC_STORE", str(store.path))
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=60)
    at.query_params["week"] = "2026-09-14"
    at.switch_page("views/brief.py")
    at.run()
    assert not at.exception and not at.error
    assert "How conversations ended" in [h.value for h in at.subheader]
    text = "\n".join(m.value for m in at.markdown)
    assert "**48 (60%) ended with thanks** and **24 (30%) unhappy** (last week 70% and 20%)" in text
    assert "> frustrating (c" in text
    frames = [d.value for d in at.dataframe]
    requests = next(f for f in frames if "more_unhappy" in f.columns)
    assert requests["topic"].iloc[0] == "card not arrived" and requests["more_unhappy"].tolist() == [
        True, False, False, False
    ]  # fmt: skip
    topics = frames[1]
    assert set(topics["topic"]) == {"card not arrived", "refund", "change pin", "top up failed"}


def test_a_rise_in_closing_complaints_is_a_mover_said_to_be_one(tmp_path):
    """Frustrated last words go from 8 a week to 21 (late cards ending badly 15 times in 18): the
    closing topic is flagged like any topic, and the brief says it is how customers close."""
    weeks = [_planted(w, 2, 2) for w in range(5)] + [_planted(5, 15, 2)]
    store = _store(tmp_path, [c for week in weeks for c in week])
    refresh_insights(store, "test")
    _, brief = build_digest(store, "2026-10-12")
    assert "### frustrating (growing; how customers close conversations)" in brief
