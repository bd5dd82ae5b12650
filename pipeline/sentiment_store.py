"""Sentiment rows per message and the per-conversation roll-up (overall, first vs last turn)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.embeddings import with_vectors
from pipeline.store import Store, execute

LABELS = ("negative", "neutral", "positive")


def save_message_sentiment(store: Store, message_ids: list[str], proba: np.ndarray, model: str) -> int:
    frame = pd.DataFrame(
        {
            "message_id": message_ids,
            "label": np.asarray(LABELS)[proba.argmax(axis=1)],
            "score": proba[:, 2] - proba[:, 0],
            "p_negative": proba[:, 0],
            "p_neutral": proba[:, 1],
            "p_positive": proba[:, 2],
            "model": model,
        }
    )
    return store.upsert("sentiment", frame)


_ROLLUP = """
WITH turns AS (
    SELECT m.conversation_id, s.score, coalesce(m.sent_at, m.ingested_at) AS t, m.message_id
    FROM messages m JOIN sentiment s USING (message_id)
    WHERE m.is_customer
), agg AS (
    SELECT conversation_id,
           avg(score) AS mean_score,
           arg_min(score, (t, message_id)) AS first_score,
           arg_max(score, (t, message_id)) AS last_score,
           count(*) AS n
    FROM turns GROUP BY conversation_id
)
UPDATE conversations AS c SET
    sentiment_score = a.mean_score,
    sentiment_label = CASE WHEN a.mean_score <= -0.25 THEN 'negative'
                           WHEN a.mean_score >= 0.25 THEN 'positive' ELSE 'neutral' END,
    sentiment_first = a.first_score,
    sentiment_last = a.last_score,
    sentiment_change = CASE WHEN a.n > 1 THEN a.last_score - a.first_score END
FROM agg a WHERE c.conversation_id = a.conversation_id
"""


def refresh_conversation_sentiment(store: Store) -> int:
    """Per-conversation sentiment from its customer turns; change = last turn minus first turn."""
    with store.connect() as con:
        execute(con, _ROLLUP)
        return execute(con, "SELECT count(*) FROM conversations WHERE sentiment_score IS NOT NULL")[0][0]


def pending_sentiment(store: Store, model: str, fallback: str | None = None) -> pd.DataFrame:
    """Customer messages with a vector for ``model`` (else for ``fallback``) but no sentiment yet."""
    models = [model] + ([fallback] if fallback else [])
    with store.connect(read_only=True) as con:
        frame = con.execute(
            """
            SELECT m.message_id, m.text_hash FROM messages m
            WHERE m.is_customer AND NOT EXISTS (SELECT 1 FROM sentiment s WHERE s.message_id = m.message_id)
            ORDER BY m.message_id
            """
        ).df()
        frame, vectors, _ = with_vectors(con, frame, models)
    return pd.DataFrame({"message_id": frame["message_id"].to_numpy(), "vector": list(vectors)})
