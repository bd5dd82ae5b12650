"""Sentiment shifts are tested, not read off a moving mean: a real shift is reported, chance is not."""

import numpy as np
import pandas as pd

from pipeline.digest import build_digest, sentiment_lines
from pipeline.insights import refresh_insights
from pipeline.sentiment_shift import sentiment_tests
from tests.conversation_store import conversation_store

WEEKS = list(range(7))


def _scores(rng, topics: dict[int, list[tuple[int, float]]]) -> pd.DataFrame:
    """Per topic, per week (n messages, mean score): scores spread around the mean as a model's are."""
    rows = []
    for topic, weeks in topics.items():
        for week, (n, mean) in enumerate(weeks):
            rows += [(topic, week, s) for s in np.clip(rng.normal(mean, 0.3, n), -1, 1)]
    return pd.DataFrame(rows, columns=["topic_id", "week", "score"])


def test_a_topic_turning_negative_is_a_shift_and_steady_topics_are_not():
    rng = np.random.default_rng(3)
    topics = {t: [(20, 0.1)] * 7 for t in range(12)}
    topics[5] = [(20, 0.1)] * 6 + [(20, -0.5)]  # the last week's customers sound much worse
    tests = sentiment_tests(_scores(rng, topics), WEEKS, baseline_weeks=4, guard_weeks=1)
    last = tests[tests["week"] == 6].set_index("topic_id")
    assert last.loc[5, "sentiment_q"] < 0.001
    assert (last.drop(5)["sentiment_q"] > 0.05).all()
    assert abs(last.loc[5, "sentiment_baseline"] - 0.1) < 0.1  # weeks 1-4: the guard week 5 left out
    assert set(tests["week"]) == {5, 6}  # a week is tested once it has its baseline weeks


def test_identical_scores_every_week_are_no_shift_and_small_topics_are_not_tested():
    """A closing topic says the same words every week (the same score); a topic with 4 messages this
    week is too small to test."""
    rows = [(0, w, 0.842) for w in WEEKS for _ in range(10)] + [(1, w, 0.0) for w in WEEKS for _ in range(4)]
    tests = sentiment_tests(pd.DataFrame(rows, columns=["topic_id", "week", "score"]), WEEKS, 4, 1)
    last = tests[tests["week"] == 6].set_index("topic_id")
    assert last.loc[0, "sentiment_p"] == 1.0
    assert pd.isna(last.loc[1, "sentiment_p"]) and pd.isna(last.loc[1, "sentiment_q"])


def test_the_weekly_table_and_the_brief_carry_the_test(tmp_path):
    """Through the insights stage: a request whose customers turn negative in week 6 is listed as a
    shift with its q; the steady ones are not, and a chance move is named as one."""
    conversations = [(w, [t], None) for w in range(7) for t in (0, 1, 2) for _ in range(12)]
    labels = {0: "card not arrived", 1: "refund", 2: "change pin"}
    store = conversation_store(tmp_path / "s.duckdb", conversations, labels, sentiment={})
    with store.connect() as con:
        refund = (
            "SELECT message_id FROM assignments a JOIN messages m USING (message_id) WHERE a.topic_id = 1"
        )
        con.execute(f"UPDATE sentiment SET score = 0.05 WHERE message_id IN ({refund})")
        con.execute(  # refund's customers: neutral for six weeks, then unhappy
            f"UPDATE sentiment SET score = -0.7 WHERE message_id IN ({refund} AND m.sent_at >= '2026-10-19')"
        )
    refresh_insights(store, "test")
    row = store.query(
        "SELECT sentiment, sentiment_baseline, sentiment_q FROM weekly_stats "
        "WHERE topic_id = 1 AND week = (SELECT max(week) FROM weekly_stats)"
    ).iloc[0]
    assert (
        row["sentiment"] < -0.5
        and abs(row["sentiment_baseline"] - 0.05) < 1e-9
        and row["sentiment_q"] < 0.001
    )
    _, brief = build_digest(store)
    section = brief.split("## Sentiment shifts")[1].split("##")[0]
    assert "- **refund**: worse, +0.05 over the 4 weeks before last week →" in section
    assert "card not arrived" not in section and "change pin" not in section
    chance = pd.DataFrame(
        {
            "topic": ["x"],
            "messages": [6],
            "conversations": [5],
            "sentiment": [-0.3],
            "sentiment_baseline": [0.1],
            "sentiment_q": [0.4],
        }
    )
    assert sentiment_lines(chance) == [
        "No topic's sentiment moved significantly against the 4 weeks before last week. The largest "
        "move, within chance: **x**, +0.10 → -0.30 (6 messages from 5 conversations; q = 0.4)."
    ]


def test_a_few_customers_writing_many_angry_messages_are_a_few_customers():
    """The test compares conversations, each by its messages' mean: this week two of seventeen
    customers write five furious messages each. Counted as messages (each its own conversation),
    10 of 25 messages are furious and the topic's customers look worse off; counted as customers,
    2 of 17 are, within what the baseline weeks hold. The baseline mean shown is the messages'."""
    rng = np.random.default_rng(7)
    rows = []
    for week in WEEKS:
        calm = 15 if week == WEEKS[-1] else 20
        rows += [
            (0, week, f"w{week}-c{i}", s) for i, s in enumerate(np.clip(rng.normal(0.2, 0.3, calm), -1, 1))
        ]
        rows += [
            (0, week, f"w{week}-x{i}", -0.5) for i in range(2) if week < WEEKS[-1]
        ]  # some unhappy before
    rows += [(0, WEEKS[-1], f"angry-{c}", -0.9) for c in range(2) for _ in range(5)]
    scores = pd.DataFrame(rows, columns=["topic_id", "week", "conversation_id", "score"])
    by_customer = sentiment_tests(scores, WEEKS, 4, 1).set_index("week")
    by_message = sentiment_tests(scores.drop(columns="conversation_id"), WEEKS, 4, 1).set_index("week")
    assert by_message.loc[6, "sentiment_q"] < 0.05 < by_customer.loc[6, "sentiment_q"]
    assert by_customer.loc[6, "sentiment_baseline"] == by_message.loc[6, "sentiment_baseline"]
