"""Nearest neighbours by cosine among unit vectors, in blocks: what the local shifts and the search for
new themes count messages by (``pipeline.local_shifts``, ``pipeline.novelty``).

scikit-learn's ``NearestNeighbors`` would do the same work, but both callers need the neighbours of
some rows among a pool those rows are part of, without themselves, and the blocks bound the memory
of the similarity matrix however large the pool is."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

_ROWS = 1_024  # rows per block, fewer where the pool is large, so that at most
_CELLS = 16_000_000  # similarities held at once (64 MB of float32)


def nearest(rows: np.ndarray, pool: np.ndarray | Sequence[np.ndarray], k: int, first: int = 0) -> np.ndarray:
    """Indices into ``pool`` of each of ``rows``' ``k`` nearest (at most ``len(pool) - 1``), nearest
    first. ``rows`` are ``pool[first : first + len(rows)]``: each row's own index is left out.

    ``pool`` may be given as parts, indexed as if stacked in order, so a caller never copies a large
    reference set just to put its own rows in front of it."""
    parts = [pool] if isinstance(pool, np.ndarray) else list(pool)
    size = sum(len(part) for part in parts)
    k = min(k, size - 1)
    out = np.empty((len(rows), k), dtype=np.int64)
    block = max(1, min(_ROWS, _CELLS // max(size, 1)))
    for start in range(0, len(rows), block):
        chunk = rows[start : start + block]
        # one pool (the shifts' every week): its product as it is, not copied again by hstack
        sims = chunk @ parts[0].T if len(parts) == 1 else np.hstack([chunk @ part.T for part in parts])
        sims[np.arange(len(sims)), np.arange(first + start, first + start + len(sims))] = -np.inf
        near = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(sims, near, axis=1), axis=1, kind="stable")
        out[start : start + len(sims)] = np.take_along_axis(near, order, axis=1)
    return out
