"""A tested status per theme and week: is a theme (a group of sibling topics) growing or declining?

The brief's themes table gave each theme's change against last week only, and a small theme's
"+100%" (8 messages against 4) read as news. A rise can also be spread over sibling topics, none of
which moves enough alone: the demo's card delays are three topics ("expect my card", "track the
card", "new card"), each a handful of messages a week. Themes are tested as topics are
(``pipeline.weekly``): every week counted under the current topics and themes, in conversations,
each once however many of the theme's topics it touched (``repeats_removed``), the week against the
4 weeks before last week scaled by the week's explained volume (the conditional test for two Poisson
rates), Benjamini-Hochberg across the week's themes, and for the themes that test leaves stable the
steady-rise test over the last 8 weeks (``pipeline.trend_test``). The turns customers close
conversations with are left out, as the brief's themes table leaves them out: they say how a
conversation went, not what it was about.

A theme's sentiment is tested as a topic's (``pipeline.sentiment_shift``: its messages' scores this
week against its baseline weeks', Benjamini-Hochberg across themes), for the same reason: customers
of every card topic sounding a little worse is no topic's shift at 10 messages a week, and is one at
the theme's 40. Because a theme's mean also moves when its mix of topics does, the move is split into
what its topics' own customers did (``sentiment_within``) and the rest, the mix.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import sentiment_shift, trend_test, weekly
from pipeline.store import MESSAGE_WEEK, Store

SENTIMENT_COLUMNS = [
    "sentiment", "sentiment_baseline", "sentiment_p", "sentiment_q", "sentiment_within",
    "sentiment_conversations",
]  # fmt: skip
# per week and theme, the (topic, conversation) pairs its topics hold and the distinct conversations
# among them: how often a theme's conversations touch several of its topics
_PAIRS_SQL = f"""
WITH pairs AS (
    SELECT DISTINCT {MESSAGE_WEEK} AS week, a.topic_id, m.conversation_id
    FROM assignments a JOIN messages m USING (message_id)
    WHERE a.topic_id IN (SELECT unnest($topics))
)
SELECT p.week, t.theme_id, count(*) AS pairs, count(DISTINCT p.conversation_id) AS conversations
FROM pairs p JOIN topics t USING (topic_id)
GROUP BY ALL
"""
_THEMES_SQL = """
SELECT topic_id, theme_id, theme_label FROM topics
WHERE topic_id >= 0 AND theme_id IS NOT NULL AND coalesce(state, '') <> 'merged'
"""


def compute_theme_weekly(
    store: Store,
    topic_weeks: pd.DataFrame,
    set_aside: list[int],
    alpha: float = weekly.ALPHA,
    min_volume: int = weekly.MIN_VOLUME,
    guard_weeks: int = weekly.GUARD_WEEKS,
    trend_weeks: int = trend_test.TREND_WEEKS,
) -> pd.DataFrame:
    """One row per theme and week from ``topic_weeks`` (``weekly.compute_weekly``'s table): the
    theme's messages, the count tested, its baseline and expected count, status, the test that gave
    it and its q, and the trend over the window (``trend_*``), as for topics; ``set_aside``: the
    closing and courtesy topics, which are no request and left out."""
    themes = store.query(_THEMES_SQL)
    themes = themes[~themes["topic_id"].isin(set_aside)]  # closing and courtesy turns: no request
    if topic_weeks.empty or themes.empty:
        return pd.DataFrame()
    rows = topic_weeks[topic_weeks["topic_id"] >= 0]
    all_weeks = sorted(rows["week"].unique())
    tested = rows.assign(n=rows["tested_conversations"].astype(float).fillna(rows["conversations"]))
    themed = tested.merge(themes, on="topic_id")
    summed = themed.pivot_table(index="week", columns="theme_id", values="n", aggfunc="sum")
    summed = summed.reindex(all_weeks).fillna(0.0)
    pairs = store.query(_PAIRS_SQL, {"topics": [int(t) for t in themes["topic_id"]]})
    counts = repeats_removed(summed, pairs)
    # the volume expected counts scale with: every topic's tested conversations that week, closers too,
    # a theme's conversations once
    explained = tested.groupby("week")["n"].sum().reindex(all_weeks).fillna(0.0)
    explained = explained - (summed - counts).sum(axis=1)
    held = themed.pivot_table(index="week", columns="theme_id", values="messages", aggfunc="sum")
    held = held.reindex(index=all_weeks, columns=counts.columns).fillna(0.0)
    since = [all_weeks[0]] * counts.shape[1]  # themes are counted under today's topics in every week
    history = weekly.count_histories(
        counts, since, explained, weekly.MIN_BASELINE_WEEKS, guard_weeks, shown=held
    ).rename(columns={"unit": "topic_id", "messages": "tested_conversations"})
    history["messages"] = held.to_numpy().ravel()
    trends = trend_test.trend_tests(counts, explained, since, trend_weeks)
    frame = history.merge(trends.rename(columns={"unit": "topic_id"}), on=["week", "topic_id"], how="left")
    frame = pd.concat(
        [weekly.status_for_week(g, pd.DataFrame(), alpha, min_volume) for _, g in frame.groupby("week")],
        ignore_index=True,
    )
    exp = frame["expected"]
    tested = frame["tested_conversations"]
    frame["change_vs_baseline"] = np.where(exp > 0, tested / exp.where(exp > 0) - 1, np.nan)
    labels = themes.drop_duplicates("theme_id").set_index("theme_id")["theme_label"]
    out = frame.rename(columns={"topic_id": "theme_id"})
    out = out.merge(
        _sentiment(store, themes, all_weeks, alpha, min_volume, guard_weeks),
        on=["week", "theme_id"],
        how="left",
    )
    out["theme_label"] = out["theme_id"].map(labels)
    cols = [
        "week",
        "theme_id",
        "theme_label",
        "messages",
        "tested_conversations",
        "previous_messages",
        "baseline",
        "expected",
        "change_vs_baseline",
        *weekly.STATUS_COLUMNS,
        *SENTIMENT_COLUMNS,
    ]
    out = out[cols].sort_values(["week", "messages"], ascending=[True, False]).reset_index(drop=True)
    for col in ("theme_id", "messages", "tested_conversations"):
        out[col] = out[col].astype(int)
    return out


def repeats_removed(summed: pd.DataFrame, pairs: pd.DataFrame) -> pd.DataFrame:
    """Each theme's weekly count with every conversation once: ``summed`` (weeks x themes, its topics'
    tested conversations added up) times the share of distinct conversations among the (topic,
    conversation) pairs its topics hold that week (``pairs``: per week and theme, ``pairs`` and distinct
    ``conversations``). A conversation whose customer asks to book a table, then for four people, then
    for 7 pm is one customer in the theme, not three: summed, such conversations make a theme's weekly
    count vary far beyond a Poisson count's (on a store of the Schema-Guided Dialogue set, 46% of
    conversations in a theme touch two or more of its topics; E[k²]/E[k] = 2.2 topics a conversation).
    The share is read from the topics as they hold the messages; the summed count is the recount's
    (``weekly``: every week under the current topics), where one message in twenty or so lies nearer
    another topic's centroid, so the product is the recount's conversations to that approximation."""
    if pairs.empty:
        return summed
    per = pairs.assign(week=pd.to_datetime(pairs["week"]).dt.date).set_index(["week", "theme_id"])
    share = (per["conversations"] / per["pairs"]).unstack("theme_id")
    share = share.reindex(index=summed.index, columns=summed.columns).fillna(1.0)
    return (summed * share).round()


def _sentiment(
    store: Store, themes: pd.DataFrame, weeks: list, alpha: float, min_volume: int, guard_weeks: int
) -> pd.DataFrame:
    """Each theme-week's mean score, the shift test against its baseline weeks, and the move's part
    within its topics (``themes``: the topics in a theme, closers left out)."""
    scores = store.query(weekly.SCORES_SQL).merge(themes[["topic_id", "theme_id"]], on="topic_id")
    if scores.empty:
        return pd.DataFrame(columns=["week", "theme_id", *SENTIMENT_COLUMNS])
    scores["week"] = pd.to_datetime(scores["week"]).dt.date
    scores = scores[scores["week"].isin(set(weeks))]
    args = (weeks, weekly.BASELINE_WEEKS, guard_weeks)
    tests = sentiment_shift.sentiment_tests(scores, *args, alpha, min_volume, unit="theme_id")
    moves = sentiment_shift.within_moves(scores, *args)
    # the conversations the test compared this week (each by its messages' mean score)
    voices = scores.groupby(["week", "theme_id"])["conversation_id"].nunique()
    moves = moves.merge(
        voices.rename("sentiment_conversations").reset_index(), on=["week", "theme_id"], how="left"
    ).astype({"sentiment_conversations": "Int64"})
    return moves.merge(tests, on=["week", "theme_id"], how="left")[["week", "theme_id", *SENTIMENT_COLUMNS]]


def save_theme_weekly(store: Store, table: pd.DataFrame, run_id: str) -> int:
    """Replace the theme_weekly table (a pure function of weekly_stats and the topics' themes)."""
    return store.replace_all("theme_weekly", table.assign(run_id=run_id))
