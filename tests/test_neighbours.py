"""The nearest-neighbour search the local shifts and the new-theme search count messages by."""

from __future__ import annotations

import numpy as np

from pipeline import neighbours


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.normal(size=(n, 16)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_neighbours_are_the_nearest_others_nearest_first_in_any_block_size(monkeypatch):
    rng = np.random.default_rng(0)
    new, reference = _unit(rng, 120), _unit(rng, 700)
    pool = np.vstack([new, reference])
    sims = new @ pool.T
    np.fill_diagonal(sims[:, : len(new)], -np.inf)
    expected = np.argsort(-sims, axis=1, kind="stable")[:, :10]

    found = neighbours.nearest(new, pool, 10)
    assert np.array_equal(found, expected)
    assert not (found == np.arange(len(new))[:, None]).any()  # never itself
    monkeypatch.setattr(neighbours, "_CELLS", 5 * len(pool))  # blocks of 5 rows
    assert np.array_equal(neighbours.nearest(new, pool, 10), expected)
    # the pool in parts, indexed as if stacked: no copy of the reference needed
    assert np.array_equal(neighbours.nearest(new, [new, reference], 10), expected)


def test_rows_inside_the_pool_leave_out_their_own_index():
    rng = np.random.default_rng(1)
    pool = _unit(rng, 200)
    rows = pool[50:80]
    found = neighbours.nearest(rows, pool, 5, first=50)
    assert not (found == np.arange(50, 80)[:, None]).any()
    assert found.shape == (30, 5)
    assert neighbours.nearest(pool[:3], pool[:3], 10).shape == (3, 2)  # at most the others
