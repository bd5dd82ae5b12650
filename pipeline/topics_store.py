"""Writing a fitted topic model's topics and assignments to the store."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

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
