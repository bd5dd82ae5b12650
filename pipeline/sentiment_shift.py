"""Sentiment shifts: do a topic's customers sound different this week than in the weeks before?

A topic's mean sentiment moves by chance from week to week, most where it has few messages. Over the
sixty benchmark scenarios, where no sentiment is planted, the brief's earlier rule (a move of 0.2 or
more against last week, with 5+ messages both weeks) listed 661 shifts, about one a week in every
scenario. Here each topic's message scores this week are compared with its scores over the same
baseline weeks the status test uses (``pipeline.weekly``: the ``BASELINE_WEEKS`` before last week)
by a two-sided Mann-Whitney U test on conversations (each by its messages' mean score), with a
Benjamini-Hochberg false discovery control at ``ALPHA`` across the week's topics that have at least
``MIN_VOLUME`` scored conversations on both sides. A rank test,
because scores are bounded and lumpy: a topic of polite thanks scores 0.8-0.9 every time, and a t-test
calls a 0.01 move there significant (on the demo, 13 shifts where this test finds 1).

What it costs (``python -m bench.sentiment_shift``): at 10 messages a topic-week it finds a week where
half the customers turned unhappy 13-18% of the time, against the old line's 81-82% with its 5-12%
chance lines; from 50 messages a topic-week the two find the same (96-99%), the line still with its
chance lines and the test without.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import false_discovery_control, mannwhitneyu

ALPHA = 0.05
MIN_VOLUME = 5
COLUMNS = ["week", "topic_id", "sentiment_baseline", "sentiment_p", "sentiment_q"]


def sentiment_tests(
    scores: pd.DataFrame,
    weeks: list,
    baseline_weeks: int,
    guard_weeks: int,
    alpha: float = ALPHA,
    min_volume: int = MIN_VOLUME,
    unit: str = "topic_id",
) -> pd.DataFrame:
    """For each unit (a topic, or a theme) and week of ``weeks`` (sorted, every week): the mean score
    over its baseline weeks, the test's p-value and its q-value across the week's tested units (NaN
    where untested).

    ``scores``: one row per scored customer message in a unit (``unit``, ``week``, ``score``, and
    ``conversation_id`` where known). The test compares conversations, each by its messages' mean
    score in the unit and week, as the status test counts them: one customer's three angry messages
    are one unhappy customer, and as three they make a move look surer than it is (two messages of a
    conversation in a topic correlate at 0.62 on the demo). The baseline mean shown is the messages'."""
    columns = [unit if c == "topic_id" else c for c in COLUMNS]
    if scores.empty:
        return pd.DataFrame(columns=columns)
    position = {w: i for i, w in enumerate(weeks)}
    by_cell = {
        (int(t), position[w]): g.to_numpy(dtype=float)
        for (t, w), g in scores.groupby([unit, "week"])["score"]
    }
    voices = by_cell
    if "conversation_id" in scores:
        per_conversation = scores.groupby([unit, "week", "conversation_id"])["score"].mean()
        voices = {
            (int(t), position[w]): g.to_numpy(dtype=float)
            for (t, w), g in per_conversation.groupby(level=[0, 1])
        }
    topics = sorted({t for t, _ in by_cell})
    rows = []
    for i, week in enumerate(weeks):
        first, last = i - guard_weeks - baseline_weeks, i - guard_weeks
        if first < 0:
            continue
        tested = []
        for topic in topics:
            cells = [(topic, j) for j in range(first, last) if (topic, j) in by_cell]
            if not cells:
                continue
            before = np.concatenate([voices[c] for c in cells])
            now = voices.get((topic, i), np.array([]))
            p = np.nan
            if len(now) >= min_volume and len(before) >= min_volume:
                p = float(mannwhitneyu(now, before, alternative="two-sided").pvalue)
            tested.append((week, topic, float(np.concatenate([by_cell[c] for c in cells]).mean()), p))
        frame = pd.DataFrame(tested, columns=columns[:-1])
        ok = frame["sentiment_p"].notna().to_numpy()
        frame["sentiment_q"] = np.nan
        if ok.any():
            frame.loc[ok, "sentiment_q"] = false_discovery_control(frame.loc[ok, "sentiment_p"], method="bh")
        rows.append(frame)
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)


def within_moves(scores: pd.DataFrame, weeks: list, baseline_weeks: int, guard_weeks: int) -> pd.DataFrame:
    """How much of a theme's sentiment move against its baseline weeks its topics' own customers made.

    A theme's mean moves when its topics' customers sound different, and also when its topics' mix
    changes (a complaint topic growing beside polite ones) with no customer sounding any different. The
    move splits exactly into the two: ``within`` = sum over the theme's topics of this week's share of
    its messages times the topic's move against its own baseline mean; the rest is the mix. A topic
    without baseline messages (new in the theme) counts in the mix.

    ``scores``: one row per scored message (``theme_id``, ``topic_id``, ``week``, ``score``). Returns
    ``week``, ``theme_id``, ``sentiment`` (this week's mean), ``sentiment_within`` (NaN without a
    baseline)."""
    if scores.empty:
        return pd.DataFrame(columns=["week", "theme_id", "sentiment", "sentiment_within"])
    cells = scores.groupby(["week", "theme_id", "topic_id"])["score"].agg(["sum", "count"])
    sums = cells["sum"].unstack(["theme_id", "topic_id"]).reindex(weeks).fillna(0.0)
    counts = cells["count"].unstack(["theme_id", "topic_id"]).reindex(weeks).fillna(0.0)
    # each topic's baseline: the ``baseline_weeks`` weeks before the guard weeks before this one
    lag = guard_weeks + 1
    base_sum = sums.rolling(baseline_weeks, min_periods=1).sum().shift(lag)
    base_n = counts.rolling(baseline_weeks, min_periods=1).sum().shift(lag)
    enough = pd.Series(np.arange(len(weeks)) >= guard_weeks + baseline_weeks, index=sums.index)
    base_mean = (base_sum / base_n.where(base_n > 0)).where(enough, axis=0)
    now_mean = sums / counts.where(counts > 0)
    share = counts / counts.T.groupby(level="theme_id").transform("sum").T.where(lambda n: n > 0)
    own = (share * (now_mean - base_mean)).fillna(0.0)
    theme_n = counts.T.groupby(level="theme_id").sum().T
    within = own.T.groupby(level="theme_id").sum().T.where(theme_n > 0).where(enough, axis=0)
    mean = sums.T.groupby(level="theme_id").sum().T / theme_n.where(theme_n > 0)
    out = pd.DataFrame({"sentiment": mean.stack(), "sentiment_within": within.stack()})
    return out.rename_axis(["week", "theme_id"]).reset_index()
