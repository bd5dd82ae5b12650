"""New themes in the new messages: what customers just started asking about.

A full re-fit sizes topics for all the data (min_cluster_size grows with it), so a theme that starts
this week with a dozen messages would be swallowed by its neighbours. Instead, each run clusters the
new messages alone, at their own scale, and judges each cluster by its *region*: the messages, this
run's and earlier ones, at least as similar to the cluster's centroid as its median member is.

- It is *new* when nothing like it was asked before, by two tests that fail differently, each
  Bonferroni-corrected over the run's clusters at ``ALPHA``:
  - its region is one the weekly status rule would call emerging: near-absent before (fewer than
    one earlier message a week in it) and holding more now than the earlier weeks' rate predicts
    (the status rule's conditional test for two Poisson rates). The cluster itself has at least
    ``min_group`` messages, the smallest theme worth a topic (the region, drawn at its median
    member, holds about half of them: that count is for the test, not for the size). This asks
    the question directly, wherever the earlier paraphrases sit (in a topic or in the outliers),
    so a new request may sit near an old topic (MASSIVE "set a calendar event" beside "calendar
    query", at a centroid cosine of 0.58 where known topics are 0.45 from their nearest). But the
    region is drawn around a cluster chosen for being dense this week: a tight bunch of
    near-identical wordings of a steady request passes it too;
  - its messages are farther from every earlier message than the run's other new messages are
    (their similarity to their nearest earlier message, one-sided Mann-Whitney): such a bunch has
    its earlier wordings close by. Alone, this test is fooled by requests that are sparse in the
    embedding (in runs it made new topics of steady requests; it used to be paired with
    distinctness, which kept out new requests beside old topics).
  Its messages then belong to a new topic, which the weekly statistics flag as emerging; of the
  earlier messages it takes only its region's few. A sibling whose neighbour's messages fill its
  region (Banking77 "lost or stolen phone" beside "lost or stolen card") is not told apart.
- Otherwise, if it is *distinct* (its centroid's cosine to every known topic's is under the bar the
  known topics set themselves, ``distinct_bar``: the median over known topics of their similarity to
  their nearest other topic; a raw number cannot serve every encoder: MiniLM puts Banking77's
  intents at a median of 0.77, multilingual-e5-small distinct intents' centroids over 0.95), it is a
  theme that was there but hidden inside broader topics: it may split off with the earlier messages
  that would have joined it, i.e. that are nearer its centroid than any known topic's (see
  ``pipeline.topic_update``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import binom, mannwhitneyu

from pipeline.topic_identity import CENTROID_MATCH

NEAR_ABSENT_PER_WEEK = 1.0
ALPHA = 0.05


@dataclass
class Region:
    """A candidate's region: the messages at least as similar to its centroid as its median member."""

    radius: float
    now: int  # this run's new messages in it
    before_per_week: float  # earlier messages in it, per earlier week
    p_up: float  # one-sided p that it holds more now than the earlier weeks' rate predicts


@dataclass
class NoveltyCheck:
    distinct: bool
    novel: bool
    nearest_topic_similarity: float
    earlier_per_week: float
    joins: np.ndarray  # mask over the earlier messages that would have joined it
    region: Region
    p_seen: float


def earlier_best(earlier: np.ndarray, known_centroids: np.ndarray) -> np.ndarray:
    """Each earlier message's similarity to its nearest known topic (computed once per run)."""
    if len(known_centroids) == 0 or len(earlier) == 0:
        return np.full(len(earlier), -1.0)
    best = np.empty(len(earlier))
    for start in range(0, len(earlier), 65_536):  # blocks: bounded memory on millions of messages
        best[start : start + 65_536] = (earlier[start : start + 65_536] @ known_centroids.T).max(axis=1)
    return best


def distinct_bar(known_centroids: np.ndarray) -> float:
    """Median over known topics of their cosine similarity to their nearest other topic (unit rows);
    ``CENTROID_MATCH`` while there are fewer than three topics to measure it on."""
    if len(known_centroids) < 3:
        return CENTROID_MATCH
    S = known_centroids @ known_centroids.T
    np.fill_diagonal(S, -np.inf)
    return float(np.median(S.max(axis=1)))


def joins(to_candidate: np.ndarray, earlier_best_sim: np.ndarray, threshold: float) -> np.ndarray:
    """Earlier messages a topic would have taken: nearer it than any other, and near enough at all."""
    return (to_candidate > earlier_best_sim) & (to_candidate >= threshold)


def region(
    member_sim: np.ndarray, new_sim: np.ndarray, earlier_sim: np.ndarray, earlier_weeks: int
) -> Region:
    """Count the region now and before, and test it as the status rule tests a topic: this run's count
    ``n`` given it and the earlier total ``B`` over ``k`` weeks is Binomial(n + B, r / (r + k)) if the
    rate per message did not change, ``r`` being this run's volume over an earlier week's mean.

    ``*_sim``: the members', this run's new messages' and the earlier messages' similarity to the
    candidate's centroid (in fast mode, the earlier messages of the same sample as the new ones)."""
    radius = float(np.median(member_sim)) if len(member_sim) else 1.0
    now, before = int((new_sim >= radius).sum()), int((earlier_sim >= radius).sum())
    k = max(earlier_weeks, 1)
    ratio = len(new_sim) / max(len(earlier_sim) / k, 1.0)
    p_up = float(binom.sf(now - 1, now + before, ratio / (ratio + k))) if now else 1.0
    return Region(radius, now, before / k, p_up)


def check(
    members: np.ndarray,
    known_centroids: np.ndarray,
    to_candidate: np.ndarray,
    earlier_best_sim: np.ndarray,
    earlier_weeks: int,
    threshold: float,
    area: Region,
    member_nn: np.ndarray,
    other_nn: np.ndarray,
    n_candidates: int,
    bar: float = CENTROID_MATCH,
) -> NoveltyCheck:
    """Judge one candidate cluster (unit vectors of its members) against what is already known.

    ``to_candidate``: each earlier message's similarity to the cluster's centroid (computed by the
    caller in one pass for all candidates: at a million messages, a pass per candidate is the cost);
    ``area``: its region (``region``); ``member_nn``, ``other_nn``: the similarity of the cluster's and
    of the run's other new messages to their nearest earlier message."""
    centroid = members.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
    nearest = float((known_centroids @ centroid).max()) if len(known_centroids) else 0.0
    joined = joins(to_candidate, earlier_best_sim, threshold)
    level = ALPHA / max(n_candidates, 1)
    p_seen = unseen_p(member_nn, other_nn)
    novel = area.before_per_week < NEAR_ABSENT_PER_WEEK and area.p_up < level and p_seen < level
    return NoveltyCheck(
        distinct=nearest < bar,
        novel=novel,
        nearest_topic_similarity=nearest,
        earlier_per_week=int(joined.sum()) / max(earlier_weeks, 1),
        joins=joined,
        region=area,
        p_seen=p_seen,
    )


def unseen_p(member_nn: np.ndarray, other_nn: np.ndarray) -> float:
    """One-sided Mann-Whitney p that the cluster's messages are farther from every earlier message
    (their nearest earlier neighbour less similar) than the run's other new messages are."""
    if len(member_nn) < 3 or len(other_nn) < 3:
        return 1.0
    return float(mannwhitneyu(member_nn, other_nn, alternative="less").pvalue)


def min_group(n_new: int) -> int:
    """Smallest new theme worth a topic: the weekly status rule's minimum volume, 5, or more for big weeks."""
    return max(5, round(np.sqrt(n_new) / 3))
