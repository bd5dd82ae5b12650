"""New themes in the new messages: what customers just started asking about.

A full re-fit sizes topics for all the data (min_cluster_size grows with it), so a theme that starts
this week with a dozen messages would be swallowed by its neighbours. Instead, each run clusters the
new messages alone, at their own scale, and keeps a cluster as a new topic only when both hold:

- it is *distinct*: its centroid's cosine similarity to every known topic's centroid is under the
  bar the known topics set themselves (``distinct_bar``): the median, over known topics, of their
  similarity to their nearest other topic. A raw number cannot serve every encoder: two random
  messages score 0.22 on all-MiniLM-L6-v2 in English, 0.39 on it in French and 0.82 on
  multilingual-e5-small, whose distinct intents' centroids all score over 0.95. Measured between
  Banking77's 77 intents with MiniLM, that median is 0.77, next to the 0.8 (``CENTROID_MATCH``)
  that says two clusters of a re-fit are one topic;
- it was *not seen before*: its messages are farther from everything earlier than the run's other
  new messages are. Each new message's similarity to its nearest earlier message is compared, the
  cluster's against the rest, with a one-sided Mann-Whitney test, Bonferroni-corrected over the
  run's clusters at ``ALPHA`` (5%). A recurring theme has close earlier paraphrases; a new one has
  none, even when it sits near an old topic.

Its messages then belong to the new topic, and the weekly statistics flag it as emerging. A distinct
cluster that *was* there before is a theme hidden inside broader topics: it may split off with the
earlier messages that would have joined it, i.e. that are nearer its centroid than any known topic's
(see ``pipeline.topic_update``); fewer than one such message a week (the status rule's
"near-absent") means its quiet past is real.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.stats import mannwhitneyu

from pipeline.topic_identity import CENTROID_MATCH

NEAR_ABSENT_PER_WEEK = 1.0
ALPHA = 0.05


@dataclass
class NoveltyCheck:
    distinct: bool
    novel: bool
    nearest_topic_similarity: float
    earlier_per_week: float
    joins: np.ndarray  # mask over the earlier messages that would have joined it
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


def check(
    members: np.ndarray,
    known_centroids: np.ndarray,
    to_candidate: np.ndarray,
    earlier_best_sim: np.ndarray,
    earlier_weeks: int,
    threshold: float,
    member_nn: np.ndarray,
    other_nn: np.ndarray,
    n_candidates: int,
    bar: float = CENTROID_MATCH,
) -> NoveltyCheck:
    """Judge one candidate cluster (unit vectors of its members) against what is already known.

    ``to_candidate``: each earlier message's similarity to the cluster's centroid (computed by the
    caller in one pass for all candidates: at a million messages, a pass per candidate is the cost)."""
    centroid = members.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
    nearest = float((known_centroids @ centroid).max()) if len(known_centroids) else 0.0
    joined = joins(to_candidate, earlier_best_sim, threshold)
    per_week = int(joined.sum()) / max(earlier_weeks, 1)
    p_seen = unseen_p(member_nn, other_nn)
    distinct = nearest < bar
    return NoveltyCheck(
        distinct=distinct,
        novel=distinct and p_seen < ALPHA / max(n_candidates, 1),
        p_seen=p_seen,
        nearest_topic_similarity=nearest,
        earlier_per_week=per_week,
        joins=joined,
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
