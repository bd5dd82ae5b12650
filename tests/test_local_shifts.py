"""Local shifts: a surge or a stop among near-identical requests is found from the messages'
neighbours, without topics; a steady pool gives none."""

import numpy as np
import pandas as pd
import pytest

from bench.shift_null import clumped_pool
from pipeline import local_shifts, topic_update
from pipeline.store import Store
from pipeline.weekly import compute_weekly
from tests.test_weekly import MONDAY, _store_with_counts

DIM = 24


def _request(direction: np.ndarray, n: int, rng, noise: float = 0.06) -> np.ndarray:
    v = direction + rng.normal(0, noise, (n, DIM))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _pool(
    rates: dict[int, list[int]], rng, apart: dict[int, float] | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Vectors, week ordinals and request ids for requests with the given count per week. Requests
    2k and 2k+1 are siblings (centroid cosine ~0.9 at the default 0.45 apart; ``apart`` sets it for
    some odd requests): one topic would hold both."""
    base = np.eye(DIM)
    vectors, weeks, requests = [], [], []
    for request, per_week in rates.items():
        step = (apart or {}).get(request, 0.45)
        direction = base[request // 2] + (step * base[12 + request // 2] if request % 2 else 0)
        direction = direction / np.linalg.norm(direction)
        for week, n in enumerate(per_week):
            vectors.append(_request(direction, n, rng))
            weeks += [week] * n
            requests += [request] * n
    return np.vstack(vectors).astype(np.float32), np.asarray(weeks), np.asarray(requests)


def _shifts(rates, seed, apart=None):
    rng = np.random.default_rng(seed)
    X, weeks, requests = _pool(rates, rng, apart)
    ids = np.asarray([f"m{i}" for i in range(len(X))])
    table = local_shifts.scan_weeks(X, weeks, ids, [4], min_volume=5, seed=seed)
    table["request"] = table["message_id"].map(dict(zip(ids, requests, strict=True)))
    return table


def test_a_surge_and_a_stop_beside_steady_siblings_are_found_as_groups():
    steady = {r: [30, 29, 31, 30, 30] for r in range(2, 10)}
    rates = {0: [8, 7, 9, 8, 32], 1: [30, 31, 29, 30, 30], 10: [12, 11, 13, 12, 0], 11: [30, 30, 29, 31, 30]}
    table = _shifts({**steady, **rates}, seed=3)
    groups = table.groupby(["direction", "shift"])
    assert groups.ngroups == 2
    up = table[table.direction == "up"]
    down = table[table.direction == "down"]
    # the surging request is the group's this-week side, its sibling is not
    assert (up[up.this_week].request == 0).mean() > 0.8 and len(up[up.this_week]) >= 20
    assert (up.family_p <= local_shifts.ALPHA).all() and up.messages.iloc[0] >= 20
    # the stopped request is the group's earlier side, and nothing of it is left this week
    assert (down[~down.this_week].request == 10).mean() > 0.8 and down.messages.iloc[0] <= 2
    assert down.expected.iloc[0] >= 5


@pytest.mark.parametrize("seed", [0, 3, 5])
def test_a_new_request_beside_a_surging_one_is_a_group_of_its_own(seed):
    """Requests 0 (surging) and 1 (new this week) sit side by side (centroid cosine ~0.8): a few of
    their messages have one another among their neighbours one way only, which chained them into one
    group before the links had to be mutual; one group would flag one topic for both."""
    rates = {0: [8, 7, 9, 8, 32], 1: [0, 0, 0, 0, 14], **{r: [30, 29, 31, 30, 30] for r in range(2, 10)}}
    table = _shifts(rates, seed, apart={1: 0.8})
    up = table[(table.direction == "up") & table.this_week]
    held = [g.request.value_counts(normalize=True) for _, g in up.groupby("shift")]
    assert len(held) == 2
    assert sorted(h.index[0] for h in held) == [0, 1] and all(h.iloc[0] >= 0.9 for h in held)
    assert table[table.direction == "down"].empty


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_steady_pool_has_no_shift(seed):
    rng = np.random.default_rng(100 + seed)
    rates = {r: list(rng.poisson(20, 5)) for r in range(12)}
    assert _shifts(rates, seed).empty


def test_a_week_without_a_full_baseline_is_not_scanned():
    rates = {0: [8, 8, 8, 32], 1: [30, 30, 30, 30]}
    rng = np.random.default_rng(0)
    X, weeks, _ = _pool(rates, rng)
    ids = np.asarray([f"m{i}" for i in range(len(X))])
    assert local_shifts.scan_weeks(X, weeks, ids, [3], min_volume=5, seed=0).empty


def _with_shift(tmp_path, direction: str, topic: int, week: int, members: list[str], now: int) -> Store:
    counts = {
        0: [128, 127, 128, 127, 128, 150],
        1: [132, 132, 131, 133, 130, 120],
        2: [60, 61, 59, 60, 60, 60],
    }
    store = _store_with_counts(tmp_path, counts)
    monday = (MONDAY + pd.Timedelta(weeks=week)).date()
    rows = pd.DataFrame(
        {
            "week": monday,
            "direction": direction,
            "shift": 0,
            "message_id": members,
            "this_week": [m.split("-w")[1].startswith(f"{week}-") for m in members],
            "neighbours_now": list(range(len(members), 0, -1)),
            "messages": now,
            "before": len(members) - now,
            "expected": 7.5,
            "p_value": 1e-6,
            "family_p": 0.005,
            "run_id": "r",
        }
    )
    store.upsert("week_shifts", rows)
    return store


def test_a_shift_flags_the_topic_holding_most_of_it_and_shows_its_messages(tmp_path):
    """The totals alone leave topic 0 stable (150 vs ~128); the group that rose inside it flags it."""
    members = [f"t0-w5-{i}" for i in range(30)] + [f"t0-w{w}-{i}" for w in range(1, 5) for i in range(8)]
    table = compute_weekly(_with_shift(tmp_path, "up", 0, 5, members + ["t2-w5-0", "t2-w5-1"], 32))
    last = table[table.week == table.week.max()].set_index("topic_id")
    assert last.loc[0, "status"] == "growing" and last.loc[0, "part_messages"] == 32
    assert last.loc[0, "p_value"] == pytest.approx(0.005) and last.loc[0, "part_expected"] == 7.5
    # its typical messages are this week's, those with most neighbours this week first
    assert __import__("json").loads(last.loc[0, "part_message_ids"])[:2] == ["t0-w5-0", "t0-w5-1"]
    assert last.loc[2, "status"] == "stable" and last.loc[1, "status"] == "stable"


def test_a_fall_is_given_to_the_topic_holding_its_earlier_messages(tmp_path):
    members = [f"t1-w{w}-{i}" for w in range(1, 5) for i in range(12)] + ["t1-w5-0"]
    table = compute_weekly(_with_shift(tmp_path, "down", 1, 5, members, 1))
    last = table[table.week == table.week.max()].set_index("topic_id")
    assert last.loc[1, "status"] == "declining" and last.loc[1, "part_messages"] == 1
    assert (last.drop(index=1)["status"] == "stable").all()


def test_a_run_scans_the_weeks_its_new_messages_fall_in_cut_as_the_weekly_table_cuts_them(tmp_path):
    """Week 5's messages are new: week 5 is scanned (weeks 0-4 are its baseline), earlier weeks are
    left as earlier runs found them; the surge inside topic 0 is found, dated by its Monday."""
    counts = {0: [8, 7, 9, 8, 8, 32], 1: [30, 31, 29, 30, 30, 30], 2: [30, 30, 29, 31, 30, 30]}
    store = _store_with_counts(tmp_path, counts)
    rng = np.random.default_rng(5)
    base = np.eye(DIM)
    ids, vectors, weeks = [], [], []
    for topic, per_week in counts.items():
        direction = base[0] + (0.45 * base[12] if topic == 1 else 0) if topic < 2 else base[3]
        for week, n in enumerate(per_week):
            ids += [f"t{topic}-w{week}-{i}" for i in range(n)]
            vectors.append(_request(direction / np.linalg.norm(direction), n, rng))
            weeks += [week] * n
    ids, X = np.asarray(ids), np.vstack(vectors).astype(np.float32)
    new = np.asarray(weeks) == 5
    scanned, shifts = topic_update.week_shifts(store, ids, X, new, 0, "run-1")
    monday = (MONDAY + pd.Timedelta(weeks=5)).date()
    assert scanned == [monday]
    up = shifts[(shifts.direction == "up") & shifts.this_week]
    assert set(shifts["week"]) == {monday} and len(up) >= 20
    assert up["message_id"].str.startswith("t0-w5-").mean() > 0.8
    # nothing new in week 5: nothing scanned (its shifts stay as the run that loaded it found them)
    assert topic_update.week_shifts(store, ids, X, np.zeros(len(ids), bool), 0, "run-2")[0] == []


def test_a_week_scanned_again_gives_the_same_shifts_whatever_else_is_scanned(monkeypatch):
    """Pools over ``POOL_SAMPLE`` are drawn at random: the draw is the week's own, so a re-fit that
    rescans every week writes what the week's first scan wrote."""
    monkeypatch.setattr(local_shifts, "POOL_SAMPLE", 250)  # weeks 4 and 5 are both drawn
    rates = {0: [8, 7, 9, 8, 8, 40], 1: [30, 31, 29, 30, 30, 30], 2: [30, 30, 31, 29, 30, 30]}
    X, weeks, _ = _pool(rates, np.random.default_rng(4))
    ids = np.asarray([f"m{i}" for i in range(len(X))])
    alone = local_shifts.scan_weeks(X, weeks, ids, [5], min_volume=5, seed=1)
    together = local_shifts.scan_weeks(X, weeks, ids, [4, 5], min_volume=5, seed=1)
    assert not alone.empty
    pd.testing.assert_frame_equal(alone, together[together.week == 5].reset_index(drop=True))


def test_a_surge_among_a_sibling_requests_messages_is_found_over_its_neighbourhood():
    """Request 0 quadruples beside a steady sibling it nearly overlaps (centroid cosine ~0.98): most of
    its messages have only a few more neighbours this week than chance and pass alone too rarely to
    link into a group, but the balls around them hold this week's messages far above the pool's
    share. Over ten draws (the groups alone find it in six), it is found in nine or more, and
    nothing else is."""
    rates = {0: [10, 9, 11, 10, 40], 1: [30] * 5, **{r: [30, 29, 31, 30, 30] for r in range(2, 10)}}
    found = 0
    for seed in range(10):
        table = _shifts(rates, seed, apart={1: 0.2})
        up = table[(table.direction == "up") & table.this_week]
        held = [(g.request == 0).mean() for _, g in up.groupby("shift")]
        found += any(h >= 0.6 for h in held)
        assert all(h >= 0.5 for h in held) and table[table.direction == "down"].empty
    assert found >= 9


def _with_one_customer(repeats: int, one_conversation: bool, seed: int) -> pd.DataFrame:
    """A steady pool, and ``repeats`` messages of one complaint this week unlike anything before,
    written in one conversation or in as many."""
    rng = np.random.default_rng(seed)
    X, weeks, requests = _pool({r: [30, 29, 31, 30, 30] for r in range(10)}, rng)
    complaint = _request(np.eye(DIM)[20], repeats, rng, noise=0.02)
    X = np.vstack([X, complaint]).astype(np.float32)
    weeks = np.concatenate([weeks, np.full(repeats, 4)])
    ids = np.asarray([f"m{i}" for i in range(len(X))])
    conversations = ids.astype(object)
    if one_conversation:
        conversations[-repeats:] = "the-same-customer"
    table = local_shifts.scan_weeks(X, weeks, ids, [4], 5, seed, conversation_of=conversations)
    table["complaint"] = table["message_id"].isin(ids[-repeats:])
    return table


@pytest.mark.parametrize("seed", [0, 1])
def test_one_customer_writing_one_complaint_ten_times_is_not_a_rise(seed):
    """Shifts count conversations, each once, and shuffle whole conversations between weeks: ten
    messages from ten customers are a rise; the same ten from one customer are one conversation, under
    the minimum volume of five. Counted by messages, they were a rise (9 of 10 draws at eight)."""
    apart = _with_one_customer(10, one_conversation=False, seed=seed)
    rise = apart[(apart.direction == "up") & apart.complaint]
    assert len(rise) == 10 and (rise.conversations == 10).all() and (rise.messages == 10).all()
    alone = _with_one_customer(10, one_conversation=True, seed=seed)
    assert not (alone.complaint & (alone.direction == "up")).any()


def test_a_steady_pool_of_conversations_of_several_messages_has_no_shift():
    """Twelve steady requests, each conversation 1-3 messages (50/30/20%) its customer wrote alike
    (``bench.shift_null``). Shuffling messages split each conversation over weeks, so a customer's
    messages, always of one week and close to one another, looked like a change (4 shifts in these
    four steady weeks); shuffling conversations, none."""
    by_messages, by_conversations = 0, 0
    for seed in range(4):
        X, weeks, conversations = clumped_pool(seed, [0.5, 0.3, 0.2], alike=True)
        ids = np.asarray([f"m{i}" for i in range(len(X))])
        by_messages += local_shifts.scan_weeks(X, weeks, ids, [4], 5, seed).groupby("shift").ngroups
        found = local_shifts.scan_weeks(X, weeks, ids, [4], 5, seed, conversation_of=conversations)
        by_conversations += found.groupby("shift").ngroups
    assert by_messages == 4 and by_conversations == 0
