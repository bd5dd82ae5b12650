"""The embedding cache: which customer texts still need a vector, and storing the vectors.

Keyed by (model, sha256 of the redacted text), so the same text is embedded once per model,
however many messages carry it and however many runs come after.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from pipeline.store import Store


def pending_texts(store: Store, model: str) -> pd.DataFrame:
    """Distinct (text_hash, text) of customer messages with no vector for ``model`` yet."""
    with store.connect(read_only=True) as con:
        return con.execute(
            """
            SELECT text_hash, any_value(text) AS text FROM messages m
            WHERE is_customer AND NOT EXISTS (
                SELECT 1 FROM embeddings e WHERE e.model = ? AND e.text_hash = m.text_hash)
            GROUP BY text_hash ORDER BY text_hash
            """,
            [model],
        ).df()


def save_vectors(store: Store, model: str, text_hashes: list[str], vectors: np.ndarray) -> int:
    frame = pd.DataFrame(
        {
            "model": model,
            "text_hash": text_hashes,
            "vector": list(vectors.astype(np.float32)),
            "created_at": datetime.now(UTC),
        }
    )
    return store.upsert("embeddings", frame)


def customer_messages_with_vectors(store: Store, model: str) -> tuple[pd.DataFrame, np.ndarray]:
    """Customer messages (id, conversation, language, text) and their vectors, in a stable order."""
    with store.connect(read_only=True) as con:
        frame = con.execute(
            """
            SELECT m.message_id, m.conversation_id, m.language, m.text, e.vector
            FROM messages m JOIN embeddings e ON e.text_hash = m.text_hash AND e.model = ?
            WHERE m.is_customer
            ORDER BY m.message_id
            """,
            [model],
        ).df()
    if frame.empty:
        return frame, np.zeros((0, 0), dtype=np.float32)
    vectors = np.vstack(frame.pop("vector").to_numpy()).astype(np.float32)
    return frame, vectors
