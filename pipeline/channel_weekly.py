"""A tested status per channel and week: did a channel's share of customer messages move beyond chance?

The brief's channel table gave "vs last week" only, and a channel's week swings as a topic's does:
the demo's web chat "+100%" (72 messages against 36) read as news, and a channel customers move to a
little more every week (a brand's WhatsApp taking over from email) never showed. Channels are tested
as topics and themes are (``pipeline.weekly``): each week's count against the 4 weeks before last
week, scaled by the week's volume (so the test is on the channel's share: a busy week is no channel
growing), Benjamini-Hochberg across the week's channels, at least the status rule's minimum volume,
and for the channels that test leaves stable the steady-rise test over the last 8 weeks
(``pipeline.trend_test``). The count tested is conversations, not messages: a customer picks the
channel once per conversation and then writes one to many messages in it, so messages come in
clumps a Poisson test does not expect. On the demo, whose channels are drawn independently per
conversation at fixed weights, counting messages called web chat growing in its last week (72
against 45.6 expected, q = 0.014): a false alarm; its 42 conversations are within chance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline import trend_test, weekly
from pipeline.store import MESSAGE_WEEK, Store

_COUNTS_SQL = f"""
SELECT coalesce(m.channel, 'unknown') AS channel, {MESSAGE_WEEK} AS week, count(*) AS messages,
       count(DISTINCT m.conversation_id) AS conversations
FROM messages m WHERE m.is_customer
GROUP BY ALL
"""
COLUMNS = [
    "week",
    "channel",
    "messages",
    "conversations",
    "previous_conversations",
    "baseline",
    "expected",
    "change_vs_baseline",
    *weekly.STATUS_COLUMNS,
]


def compute_channel_weekly(
    store: Store,
    alpha: float = weekly.ALPHA,
    min_volume: int = weekly.MIN_VOLUME,
    guard_weeks: int = weekly.GUARD_WEEKS,
    trend_weeks: int = trend_test.TREND_WEEKS,
) -> pd.DataFrame:
    """One row per channel and week from the channel's first week on: customer messages and
    conversations, last week's conversations, the baseline and expected conversations, status, the
    test that gave it and its q, and the trend over the window (``trend_*``)."""
    return channel_statuses(store.query(_COUNTS_SQL), alpha, min_volume, guard_weeks, trend_weeks)


def channel_statuses(
    rows: pd.DataFrame,
    alpha: float = weekly.ALPHA,
    min_volume: int = weekly.MIN_VOLUME,
    guard_weeks: int = weekly.GUARD_WEEKS,
    trend_weeks: int = trend_test.TREND_WEEKS,
) -> pd.DataFrame:
    """``compute_channel_weekly`` on a table of (``channel``, ``week``, ``messages``,
    ``conversations``) rows; the ``conversations`` column is the count tested."""
    if rows.empty:
        return pd.DataFrame(columns=COLUMNS)
    rows = rows.assign(week=pd.to_datetime(rows["week"]).dt.date)
    first, last = min(rows["week"]), max(rows["week"])
    all_weeks = [d.date() for d in pd.date_range(first, last, freq="7D")]
    counts = rows.pivot_table(index="week", columns="channel", values="conversations", aggfunc="sum")
    counts = counts.reindex(all_weeks).fillna(0.0)
    total = counts.sum(axis=1)
    since = [rows.loc[rows["channel"] == c, "week"].min() for c in counts.columns]
    history = weekly.count_histories(counts, since, total, weekly.MIN_BASELINE_WEEKS, guard_weeks)
    history = history.dropna(subset=["messages"])  # weeks before a channel's first are none of its
    # the status rule's names: its "messages" are the count tested, here conversations
    history = history.rename(columns={"unit": "topic_id"}).assign(tested_conversations=history["messages"])
    trends = trend_test.trend_tests(counts, total, since, trend_weeks).rename(columns={"unit": "topic_id"})
    frame = history.merge(trends, on=["week", "topic_id"], how="left")
    frame = pd.concat(
        [weekly.status_for_week(g, pd.DataFrame(), alpha, min_volume) for _, g in frame.groupby("week")],
        ignore_index=True,
    )
    exp = frame["expected"]
    frame["change_vs_baseline"] = np.where(exp > 0, frame["messages"] / exp.where(exp > 0) - 1, np.nan)
    out = frame.rename(
        columns={
            "topic_id": "channel",
            "messages": "conversations",
            "previous_messages": "previous_conversations",
        }
    ).merge(rows[["week", "channel", "messages"]], on=["week", "channel"], how="left")
    out["messages"] = out["messages"].fillna(0)
    out = out[COLUMNS].sort_values(["week", "conversations"], ascending=[True, False]).reset_index(drop=True)
    for col in ("messages", "conversations"):
        out[col] = out[col].astype(int)
    return out


def save_channel_weekly(store: Store, table: pd.DataFrame, run_id: str) -> int:
    """Replace the channel_weekly table (a pure function of the stored customer messages)."""
    return store.replace_all("channel_weekly", table.assign(run_id=run_id))
