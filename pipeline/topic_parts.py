"""Parts of each topic: the finer units the weekly status test also looks at.

A topic often holds several things customers say (a first fit on one week finds 13-22 topics for 28
intents). When one of them surges, stops or appears, the topic's total moves by less than the Poisson
test can call, because the rest of the topic adds its own noise. So every run also cuts each topic into
parts (k-means on its members' embeddings) and the weekly statistics test each part's count as they
test the topic's (``pipeline.weekly``): same volume adjustment, a full 4-week baseline, and a
false-discovery control of their own, apart from the topics'.

A part is sized so that the status rule can call it at all: its expected weekly count is about
``min_volume`` messages or more (a smaller part could never be called declining), so a topic gets
``mean weekly messages // min_volume`` parts, at most ``MAX_PARTS``; a topic too small for two parts
has none. Parts are a test unit, not a taxonomy: they are recomputed by every run, never shown as
topics, and their ids mean nothing from one run to the next.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.preprocessing import normalize

NO_PART = -1
MAX_PARTS = 8
FIT_SAMPLE = 2_000  # members a topic's k-means is fitted on, at most; the others take the nearest part


def parts_per_topic(weekly_messages: float, min_volume: int) -> int:
    """How many parts a topic with this mean weekly volume is cut into (0: not cut)."""
    k = int(min(MAX_PARTS, weekly_messages // max(min_volume, 1)))
    return k if k >= 2 else 0


def cut_topics(
    X: np.ndarray, topics: np.ndarray, weeks: np.ndarray, min_volume: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Part id (unique across topics, ``NO_PART`` where a topic is not cut or for outliers) and the
    cosine of each message to its part's centroid (what picks a part's typical messages).

    ``X``: unit vectors; ``topics``: each row's topic (negative = none); ``weeks``: each row's week as
    an ordinal, so that a topic's mean weekly volume counts the weeks from its first one on."""
    part = np.full(len(X), NO_PART, dtype=int)
    similarity = np.zeros(len(X), dtype=float)
    if len(X) == 0:
        return part, similarity
    last = int(weeks.max())
    rng = np.random.default_rng(seed)
    next_id = 0
    in_topic = np.flatnonzero(topics >= 0)
    order = in_topic[np.argsort(topics[in_topic], kind="stable")]  # rows grouped by topic, one sort
    bounds = np.flatnonzero(np.diff(topics[order])) + 1
    for rows in np.split(order, bounds) if len(order) else []:
        k = parts_per_topic(len(rows) / (last - int(weeks[rows].min()) + 1), min_volume)
        if k == 0 or len(rows) < 2 * k:
            continue
        fit = np.sort(rng.choice(rows, FIT_SAMPLE, replace=False)) if len(rows) > FIT_SAMPLE else rows
        km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(X[fit])
        sims = X[rows] @ normalize(km.cluster_centers_).T.astype(X.dtype)
        nearest = sims.argmax(axis=1)
        part[rows] = next_id + nearest
        similarity[rows] = sims[np.arange(len(rows)), nearest]
        next_id += k
    return part, similarity


def parts_table(
    message_ids: np.ndarray, part: np.ndarray, similarity: np.ndarray, run_id: str
) -> pd.DataFrame:
    """The rows ``topic_parts`` stores: messages in a part only."""
    cut = part != NO_PART
    return pd.DataFrame(
        {
            "message_id": np.asarray(message_ids)[cut],
            "part": part[cut].astype(int),
            "similarity": similarity[cut].astype(float),
            "run_id": run_id,
        }
    )
