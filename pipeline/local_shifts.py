"""Local shifts: groups of similar messages whose share of a week rose or fell, found without the topics.

A surge, a stop or a new request inside a broad topic moves the topic's total by less than the rest
of it adds in noise, and cutting topics into parts (k-means, as voc did before) only helps where a
part's line falls where the request's does, and moves that line with the cut's seed. This test asks
the messages instead. For week W, the pool
is W's messages and those of its ``BASELINE_WEEKS`` earlier weeks. Each message's ``K`` nearest
neighbours in the pool (cosine) are counted by week: where customers say more of something this
week, its messages' neighbours are this week's more often than W's share of the pool predicts, and
where they stopped saying it, less often (a binomial test per message at ``MESSAGE_ALPHA``, as in
Schilling's nearest-neighbour two-sample test, read message by message). Messages that pass, one way,
are linked into groups by the neighbour pairs that are mutual (each among the other's ``K`` nearest,
as in Brito et al.'s mutual k-NN graph for clustering), so that two requests side by side are not
chained into one group by a single one-way pair. A group's count this week against its earlier
weeks' is the status rule's conditional test for two Poisson rates (``pipeline.rate_test``), with the
same minimum volume: at least ``min_volume`` messages this week to rise, at least ``min_volume``
expected to fall.

The groups are chosen by the very counts they are then tested on, so their p-values are calibrated
by permutation: the week labels of the pool are shuffled ``PERMUTATIONS`` times over the same
neighbour graph, and a group's p-value (``family_p``) is the share of shuffles whose best group
scored at least as well. Under the null (every request at its own steady rate, the week's volume
swinging as it will), a message's week is a draw with W's share of the pool, so this controls the
chance of any false group in a week, per direction, at ``ALPHA``.

Shifts are a test unit, not a taxonomy: they are stored by week (``week_shifts``), and the weekly
statistics flag the topic that holds most of a significant group's messages (``pipeline.weekly``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.stats import binom

K = 20  # neighbours per message: with 10, a message with no neighbour this week (p = 0.8^10) can't pass
MESSAGE_ALPHA = 0.05
ALPHA = 0.01  # per week and direction, over all groups
PERMUTATIONS = 200
BASELINE_WEEKS = 4
POOL_SAMPLE = 8_000  # messages of a week and its baseline weeks the graph is built on, at most
_BLOCK = 1_024


@dataclass
class Shift:
    """One group: its pool rows, which way it moved, its count this week and before, and p-values."""

    rows: np.ndarray
    direction: int  # +1 rose, -1 fell
    now: int
    before: int
    expected: float
    p: float
    family_p: float = 1.0


def neighbours(X: np.ndarray, k: int = K) -> np.ndarray:
    """Each row's ``k`` nearest other rows by cosine (``X``: unit vectors), in blocks to bound memory."""
    k = min(k, len(X) - 1)
    out = np.empty((len(X), k), dtype=np.int64)
    for start in range(0, len(X), _BLOCK):
        sims = X[start : start + _BLOCK] @ X.T
        sims[np.arange(len(sims)), np.arange(start, start + len(sims))] = -np.inf
        out[start : start + len(sims)] = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    return out


def mutual_pairs(nn: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The neighbour pairs (i, j) where each is among the other's nearest: the links groups are made of.

    Any one-way pair chains requests into each other: a message of a surging request with one of a
    new request among its 20 neighbours is enough to make the two one group, and the group then
    flags one topic for both (or neither). Mutual pairs keep requests apart where they meet."""
    n, k = nn.shape
    src = np.repeat(np.arange(n), k)
    graph = csr_matrix((np.ones(len(src), dtype=np.int8), (src, nn.ravel())), shape=(n, n))
    mutual = graph.multiply(graph.T).tocoo()
    return mutual.row, mutual.col


def _groups(
    nn: np.ndarray, pairs: tuple[np.ndarray, np.ndarray], now: np.ndarray, direction: int, min_volume: int
) -> list[Shift]:
    """Groups of messages whose neighbours are this week's more (or less) often than chance, linked by
    mutual neighbour ``pairs``, callable at ``min_volume``, each with its conditional-test p-value (not
    yet corrected for the choice)."""
    share = now.mean()
    if share in (0.0, 1.0):
        return []
    k = nn.shape[1]
    hits = now[nn].sum(axis=1)
    p_msg = binom.sf(hits - 1, k, share) if direction > 0 else binom.cdf(hits, k, share)
    chosen = p_msg < MESSAGE_ALPHA
    if chosen.sum() < 2:
        return []
    src, dst = pairs
    keep = chosen[src] & chosen[dst]
    graph = csr_matrix((np.ones(int(keep.sum())), (src[keep], dst[keep])), shape=(len(nn), len(nn)))
    _, label = connected_components(graph, directed=False)
    label = np.where(chosen, label, -1)
    out = []
    for group in np.unique(label[chosen]):
        rows = np.flatnonzero(label == group)
        x = int(now[rows].sum())
        before = len(rows) - x
        expected = before * share / (1 - share)
        if (direction > 0 and x < min_volume) or (direction < 0 and expected < min_volume):
            continue
        p = binom.sf(x - 1, len(rows), share) if direction > 0 else binom.cdf(x, len(rows), share)
        out.append(Shift(rows, direction, x, before, float(expected), float(p)))
    return out


def scan(
    nn: np.ndarray, now: np.ndarray, min_volume: int, seed: int, permutations: int = PERMUTATIONS
) -> list[Shift]:
    """Every group of the pool (neighbour graph ``nn``; ``now``: 1 for this week's rows) with its
    permutation p-value; keep those with ``family_p <= ALPHA``."""
    now = np.asarray(now, dtype=np.int64)
    rng = np.random.default_rng(seed)
    pairs = mutual_pairs(nn)
    found = {d: _groups(nn, pairs, now, d, min_volume) for d in (1, -1)}
    if not any(found.values()):
        return []
    best = {d: np.ones(permutations) for d in found}
    for i in range(permutations):
        shuffled = rng.permutation(now)
        for d in found:
            if found[d]:
                best[d][i] = min((g.p for g in _groups(nn, pairs, shuffled, d, min_volume)), default=1.0)
    for d, groups in found.items():
        for g in groups:
            g.family_p = float((1 + (best[d] <= g.p).sum()) / (1 + permutations))
    return [g for groups in found.values() for g in groups]


def scan_weeks(
    X: np.ndarray, week_of: np.ndarray, message_ids: np.ndarray, weeks: list[int], min_volume: int, seed: int
) -> pd.DataFrame:
    """The significant shifts of each week in ``weeks`` (week ordinals, as ``week_of``), one row per
    member message: week ordinal, shift number, direction, the group's counts and p-values, and how
    many of the message's neighbours are this week's (what orders its typical messages). A week is
    scanned only with a full ``BASELINE_WEEKS`` of earlier weeks."""
    rows = []
    first = int(week_of.min()) if len(week_of) else 0
    for week in sorted(weeks):
        if week - BASELINE_WEEKS < first:
            continue
        pool = np.flatnonzero((week_of >= week - BASELINE_WEEKS) & (week_of <= week))
        if len(pool) > POOL_SAMPLE:  # every message as likely to be drawn: the week's share is kept;
            rng = np.random.default_rng([seed, week])  # the draw does not depend on the other weeks scanned
            pool = np.sort(rng.choice(pool, POOL_SAMPLE, replace=False))
        now = (week_of[pool] == week).astype(np.int64)
        if now.sum() == 0 or len(pool) <= K:
            continue
        nn = neighbours(X[pool])
        hits = now[nn].sum(axis=1)
        for number, g in enumerate(s for s in scan(nn, now, min_volume, seed + week) if s.family_p <= ALPHA):
            rows.append(
                pd.DataFrame(
                    {
                        "week": week,
                        "shift": number,
                        "direction": "up" if g.direction > 0 else "down",
                        "message_id": np.asarray(message_ids)[pool[g.rows]],
                        "this_week": now[g.rows].astype(bool),
                        "neighbours_now": hits[g.rows],
                        "messages": g.now,
                        "before": g.before,
                        "expected": g.expected,
                        "p_value": g.p,
                        "family_p": g.family_p,
                    }
                )
            )
    columns = [
        "week", "shift", "direction", "message_id", "this_week", "neighbours_now", "messages", "before",
        "expected", "p_value", "family_p",
    ]  # fmt: skip
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)
