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
same minimum volume: at least ``min_volume`` conversations this week to rise, at least ``min_volume``
expected to fall.

Everything is counted in conversations, each once, as the status rule counts topics: a message's
neighbours from its own conversation do not count for it, and a group or ball counts each
conversation once. A customer's messages are of one week and alike; counted one by one, a customer
who writes the same complaint ten times is a rise.

A rise is also read over balls: each message with its 9, 19, 39 or 79 nearest (``SCALES``), tested
the same way, as a k-nearest-neighbour scan statistic (Kulldorff's spatial scan with windows made of
neighbours). A fourfold week against four weeks of baseline only about doubles this week's share
among a surging request's neighbours, too little for most of its messages to pass alone where a
sibling request's messages sit among them; over forty or eighty neighbours it shows. Groups come
first: a ball is kept only where it shares no message with a shift kept before it, so it adds rises
the groups missed without mixing two requests the mutual links keep apart. A fall is read from the
groups alone: a ball is rigid, and a stopped request's ball takes in its siblings' messages of this
week (on the kept weeks' screen, balls found 5 of the 30 stops where groups found 19).

Groups and balls are chosen by the very counts they are then tested on, so their p-values are
calibrated by permutation: the week labels of the pool's conversations are shuffled ``PERMUTATIONS``
times over the same neighbours (whole conversations: shuffling messages split each conversation over
weeks, and steady weeks of conversations of 1-3 alike messages gave a false shift in most of them,
``python -m bench.shift_null``), and a shift's p-value (``family_p``) is the share of shuffles whose
best group or ball scored at least as well, the two ways combined by Westfall and Young's min-p (each
shuffle's best, by whichever way did best against that way's own shuffles). Under the null (every request at
its own steady rate, the week's volume swinging as it will), a conversation's week is a draw with W's
share of the pool, so this controls the chance of any false shift in a week, per direction, at
``ALPHA``, however many ways a rise is read.

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

from pipeline.neighbours import nearest
from pipeline.rate_test import one_sided_p

K = 20  # neighbours per message: with 10, a message with no neighbour this week (p = 0.8^10) can't pass
SCALES = (10, 20, 40, 80)  # sizes of the balls (a message and its nearest) a rise is also read over
MESSAGE_ALPHA = 0.05
ALPHA = 0.01  # per week and direction, over all groups and balls
PERMUTATIONS = 500
BASELINE_WEEKS = 4
POOL_SAMPLE = 8_000  # messages of a week and its baseline weeks the graph is built on, at most


@dataclass
class Shift:
    """One group or ball: its pool rows, which way it moved, its conversations this week and before,
    this week's messages, and p-values."""

    rows: np.ndarray
    direction: int  # +1 rose, -1 fell
    now: int  # conversations this week
    before: int  # conversations in the baseline weeks
    expected: float
    p: float
    family_p: float = 1.0
    messages: int = 0  # this week's messages among ``rows``


def neighbours(X: np.ndarray, k: int = max(SCALES) - 1) -> np.ndarray:
    """Each row's ``k`` nearest other rows by cosine (``X``: unit vectors), nearest first. The first
    ``K`` are the graph groups are linked in; all ``k`` make the balls."""
    return nearest(X, X, k)


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


def first_of_their_conversation(units: np.ndarray) -> np.ndarray:
    """For each row of ``units`` (conversation codes), which entries are the first of their
    conversation in that row: what counts each conversation once in a message's neighbourhood."""
    order = np.argsort(units, axis=1, kind="stable")
    ranked = np.take_along_axis(units, order, axis=1)
    first = np.ones(units.shape, dtype=bool)
    first[:, 1:] = ranked[:, 1:] != ranked[:, :-1]
    out = np.empty_like(first)
    np.put_along_axis(out, order, first, axis=1)
    return out


@dataclass
class _Pool:
    """What a scan's tests read besides the week labels, fixed across its shuffles: the balls (each
    message, then its nearest), each message's conversation (``unit``, codes 0..), and which entries
    of a ball count (``fresh``: the first of their conversation in it, the message itself first)."""

    ball: np.ndarray
    unit: np.ndarray
    fresh: np.ndarray
    pairs: tuple[np.ndarray, np.ndarray]
    share: float  # this week's share of the pool's conversations

    def __post_init__(self) -> None:
        self.graph = self.ball[:, 1 : K + 1]  # a message's K nearest: what groups are read from
        self.counted = self.fresh[:, 1 : K + 1]  # its own conversation is not its neighbour
        self.neighbours = self.counted.sum(axis=1)
        self.held = np.cumsum(self.fresh, axis=1)  # conversations in each ball, by size
        self.single = len(np.unique(self.unit)) == len(self.unit)  # every conversation one message

    def count(self, rows: np.ndarray, now: np.ndarray) -> tuple[int, int]:
        """Conversations among ``rows``: this week's, and in all."""
        if self.single:
            return int(now[rows].sum()), len(rows)
        units = self.unit[rows]
        return len(np.unique(units[now[rows] == 1])), len(np.unique(units))


def _groups(pool: _Pool, now: np.ndarray, direction: int, min_volume: int) -> list[Shift]:
    """Groups of messages whose neighbours' conversations are this week's more (or less) often than
    chance, linked by mutual neighbour pairs, callable at ``min_volume`` conversations, each with its
    conditional-test p-value (not yet corrected for the choice)."""
    share = pool.share
    graph = pool.graph
    hits = now[graph].sum(axis=1) if pool.single else (now[graph] * pool.counted).sum(axis=1)
    p_msg = one_sided_p(hits, pool.neighbours, share, direction)
    chosen = p_msg < MESSAGE_ALPHA
    if chosen.sum() < 2:
        return []
    src, dst = pool.pairs
    keep = chosen[src] & chosen[dst]
    n = len(graph)
    linked = csr_matrix((np.ones(int(keep.sum())), (src[keep], dst[keep])), shape=(n, n))
    _, label = connected_components(linked, directed=False)
    label = np.where(chosen, label, -1)
    out = []
    for group in np.unique(label[chosen]):
        rows = np.flatnonzero(label == group)
        messages = int(now[rows].sum())  # conversations are at most as many: skip what cannot be called
        if (direction > 0 and messages < min_volume) or (
            direction < 0 and (len(rows) - messages) * share / (1 - share) < min_volume
        ):
            continue
        x, total = pool.count(rows, now)
        before = total - x
        expected = before * share / (1 - share)
        if (direction > 0 and x < min_volume) or (direction < 0 and expected < min_volume):
            continue
        p = one_sided_p(x, total, share, direction)
        out.append(Shift(rows, direction, x, before, float(expected), float(p), messages=messages))
    return out


def _ball_counts(pool: _Pool, now: np.ndarray) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """This week's conversations and all conversations in every ball (a message and its ``size - 1``
    nearest), for each size in ``SCALES`` the neighbour lists have room for."""
    inside = now[pool.ball] if pool.single else now[pool.ball] * pool.fresh
    near = np.cumsum(inside, axis=1)
    return {k: (near[:, k - 1], pool.held[:, k - 1]) for k in SCALES if k <= pool.ball.shape[1]}


def _balls(pool: _Pool, now: np.ndarray, min_volume: int, tails: np.ndarray) -> np.ndarray:
    """Every ball with at least ``min_volume`` of this week's conversations, as rows of (centre, size,
    conversations this week, conversations in all), with the binomial p of a count that high
    (``tails[total, count]``) as a fifth column.

    A rise read over a fixed number of neighbours needs no message to pass alone: a surge whose
    messages each have only a few more neighbours this week than chance (a fourfold week against four
    weeks of baseline about doubles their share) still shows over forty or eighty of them."""
    out = [np.zeros((0, 5))]
    for k, (count, total) in _ball_counts(pool, now).items():
        centre = np.flatnonzero(count >= min_volume)
        c, t = count[centre], total[centre]
        out.append(np.column_stack([centre, np.full(len(centre), k), c, t, tails[t, c]]))
    return np.vstack(out)


def _best_ball_p(pool: _Pool, now: np.ndarray, min_volume: int, tails: np.ndarray) -> float:
    """The least p of any ball, without listing them."""
    best = [
        tails[total, count].min()
        for count, total in _ball_counts(pool, now).values()
        if count.max() >= min_volume
    ]
    return float(min(best, default=1.0))


def _family_p(null: np.ndarray, way: int, p: np.ndarray) -> np.ndarray:
    """Westfall-Young min-p over the ways a shift is read (``null``: each shuffle's best p, one column
    per way): the share of shuffles whose best, by whichever way did best against that way's own
    shuffles, beat each ``p`` of ``way`` measured the same way. With one way, this is the share of
    shuffles whose best p was at most ``p``."""
    permutations = len(null)
    ranked = np.sort(null, axis=0)

    def marginal(column: int, values: np.ndarray) -> np.ndarray:
        return (1 + np.searchsorted(ranked[:, column], values, side="right")) / (1 + permutations)

    least = np.sort(np.min([marginal(c, null[:, c]) for c in range(null.shape[1])], axis=0))
    return (1 + np.searchsorted(least, marginal(way, np.asarray(p)), side="right")) / (1 + permutations)


def scan(
    nn: np.ndarray,
    now: np.ndarray,
    min_volume: int,
    seed: int,
    permutations: int = PERMUTATIONS,
    conversations: np.ndarray | None = None,
) -> list[Shift]:
    """The significant shifts of the pool (neighbour lists ``nn``, nearest first; ``now``: 1 for this
    week's rows; ``conversations``: each row's conversation, all of one week, codes or labels; none:
    each row its own): ``family_p <= ALPHA``, no message in two of them, groups first, each way's most
    significant first.

    Counts are of conversations, each once, and the shuffles move whole conversations between weeks:
    one customer who writes the same complaint eight times is one conversation, not a rise (shuffling
    messages, such a cluster of one week's messages looked impossible by chance).

    A fall is read from the groups alone; a rise from the groups and from the balls (``_balls``), both
    scored on the same shuffles and combined by min-p, so that reading a rise two ways does not add
    false shifts. Balls overlap one another and the groups: one is kept only where it shares no
    message with a shift kept before it (as a scan statistic's secondary clusters are)."""
    now = np.asarray(now, dtype=np.int64)
    unit = np.arange(len(now)) if conversations is None else pd.factorize(np.asarray(conversations))[0]
    unit_now = np.zeros(int(unit.max()) + 1 if len(unit) else 0, dtype=np.int64)
    unit_now[unit] = now
    if (unit_now[unit] != now).any():
        raise ValueError("a conversation's messages in a pool must all be of the week scanned or none")
    share = unit_now.mean() if len(unit_now) else 0.0
    if share in (0.0, 1.0):
        return []
    rng = np.random.default_rng(seed)
    ball = np.column_stack([np.arange(len(nn)), nn])
    pool = _Pool(ball, unit, first_of_their_conversation(unit[ball]), mutual_pairs(nn[:, :K]), float(share))
    sizes = np.arange(ball.shape[1] + 1)
    tails = binom.sf(sizes[None, :] - 1, sizes[:, None], share)  # [conversations in all, this week's]
    groups = {d: _groups(pool, now, d, min_volume) for d in (1, -1)}
    balls = _balls(pool, now, min_volume, tails)
    live = {1: bool(groups[1]) or len(balls) > 0, -1: bool(groups[-1])}
    if not any(live.values()):
        return []
    null = {1: np.ones((permutations, 2)), -1: np.ones((permutations, 1))}
    for i in range(permutations):
        shuffled = rng.permutation(unit_now)[unit]  # whole conversations change week
        for d in (1, -1):
            if live[d]:
                null[d][i, 0] = min((g.p for g in _groups(pool, shuffled, d, min_volume)), default=1.0)
        if live[1]:
            null[1][i, 1] = _best_ball_p(pool, shuffled, min_volume, tails)
    for d in (1, -1):
        for g, f in zip(groups[d], _family_p(null[d], 0, [g.p for g in groups[d]]), strict=True):
            g.family_p = float(f)
    found = {d: sorted(groups[d], key=lambda g: (g.family_p, g.p)) for d in (1, -1)}
    if live[1] and len(balls):
        family = _family_p(null[1], 1, balls[:, 4])
        for i in np.lexsort((balls[:, 4], family)):
            if family[i] > ALPHA:
                break
            centre, k, x, total, p = balls[i, 0:4].astype(int).tolist() + [float(balls[i, 4])]
            rows = ball[centre, :k]
            before = total - x
            expected = before * share / (1 - share)
            found[1].append(Shift(rows, 1, x, before, expected, p, float(family[i]), int(now[rows].sum())))
    out = []
    for d in (1, -1):
        used = np.zeros(len(nn), dtype=bool)
        for shift in found[d]:
            if shift.family_p <= ALPHA and not used[shift.rows].any():
                used[shift.rows] = True
                out.append(shift)
    return out


def scan_weeks(
    X: np.ndarray,
    week_of: np.ndarray,
    message_ids: np.ndarray,
    weeks: list[int],
    min_volume: int,
    seed: int,
    conversation_of: np.ndarray | None = None,
) -> pd.DataFrame:
    """The significant shifts of each week in ``weeks`` (week ordinals, as ``week_of``), one row per
    member message: week ordinal, shift number, direction, the group's counts (this week's messages
    and conversations, the earlier weeks' conversations, the conversations expected) and p-values, and
    how many of the message's neighbours are this week's (what orders its typical messages). A week is
    scanned only with a full ``BASELINE_WEEKS`` of earlier weeks. ``conversation_of``: each message's
    conversation (none: each message its own); a conversation's messages of different weeks count in
    each of them."""
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
        units = None
        if conversation_of is not None:
            of_pool = [np.asarray(conversation_of)[pool], week_of[pool]]
            units = pd.MultiIndex.from_arrays(of_pool).factorize()[0]
        nn = neighbours(X[pool])
        hits = now[nn[:, :K]].sum(axis=1)
        for number, g in enumerate(scan(nn, now, min_volume, seed + week, conversations=units)):
            rows.append(
                pd.DataFrame(
                    {
                        "week": week,
                        "shift": number,
                        "direction": "up" if g.direction > 0 else "down",
                        "message_id": np.asarray(message_ids)[pool[g.rows]],
                        "this_week": now[g.rows].astype(bool),
                        "neighbours_now": hits[g.rows],
                        "messages": g.messages,
                        "conversations": g.now,
                        "before": g.before,
                        "expected": g.expected,
                        "p_value": g.p,
                        "family_p": g.family_p,
                    }
                )
            )
    columns = [
        "week", "shift", "direction", "message_id", "this_week", "neighbours_now", "messages",
        "conversations", "before", "expected", "p_value", "family_p",
    ]  # fmt: skip
    return pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)
