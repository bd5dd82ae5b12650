"""Writing a fitted topic model's topics and assignments to the store."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment

from pipeline.store import Store, execute


def save_topics(
    store: Store, messages: pd.DataFrame, topics: pd.DataFrame, labels, probabilities, run_id: str
) -> int:
    """Replace the topic table and every customer message's assignment, in one transaction."""
    ids = messages["message_id"].to_numpy()
    table = topics.copy()
    table["representative_ids"] = table.pop("representative_idx").map(lambda idx: [str(ids[i]) for i in idx])
    table["centroid"] = table["centroid"].map(lambda c: None if c is None else [float(v) for v in c])
    table["run_id"] = run_id
    table["updated_at"] = datetime.now(UTC)
    assignments = pd.DataFrame(
        {
            "message_id": ids,
            "topic_id": labels.astype(int),
            "probability": probabilities.astype(float),
            "run_id": run_id,
        }
    )
    with store.connect() as con:
        execute(con, "BEGIN TRANSACTION")
        execute(con, "DELETE FROM topics")
        store.upsert("topics", table, con=con)
        execute(con, "DELETE FROM assignments")
        store.upsert("assignments", assignments, con=con)
        execute(con, "COMMIT")
    return len(table)


def previous_topics(store: Store) -> tuple[pd.DataFrame, int]:
    """Stored topics with centroids, and the highest topic id any run has ever used (-1 if none)."""
    with store.connect(read_only=True) as con:
        topics = con.execute(
            "SELECT topic_id, centroid FROM topics "
            "WHERE topic_id >= 0 AND centroid IS NOT NULL ORDER BY topic_id"
        ).df()
        used = execute(
            con,
            "SELECT max(CAST(json_extract(counts, '$.topics.max_topic_id') AS INTEGER)) FROM runs "
            "WHERE status = 'completed'",
        )[0][0]
    highest = max([-1, used if used is not None else -1, *topics["topic_id"].tolist()])
    return topics, int(highest)


def align_topic_ids(
    previous: pd.DataFrame,
    new_ids: np.ndarray,
    new_centroids: np.ndarray,
    highest: int,
    threshold: float = 0.8,
) -> dict[int, int]:
    """Map this fit's topic ids to stable ones: a new topic keeps the id of the stored topic it matches.

    One-to-one matching (Hungarian) on centroid cosine similarity; a pair counts only at or above
    ``threshold``. Unmatched new topics get fresh ids above every id used before, so an id never
    changes meaning.
    """
    mapping: dict[int, int] = {}
    if len(previous) and len(new_ids):
        old = np.vstack([np.asarray(c, dtype=np.float32) for c in previous["centroid"]])
        old /= np.linalg.norm(old, axis=1, keepdims=True)
        sims = np.asarray(new_centroids, dtype=np.float32) @ old.T
        rows, cols = linear_sum_assignment(sims, maximize=True)
        for r, c in zip(rows, cols, strict=True):
            if sims[r, c] >= threshold:
                mapping[int(new_ids[r])] = int(previous["topic_id"].iloc[c])
    fresh = highest + 1
    for t in new_ids:  # new_ids come largest first, so fresh ids follow size
        if int(t) not in mapping:
            mapping[int(t)] = fresh
            fresh += 1
    return mapping


def relabel(
    topics: pd.DataFrame, labels: np.ndarray, mapping: dict[int, int]
) -> tuple[pd.DataFrame, np.ndarray]:
    """Apply ``mapping`` to a topic table and the per-message labels (-1 stays -1)."""
    full = {**mapping, -1: -1}
    out = topics.copy()
    out["topic_id"] = out["topic_id"].map(full).astype(int)
    return out, np.asarray([full[int(v)] for v in labels], dtype=int)
