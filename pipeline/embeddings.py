"""The embedding cache: which customer texts still need a vector, and storing the vectors.

Keyed by (model, sha256 of the redacted text), so the same text is embedded once per model,
however many messages carry it and however many runs come after.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd

from pipeline.store import Store


def pending_texts(store: Store, model: str, also: str | None = None) -> pd.DataFrame:
    """Distinct (text_hash, text) of customer messages with no vector for ``model`` yet (nor for
    ``also``: fast mode's projected vectors stand in for the model's)."""
    with store.connect(read_only=True) as con:
        return con.execute(
            """
            SELECT text_hash, any_value(text) AS text FROM messages m
            WHERE is_customer AND NOT EXISTS (
                SELECT 1 FROM embeddings e WHERE e.model IN (?, ?) AND e.text_hash = m.text_hash)
            GROUP BY text_hash ORDER BY text_hash
            """,
            [model, also or model],
        ).df()


def distinct_customer_texts(store: Store) -> int:
    with store.connect(read_only=True) as con:
        return int(
            con.execute("SELECT count(DISTINCT text_hash) FROM messages WHERE is_customer").fetchone()[0]
        )


def exact_vectors(store: Store, model: str, limit: int) -> tuple[list[str], np.ndarray]:
    """Up to ``limit`` customer texts with a vector for ``model`` and those vectors (hash order)."""
    with store.connect(read_only=True) as con:
        table = con.execute(
            """
            SELECT any_value(m.text) AS text, any_value(e.vector) AS vector FROM messages m
            JOIN embeddings e ON e.text_hash = m.text_hash AND e.model = ?
            WHERE m.is_customer GROUP BY m.text_hash ORDER BY m.text_hash LIMIT ?
            """,
            [model, limit],
        ).fetch_arrow_table()
    return table.column("text").to_pylist(), unit_rows(table.column("vector"))


def unit_rows(column) -> np.ndarray:
    """A list-of-floats column (pyarrow) as a float32 matrix, without a Python object per row."""
    import pyarrow as pa

    chunks = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    n = len(chunks)
    if n == 0:
        return np.zeros((0, 0), dtype=np.float32)
    flat = chunks.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
    return flat.reshape(n, -1)


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


def customer_messages_with_vectors(
    store: Store, model: str, fallback: str | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Customer messages (id, conversation, language, text) and their vectors, in a stable order.

    With ``fallback`` (fast mode's projected vectors), a message without a vector for ``model`` takes
    its fallback vector, and the column ``exact`` says which messages have the model's own."""
    with store.connect(read_only=True) as con:
        table = con.execute(
            """
            SELECT m.message_id, m.conversation_id, m.language, m.text,
                   coalesce(e.vector, p.vector) AS vector, e.vector IS NOT NULL AS exact
            FROM messages m
            LEFT JOIN embeddings e ON e.text_hash = m.text_hash AND e.model = ?
            LEFT JOIN embeddings p ON p.text_hash = m.text_hash AND p.model = ?
            WHERE m.is_customer AND (e.vector IS NOT NULL OR p.vector IS NOT NULL)
            ORDER BY m.message_id
            """,
            [model, fallback or model],
        ).fetch_arrow_table()
    vectors = unit_rows(table.column("vector"))
    frame = table.drop(["vector"]).to_pandas()
    if fallback is None:
        frame = frame.drop(columns=["exact"])
    if frame.empty:
        return frame, np.zeros((0, 0), dtype=np.float32)
    return frame, vectors
