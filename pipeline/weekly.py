"""Weekly insights per topic: volume, share, change, sentiment and a status from a stated test.

Aggregation is DuckDB SQL; one row per topic and ISO week (Monday) from the topic's first week to the
last week with data, zero weeks included, so a topic that goes quiet shows up instead of vanishing.

Status rule (per topic and week), on customer-message counts:
- expected count (``expected``) = trailing 4-week mean of the topic, scaled by this week's volume
  relative to those weeks' (so a busy week does not make every topic "grow"), volume counted over
  the messages some topic explains: how many fall outside every topic is the model's doing (a
  re-fit can leave a quarter of a week as outliers where the first fit left a few), not a change
  in what customers say, so it does not make every topic "decline";
- one-sided Poisson tests for "more than expected" and "fewer than expected", with the
  Benjamini-Hochberg false discovery rate controlled at ``alpha`` across the week's topics;
- ``emerging``: significantly up, at least ``min_volume`` messages, and near-absent before
  (trailing mean < 1 message a week); ``growing``: significantly up and at least ``min_volume``;
  ``declining``: significantly down from a baseline of at least ``min_volume``;
  ``dormant``: no messages this week nor the week before; ``stable`` otherwise, and whenever fewer
  than 2 earlier weeks are there to compare with (a one-week baseline is a single draw).
- a topic split off or re-cut from others after the first run is tested only against weeks from its
  ``tracked_from`` week on (its earlier weeks are reconstructed, not observed), so a change in the
  taxonomy is never reported as a change in what customers say.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, poisson

from pipeline.store import Store, execute

BASELINE_WEEKS = 4
MIN_BASELINE_WEEKS = 2  # one earlier week is a single Poisson draw: too little to call a change
ALPHA = 0.05
MIN_VOLUME = 5

_WEEKLY_SQL = """
WITH msg AS (
    SELECT a.topic_id, m.conversation_id, m.channel, s.score, s.label,
           CAST(date_trunc('week', coalesce(m.sent_at, m.ingested_at)) AS DATE) AS week
    FROM assignments a
    JOIN messages m USING (message_id)
    LEFT JOIN sentiment s USING (message_id)
), agg AS (
    SELECT week, topic_id, count(*) AS messages, count(DISTINCT conversation_id) AS conversations,
           avg(score) AS sentiment, avg(CASE WHEN label = 'negative' THEN 1.0 ELSE 0.0 END) AS negative_share
    FROM msg GROUP BY week, topic_id
), weeks AS (
    SELECT CAST(w AS DATE) AS week
    FROM (SELECT min(week) AS lo, max(week) AS hi FROM msg),
         generate_series(lo, hi, INTERVAL 7 DAY) AS g(w)
), first_week AS (
    SELECT topic_id, min(week) AS first FROM agg GROUP BY topic_id
), grid AS (
    SELECT w.week, f.topic_id FROM weeks w JOIN first_week f ON w.week >= f.first
), totals AS (
    SELECT week, sum(messages) AS week_total,
           coalesce(sum(messages) FILTER (WHERE topic_id >= 0), 0) AS explained_total
    FROM agg GROUP BY week
), chan AS (
    SELECT week, topic_id, CAST(json_group_object(channel, n) AS VARCHAR) AS channels
    FROM (SELECT week, topic_id, coalesce(channel, 'unknown') AS channel, count(*) AS n
          FROM msg GROUP BY ALL ORDER BY n DESC, channel)
    GROUP BY week, topic_id
)
SELECT g.week, g.topic_id,
       coalesce(a.messages, 0) AS messages,
       coalesce(a.conversations, 0) AS conversations,
       coalesce(t.week_total, 0) AS week_total, coalesce(t.explained_total, 0) AS explained_total,
       a.sentiment, a.negative_share, coalesce(c.channels, '{}') AS channels
FROM grid g
LEFT JOIN agg a USING (week, topic_id)
LEFT JOIN chan c USING (week, topic_id)
LEFT JOIN totals t USING (week)
ORDER BY g.topic_id, g.week
"""


def _status_for_week(frame: pd.DataFrame, alpha: float, min_volume: int) -> pd.DataFrame:
    """Status and p-value for all topics of one week (BH across the week's topics)."""
    has_base = frame["baseline"].notna()
    expected = (frame["baseline"] * frame["volume_ratio"]).clip(lower=0.5)
    n = frame["messages"].to_numpy()
    p_up = np.where(has_base, poisson.sf(n - 1, expected.fillna(1.0)), 1.0)
    p_down = np.where(has_base, poisson.cdf(n, expected.fillna(1.0)), 1.0)
    p = np.minimum(np.minimum(p_up, p_down) * 2, 1.0)
    q = false_discovery_control(p, method="bh") if len(p) else p
    up = (q < alpha) & (p_up < p_down)
    down = (q < alpha) & (p_down < p_up)
    status = np.full(len(frame), "stable", dtype=object)
    status[down & (frame["baseline"].fillna(0).to_numpy() >= min_volume)] = "declining"
    status[up & (n >= min_volume)] = "growing"
    status[up & (n >= min_volume) & (frame["baseline"].fillna(0).to_numpy() < 1.0)] = "emerging"
    status[(n == 0) & (frame["previous_messages"].fillna(0).to_numpy() == 0)] = "dormant"
    out = frame.copy()
    out["status"] = status
    out["p_value"] = np.where(has_base, q, np.nan)
    out["expected"] = np.where(has_base, frame["baseline"] * frame["volume_ratio"], np.nan)
    return out


def compute_weekly(store: Store, alpha: float = ALPHA, min_volume: int = MIN_VOLUME) -> pd.DataFrame:
    """Weekly rows per topic; weeks are cut in the store's business time zone."""
    with store.connect(read_only=True) as con:
        frame = con.execute(_WEEKLY_SQL).df()
        tracked = con.execute(
            "SELECT topic_id, CAST(date_trunc('week', tracked_from) AS DATE) AS since FROM topics "
            "WHERE tracked_from IS NOT NULL"
        ).df()
    if frame.empty:
        return frame
    since = {
        int(t): pd.Timestamp(d).date() for t, d in zip(tracked["topic_id"], tracked["since"], strict=True)
    }
    frame["week"] = pd.to_datetime(frame["week"]).dt.date
    all_weeks = sorted(frame["week"].unique())
    # expected counts scale with the messages some topic explains that week: a change in how many fall
    # outside every topic (outliers: the model's doing, e.g. after a re-fit) is not every topic declining
    explained = frame.groupby("week")["explained_total"].first().reindex(all_weeks).fillna(0)
    frame["share"] = np.where(
        frame["week_total"] > 0, frame["messages"] / frame["week_total"].clip(lower=1), 0.0
    )
    parts = []
    for topic, g in frame.groupby("topic_id", sort=True):
        # reindex on every week so that weeks before the topic existed count as zero in its baseline
        full = g.set_index("week").reindex(all_weeks)
        counts = full["messages"].fillna(0)
        if int(topic) in since:  # weeks before it was tracked are reconstructed: no baseline from them
            counts[counts.index < since[int(topic)]] = np.nan
        prev = counts.shift(1)
        base = counts.shift(1).rolling(BASELINE_WEEKS, min_periods=MIN_BASELINE_WEEKS).mean()
        totals = explained.where(counts.notna())  # the same weeks as the topic's baseline
        base_total = totals.shift(1).rolling(BASELINE_WEEKS, min_periods=MIN_BASELINE_WEEKS).mean()
        g = g.copy()
        g["previous_messages"] = prev.reindex(g["week"]).to_numpy()
        g["baseline"] = base.reindex(g["week"]).to_numpy()
        ratio = (explained / base_total.replace(0, np.nan)).reindex(g["week"]).to_numpy()
        g["volume_ratio"] = np.nan_to_num(ratio, nan=1.0)
        g["sentiment_change"] = g["sentiment"] - g["sentiment"].shift(1)
        parts.append(g)
    frame = pd.concat(parts, ignore_index=True)
    prev = frame["previous_messages"]
    frame["change"] = np.where(prev > 0, (frame["messages"] - prev) / prev.where(prev > 0), np.nan)
    frame = pd.concat(
        [_status_for_week(g, alpha, min_volume) for _, g in frame.groupby("week", sort=True)],
        ignore_index=True,
    )
    exp = frame["expected"]
    frame["change_vs_baseline"] = np.where(exp > 0, frame["messages"] / exp.where(exp > 0) - 1, np.nan)
    cols = [
        "week",
        "topic_id",
        "messages",
        "conversations",
        "share",
        "previous_messages",
        "change",
        "baseline",
        "expected",
        "change_vs_baseline",
        "sentiment",
        "sentiment_change",
        "negative_share",
        "channels",
        "status",
        "p_value",
    ]
    out = frame[cols].sort_values(["week", "messages"], ascending=[True, False]).reset_index(drop=True)
    out["previous_messages"] = out["previous_messages"].astype("Int64")
    return out


def save_weekly(store: Store, weekly: pd.DataFrame, run_id: str) -> int:
    """Replace the weekly table (it is a pure function of assignments and sentiment)."""
    table = weekly.copy()
    table["run_id"] = run_id
    with store.connect() as con:
        execute(con, "BEGIN TRANSACTION")
        execute(con, "DELETE FROM weekly_stats")
        store.upsert("weekly_stats", table, con=con)
        execute(con, "COMMIT")
    return len(table)
