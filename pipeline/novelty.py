"""New themes in the new messages: what customers just started asking about.

A full re-fit sizes topics for all the data (min_cluster_size grows with it), so a theme that starts
this week with a dozen messages would be swallowed by its neighbours. Instead, each run clusters the
new messages alone, at their own scale, and keeps a cluster as a new topic only when both hold:

- it matches no known topic: its centroid's cosine similarity to every live topic's centroid is
  under ``CENTROID_MATCH`` (0.8, the same bar that says two clusters are one topic);
- it was near-absent before: had it existed, fewer than one earlier message a week (the status rule's
  "near-absent") would have joined it, i.e. been nearer its centroid than to every known topic's
  (and near enough to be assigned at all).

Its messages then belong to the new topic, and the weekly statistics flag it as emerging. A cluster
that matches no topic but *was* there before is a theme hidden inside broader topics: it may split
off with the earlier messages that would have joined it (see ``pipeline.topic_update``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.topic_identity import CENTROID_MATCH

NEAR_ABSENT_PER_WEEK = 1.0


@dataclass
class NoveltyCheck:
    novel: bool
    nearest_topic_similarity: float
    earlier_per_week: float
    joins: np.ndarray  # mask over the earlier messages that would have joined it


def earlier_best(earlier: np.ndarray, known_centroids: np.ndarray) -> np.ndarray:
    """Each earlier message's similarity to its nearest known topic (computed once per run)."""
    if len(known_centroids) == 0 or len(earlier) == 0:
        return np.full(len(earlier), -1.0)
    return (earlier @ known_centroids.T).max(axis=1)


def check(
    members: np.ndarray,
    known_centroids: np.ndarray,
    earlier: np.ndarray,
    earlier_best_sim: np.ndarray,
    earlier_weeks: int,
    threshold: float,
) -> NoveltyCheck:
    """Judge one candidate cluster (unit vectors of its members) against what is already known."""
    centroid = members.mean(axis=0)
    centroid /= max(float(np.linalg.norm(centroid)), 1e-12)
    nearest = float((known_centroids @ centroid).max()) if len(known_centroids) else 0.0
    to_candidate = earlier @ centroid if len(earlier) else np.zeros(0)
    joins = (to_candidate > earlier_best_sim) & (to_candidate >= threshold)
    per_week = int(joins.sum()) / max(earlier_weeks, 1)
    return NoveltyCheck(
        novel=nearest < CENTROID_MATCH and per_week < NEAR_ABSENT_PER_WEEK,
        nearest_topic_similarity=nearest,
        earlier_per_week=per_week,
        joins=joins,
    )


def min_group(n_new: int) -> int:
    """Smallest new theme worth a topic: the weekly status rule's minimum volume, 5, or more for big weeks."""
    return max(5, round(np.sqrt(n_new) / 3))
