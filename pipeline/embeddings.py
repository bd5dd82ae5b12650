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


def _vectors_by_text(
    con, models: list[str], hashes: pd.Index, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """One vector per row, for rows whose text is ``hashes[at[row]]``, from the first of ``models``
    that has one, and which model that was (its index in ``models``; -1: none).

    Streamed from the store in record batches straight into one preallocated row matrix (rows that
    share a text get a copy each): a join that carries the vectors made DuckDB and Arrow each hold a
    copy of all of them (6.5 GB at 1.1M messages), and a per-text matrix expanded to rows afterwards
    held two."""
    order = np.argsort(at, kind="stable")
    starts = np.searchsorted(at[order], np.arange(len(hashes) + 1))
    found = np.full(len(at), -1, dtype=np.int8)
    matrix: np.ndarray | None = None
    for k in reversed(range(len(models))):  # the preferred model last, so its vectors win
        dim = con.execute(
            "SELECT len(vector) FROM embeddings WHERE model = ? LIMIT 1", [models[k]]
        ).fetchone()
        if dim is None:
            continue
        # read as a fixed-size array: half the time of a variable-length list at a million vectors
        result = con.execute(
            f"SELECT text_hash, vector::FLOAT[{int(dim[0])}] FROM embeddings WHERE model = ?", [models[k]]
        )
        for batch in result.fetch_record_batch(65_536):
            where = hashes.get_indexer(batch.column(0).to_numpy(zero_copy_only=False))
            ok = np.flatnonzero(where >= 0)
            if len(ok) == 0:
                continue
            first, count = starts[where[ok]], np.diff(starts)[where[ok]]
            source = np.repeat(ok, count)  # the batch row each message row copies
            offset = np.arange(len(source)) - np.repeat(np.cumsum(count) - count, count)
            rows = order[np.repeat(first, count) + offset]
            vectors = unit_rows(batch.column(1))
            if matrix is None:
                matrix = np.zeros((len(at), vectors.shape[1]), dtype=np.float32)
            matrix[rows] = vectors[source]
            found[rows] = k
    return (matrix if matrix is not None else np.zeros((len(at), 0), dtype=np.float32)), found


def with_vectors(con, frame: pd.DataFrame, models: list[str]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The rows of ``frame`` whose ``text_hash`` has a vector for one of ``models`` (the column is
    dropped), their vectors (one copy per row: messages sharing a text share its vector), and which
    model gave each (its index in ``models``)."""
    texts = pd.Index(frame["text_hash"].unique())
    at = texts.get_indexer(frame.pop("text_hash"))
    vectors, found = _vectors_by_text(con, models, texts, at)
    has = found >= 0
    if has.all():  # the usual case: no second copy of the vectors
        return frame.reset_index(drop=True), vectors, found
    return frame[has].reset_index(drop=True), vectors[has], found[has]


def customer_messages_with_vectors(
    store: Store, model: str, fallback: str | None = None
) -> tuple[pd.DataFrame, np.ndarray]:
    """Customer messages that have a vector, and those vectors, in a stable order.

    Columns: id, conversation, language, time (``at``: sent, else ingested) and the topic and
    probability the store assigns them now (null for a message no run has seen): the topic step's
    inputs in one read. Not the texts: at a million messages they double the read, and a weekly run
    needs a few of them.

    With ``fallback`` (fast mode's projected vectors), a message without a vector for ``model`` takes
    its fallback vector, and the column ``exact`` says which messages have the model's own."""
    models = [model] + ([fallback] if fallback else [])
    with store.connect(read_only=True) as con:
        frame = con.execute(
            """
            SELECT m.message_id, m.conversation_id, m.language, m.text_hash,
                   coalesce(m.sent_at, m.ingested_at) AS at, a.topic_id, a.probability
            FROM messages m LEFT JOIN assignments a USING (message_id)
            WHERE m.is_customer ORDER BY m.message_id
            """
        ).df()
        frame, vectors, source = with_vectors(con, frame, models)
    if fallback:
        frame["exact"] = source == 0
    if frame.empty:
        return frame, np.zeros((0, 0), dtype=np.float32)
    return frame, vectors
