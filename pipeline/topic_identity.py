"""Topic identity across runs: which of this fit's clusters is which stored topic, and what changed.

Pure functions over arrays; ``pipeline.topic_update`` reads and writes the store around them.

The evidence is the messages themselves. Every message assigned by an earlier run carries its stored
topic; a cluster of the new fit *is* stored topic ``i`` when they share most of their messages
(Jaccard overlap of members, one-to-one by the Hungarian method). Clusters that share no members with
anything (a topic that went quiet and came back) fall back to centroid similarity. What is left over
is judged with stated rules:

- **split**: an unmatched cluster made mostly (>= half) of one stored topic's messages, holding at
  least ``SPLIT_SHARE`` of that topic and at least ``min_size`` of its messages, splits off as a new
  topic and takes those messages with it (so both topics' weekly history stays true) -- but only
  within a churn budget: one run moves at most ``MAX_CHURN`` (2%) of the messages already in
  topics, largest splits first; the other splits are recorded as suggestions;
- **merge suggested**: an unmatched stored topic whose messages (at least ``MERGE_SHARE`` of them) now
  sit in a cluster matched to another topic;
- **folded**: an unmatched cluster holding messages already in topics at least half as often as the
  data does overall is a re-cut of what those topics cover, not something new;
- **created**: any other unmatched cluster (mostly new or outlier messages) is a new topic, with an
  id above every id used before.

Messages already in a topic move only with a split inside that budget or a merge people decided
(``voc topics merge``; automatic merges are only suggested), so ids hold week after week. New
messages go to the topic created for their cluster, or else to the nearest known topic.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from models.topic_model import OUTLIER

UNASSIGNED = -2  # a message no earlier run has seen

MATCH_JACCARD = 0.3
CENTROID_MATCH = 0.8
SPLIT_SHARE = 0.3
MERGE_SHARE = 0.6
MAX_CHURN = 0.02


@dataclass
class Matching:
    """How one fit's clusters map onto stable topic ids, and the lineage events that follow."""

    mapping: dict[int, int] = field(default_factory=dict)  # fit cluster -> stable topic id
    created: list[int] = field(default_factory=list)
    revived: list[int] = field(default_factory=list)  # matched by centroid only (no shared members)
    splits: list[tuple[int, int, int]] = field(default_factory=list)  # applied: (topic, new topic, cluster)
    split_suggestions: list[tuple[int, int]] = field(default_factory=list)  # (topic, fit cluster)
    merges: list[tuple[int, int]] = field(default_factory=list)  # suggested: (topic, into topic)
    folded: list[int] = field(default_factory=list)  # fit clusters joined to an existing topic


def _unit_rows(vectors) -> np.ndarray:
    m = np.vstack([np.asarray(v, dtype=np.float32) for v in vectors])
    return m / np.clip(np.linalg.norm(m, axis=1, keepdims=True), 1e-12, None)


def match_clusters(
    old: np.ndarray,
    fit: np.ndarray,
    fit_ids: np.ndarray,
    fit_centroids: np.ndarray,
    previous: pd.DataFrame,
    highest: int,
    min_size: int,
    curated: frozenset[int] = frozenset(),
) -> Matching:
    """Map the fit's clusters (``fit_ids``, labels ``fit`` per message) onto stored topics.

    ``old`` holds each message's stored topic (``OUTLIER``, or ``UNASSIGNED`` for new messages);
    ``previous`` lists the stored topics that can still be matched (``topic_id``, ``centroid``).
    """
    result = Matching()
    prev_ids = previous["topic_id"].to_numpy(dtype=int) if len(previous) else np.zeros(0, dtype=int)
    fit_ids = np.asarray(fit_ids, dtype=int)
    if len(fit_ids) == 0:
        return result
    col = {t: c for c, t in enumerate(prev_ids)}
    row = {t: r for r, t in enumerate(fit_ids)}
    overlap = np.zeros((len(fit_ids), len(prev_ids)))
    both = (fit >= 0) & np.isin(old, prev_ids)
    for f, o in zip(fit[both], old[both], strict=True):
        overlap[row[int(f)], col[int(o)]] += 1
    size_old = np.array([(old == t).sum() for t in prev_ids], dtype=float)
    old_in_fit = overlap.sum(axis=1)
    cluster_size = np.array([(fit == t).sum() for t in fit_ids], dtype=float)
    old_share = float((old >= 0).mean()) if len(old) else 0.0  # share of messages already in topics

    matched_rows: set[int] = set()
    matched_cols: set[int] = set()
    if overlap.size and overlap.any():
        jaccard = overlap / np.clip(old_in_fit[:, None] + size_old[None, :] - overlap, 1, None)
        for r, c in zip(*linear_sum_assignment(jaccard, maximize=True), strict=True):
            if jaccard[r, c] >= MATCH_JACCARD:
                result.mapping[int(fit_ids[r])] = int(prev_ids[c])
                matched_rows.add(r)
                matched_cols.add(c)

    # Topics that share no members with the fit (gone quiet, now back): centroid similarity.
    free_rows = [r for r in range(len(fit_ids)) if r not in matched_rows]
    has_centroid = previous["centroid"].notna().to_numpy() if len(previous) else np.zeros(0, dtype=bool)
    free_cols = [
        c for c in range(len(prev_ids)) if c not in matched_cols and size_old[c] == 0 and has_centroid[c]
    ]
    if free_rows and free_cols:
        old_c = _unit_rows(previous["centroid"].iloc[free_cols])
        sims = np.asarray(fit_centroids, dtype=np.float32)[free_rows] @ old_c.T
        for r, c in zip(*linear_sum_assignment(sims, maximize=True), strict=True):
            if sims[r, c] >= CENTROID_MATCH:
                topic = int(prev_ids[free_cols[c]])
                result.mapping[int(fit_ids[free_rows[r]])] = topic
                result.revived.append(topic)
                matched_rows.add(free_rows[r])
                matched_cols.add(free_cols[c])

    fresh = highest + 1
    budget = MAX_CHURN * float((old >= 0).sum())
    candidates = []
    for r, t in enumerate(fit_ids):  # fit ids come largest first, so fresh ids follow size
        if r in matched_rows:
            continue
        c = int(overlap[r].argmax()) if overlap.shape[1] else -1
        took = overlap[r, c] if c >= 0 else 0
        splits_off = (
            c in matched_cols
            and took >= min_size
            and took >= SPLIT_SHARE * size_old[c]
            and took >= 0.5 * old_in_fit[r]
        )
        recut = not splits_off and took > 0 and old_in_fit[r] >= 0.5 * old_share * cluster_size[r]
        if splits_off and int(prev_ids[c]) not in curated:  # people merged these: never split them
            candidates.append((took, r, c))
        elif splits_off or recut:
            result.mapping[int(t)] = int(prev_ids[c])
            result.folded.append(int(t))
        else:
            result.mapping[int(t)] = fresh
            result.created.append(fresh)
            fresh += 1
    for took, r, c in sorted(candidates, key=lambda x: (-x[0], x[1])):
        t, topic = int(fit_ids[r]), int(prev_ids[c])
        if took <= budget:
            budget -= took
            result.mapping[t] = fresh
            result.splits.append((topic, fresh, t))
            fresh += 1
        else:
            result.mapping[t] = topic
            result.folded.append(t)
            result.split_suggestions.append((topic, t))

    for c, topic in enumerate(prev_ids):
        if c in matched_cols or size_old[c] == 0:
            continue
        r = int(overlap[:, c].argmax())
        into = result.mapping.get(int(fit_ids[r]))
        if r in matched_rows and overlap[r, c] >= MERGE_SHARE * size_old[c] and into != topic:
            result.merges.append((int(topic), int(into)))
    return result


def resolve_assignments(
    old: np.ndarray, fit: np.ndarray, matching: Matching, nearest: np.ndarray
) -> np.ndarray:
    """Each message's topic after a re-fit: the stored one unless an applied split moves it; for new
    messages the topic created or split off for their cluster, else ``nearest`` (their nearest known
    topic); outliers stay outliers unless a created topic takes them."""
    fresh = set(matching.created) | {new for _, new, _ in matching.splits}
    mapped = np.asarray([matching.mapping.get(int(f), OUTLIER) for f in fit], dtype=int)
    into_new = np.isin(mapped, list(fresh)) & (old < 0)
    final = old.copy()
    final[old == UNASSIGNED] = np.asarray(nearest)[old == UNASSIGNED]
    final[into_new] = mapped[into_new]
    for topic, new, cluster in matching.splits:
        final[(old == topic) & (fit == cluster)] = new
    return final
