"""New themes: a cluster of new messages is a new topic only if it is distinct and was not seen before."""

import numpy as np

from pipeline import novelty


def _around(center, n, rng, noise=0.15):
    v = np.asarray(center, dtype=float) + rng.normal(0, noise, size=(n, len(center)))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _area(members, earlier, others, weeks=4):
    """The candidate's region, measured as the run measures it (members held out)."""
    centroid = members.mean(axis=0) / np.linalg.norm(members.mean(axis=0))
    held_out = novelty.held_out_similarity(members)
    return novelty.region(held_out, np.r_[held_out, others @ centroid], earlier @ centroid, weeks)


def _judge(members, earlier, known, others):
    nn = lambda m: (m @ earlier.T).max(axis=1)  # noqa: E731
    best = novelty.earlier_best(earlier, known)
    centroid = members.mean(axis=0) / np.linalg.norm(members.mean(axis=0))
    return novelty.check(
        members, known, earlier @ centroid, best, 4, 0.55, nn(members), nn(others), n_candidates=3,
        area=_area(members, earlier, others),
    )  # fmt: skip


def test_a_cluster_unlike_anything_before_is_a_new_theme():
    rng = np.random.default_rng(0)
    dim = 16
    a, b, c = np.eye(dim)[0], np.eye(dim)[1], np.eye(dim)[2]
    earlier = np.vstack([_around(a, 60, rng), _around(b, 60, rng)])
    known = np.vstack([a, b])
    others = np.vstack([_around(a, 20, rng), _around(b, 20, rng)])
    fresh = _judge(_around(c, 12, rng), earlier, known, others)
    assert fresh.distinct and fresh.novel and fresh.p_seen < 0.01 and fresh.earlier_per_week < 1


def test_a_recurring_theme_is_not_new_even_when_no_topic_matches_it():
    rng = np.random.default_rng(1)
    dim = 16
    a, b, c = np.eye(dim)[0], np.eye(dim)[1], np.eye(dim)[2]
    # theme c was there before, hidden as a part of broad topics (no centroid of its own)
    earlier = np.vstack([_around(a, 60, rng), _around(b, 60, rng), _around(c, 40, rng)])
    known = np.vstack([a, b])
    others = np.vstack([_around(a, 20, rng), _around(b, 20, rng)])
    hidden = _judge(_around(c, 12, rng), earlier, known, others)
    assert hidden.distinct and not hidden.novel  # distinct, but seen before: a split, not an emergence
    assert hidden.earlier_per_week >= 1


def test_a_sample_of_a_known_topic_is_neither():
    rng = np.random.default_rng(2)
    dim = 16
    a, b = np.eye(dim)[0], np.eye(dim)[1]
    earlier = np.vstack([_around(a, 60, rng), _around(b, 60, rng)])
    known = np.vstack([a, b])
    same = _judge(_around(a, 12, rng), earlier, known, _around(b, 20, rng))
    assert not same.distinct and not same.novel


def test_the_distinctness_bar_follows_how_far_apart_the_encoder_puts_known_topics():
    """multilingual-e5-small puts any two messages at cosine ~0.8 and distinct intents' centroids
    above 0.95: a fixed bar of 0.8 would call every new cluster a known topic. The bar the known
    topics set (their median similarity to their nearest neighbour) still tells a new one apart."""
    rng = np.random.default_rng(3)
    dim = 16
    basis = np.eye(dim)
    common = 4.0 * basis[15]  # the direction every vector of this encoder shares
    lean = lambda v: (v + common) / np.linalg.norm(v + common, axis=-1, keepdims=True)  # noqa: E731
    # known topics come in pairs of close siblings, as intents do (card arrival / card delivery)
    centres = [basis[0], basis[0] + 0.5 * basis[1], basis[2], basis[2] + 0.5 * basis[3]]
    groups = [lean(_around(c / np.linalg.norm(c), 40, rng)) for c in centres]
    earlier = np.vstack(groups)
    known = np.vstack([g.mean(axis=0) / np.linalg.norm(g.mean(axis=0)) for g in groups])
    assert (known @ known.T).min() > 0.9  # raw: every known topic looks like every other
    bar = novelty.distinct_bar(known)
    assert bar > novelty.CENTROID_MATCH

    def judge(members):
        nn = lambda m: (m @ earlier.T).max(axis=1)  # noqa: E731
        centroid = members.mean(axis=0) / np.linalg.norm(members.mean(axis=0))
        others = lean(_around(basis[0], 20, rng))
        best = novelty.earlier_best(earlier, known)
        return novelty.check(
            members, known, earlier @ centroid, best, 4, 0.55, nn(members), nn(others), 3, bar,
            area=_area(members, earlier, others),
        )  # fmt: skip

    fresh = judge(lean(_around(basis[5], 12, rng)))
    assert fresh.nearest_topic_similarity > novelty.CENTROID_MATCH  # a fixed bar would miss it
    assert fresh.distinct and fresh.novel
    same = judge(lean(_around(basis[2], 12, rng)))
    assert not same.distinct and not same.novel


def test_the_bar_needs_three_known_topics():
    two = np.eye(4)[:2]
    assert novelty.distinct_bar(two) == novelty.CENTROID_MATCH


def _judge_uncovered(members, earlier, known, others, outlier_share, bar, weeks=4):
    """The run's verdict on a cluster most of whose messages (``outlier_share``) no topic holds."""
    nn = lambda m: (m @ earlier.T).max(axis=1)  # noqa: E731
    best = novelty.earlier_best(earlier, known)
    centroid = members.mean(axis=0) / np.linalg.norm(members.mean(axis=0))
    return novelty.check(
        members, known, earlier @ centroid, best, weeks, 0.55, nn(members), nn(others), 3, bar,
        outlier_share, _area(members, earlier, others, weeks),
    )  # fmt: skip


def _loose(direction, spread, rng):
    """Short, loose messages about ``direction``: each adds a word of its own (an axis of ``spread``)."""
    v = (
        direction[None, :]
        + 1.2 * np.eye(len(direction))[spread]
        + rng.normal(0, 0.03, (len(spread), len(direction)))
    )
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _calendar_event_geometry(seed):
    """Known topics a and b (tight), and a request t beside a: cos(t, a) = 0.6. Known topics on this
    encoder are 0.45 from their nearest neighbour (the bar)."""
    rng = np.random.default_rng(seed)
    dim = 64
    E = np.eye(dim)
    a, b = E[0], E[1]
    t = (0.6 * a + 0.8 * E[2]) / np.linalg.norm(0.6 * a + 0.8 * E[2])
    earlier = np.vstack([_around(a, 60, rng), _around(b, 60, rng)])
    others = np.vstack([_around(a, 20, rng), _around(b, 20, rng)])
    return rng, t, a, earlier, np.vstack([a, b]), others


def test_a_new_request_the_nearest_topic_leaves_out_is_new_though_its_centroid_is_near():
    """MASSIVE-en seed 5's "set a calendar event": 16 short, loose messages whose centroid sat 0.58 from
    "calendar query" (over the bar of 0.45) while that topic took none of them: they stayed outliers,
    unflagged. A centroid of loose messages is nearer other centroids than its members are."""
    rng, t, a, earlier, known, others = _calendar_event_geometry(4)
    members = _loose(t, range(4, 16), rng)
    centroid = members.mean(axis=0) / np.linalg.norm(members.mean(axis=0))
    assert float(centroid @ a) > 0.45  # "matches" topic a by its centroid
    assert (members @ a).max() < 0.55  # while a takes none of its messages
    left_out = _judge_uncovered(members, earlier, known, others, outlier_share=1.0, bar=0.45)
    assert not left_out.distinct and left_out.uncovered and left_out.novel
    assert left_out.region.before_per_week < 1 and left_out.region.p_up < 0.01
    taken = _judge_uncovered(members, earlier, known, others, outlier_share=0.2, bar=0.45)
    assert not taken.uncovered and not taken.novel  # topic a holds them: a part of a known topic


def test_a_recurring_group_of_outliers_is_not_new():
    """Loose messages are far from their nearest earlier neighbour even when the request recurs, so the
    nearest-paraphrase test alone would call them new every week (87 clusters of steady requests on
    the ten MASSIVE-en scenarios); their region held as many before."""
    rng, t, a, earlier, known, others = _calendar_event_geometry(5)
    before = _loose(t, range(16, 56), rng)  # ten a week in the four earlier weeks
    again = _judge_uncovered(
        _loose(t, range(4, 16), rng), np.vstack([earlier, before]), known, others, 1.0, bar=0.45
    )
    assert again.p_seen < 0.01  # fooled: its nearest earlier neighbours are as far as a new request's
    assert again.uncovered and not again.novel
    assert again.region.before_per_week >= 1 and again.region.p_up > 0.05


def _e5_like(direction, n, rng, noise=0.025):
    """Messages the way multilingual-e5-small places them: every one near a common direction."""
    common = np.eye(16)[15]
    return _around(common + 0.35 * np.asarray(direction, dtype=float), n, rng, noise)


def test_a_new_request_beside_a_known_one_gathers_as_newcomers():
    """Seven weeks of two requests, then a week in which a third, close to the first, appears: its
    messages' nearest neighbours are each other, not earlier messages, and they make one group."""
    rng = np.random.default_rng(7)
    a, b = np.eye(16)[0], np.eye(16)[1]
    near_a = a + 0.4 * np.eye(16)[2]
    earlier = np.vstack([_e5_like(a, 140, rng), _e5_like(b, 140, rng)])
    new = np.vstack([_e5_like(a, 20, rng), _e5_like(b, 20, rng), _e5_like(near_a, 12, rng)])
    assert float(near_a @ a / np.linalg.norm(near_a)) > 0.9  # a sibling of a known request
    groups = novelty.newcomer_groups(new, earlier, len(new), min_size=5)
    assert len(groups) == 1
    members, request = set(groups[0].tolist()), set(range(40, 52))
    assert len(members & request) > 6 and len(members - request) <= 1  # most of it, little else


def test_a_steady_week_has_no_newcomers():
    rng = np.random.default_rng(8)
    a, b, c = np.eye(16)[0], np.eye(16)[1], np.eye(16)[2]
    earlier = np.vstack([_e5_like(a, 140, rng), _e5_like(b, 140, rng), _e5_like(c, 70, rng)])
    new = np.vstack([_e5_like(a, 20, rng), _e5_like(b, 20, rng), _e5_like(c, 10, rng)])
    assert novelty.newcomer_groups(new, earlier, len(new), min_size=5) == []


def test_a_loose_request_no_topic_holds_is_not_new_because_it_is_far_from_every_topic():
    """MASSIVE-en's "what is the definition of ..." on MiniLM: loose messages, mostly outliers, so a
    week's cluster of them is far from every known topic (distinct) and from its own earlier
    paraphrases (unseen), and was made a new theme, flagged emerging, week after week. Its region held
    as many of them before."""
    rng, t, a, earlier, known, others = _calendar_event_geometry(6)
    t = np.eye(64)[3]  # far from both known topics
    before = _loose(t, range(16, 56), rng)  # ten a week in the four earlier weeks
    members = _loose(t, range(4, 16), rng)
    again = _judge_uncovered(members, np.vstack([earlier, before]), known, others, 1.0, bar=0.45)
    assert again.distinct and again.p_seen < 0.01  # both tests of the distinct route passed
    assert not again.novel and again.region.before_per_week >= 1
    fresh = _judge_uncovered(members, earlier, known, others, 1.0, bar=0.45)
    assert fresh.distinct and fresh.novel and fresh.region.p_up < 0.01


def _rises_of(rates, seed, labels_of):
    """A real week-4 scan (``local_shifts.scan_weeks``) of synthetic requests, and what
    ``uncovered_rises`` makes of it with each message's topic given by ``labels_of(request)``."""
    from pipeline import local_shifts
    from tests.test_local_shifts import _pool

    rng = np.random.default_rng(seed)
    X, weeks, requests = _pool(rates, rng)
    ids = np.asarray([f"m{i}" for i in range(len(X))])
    shifts = local_shifts.scan_weeks(X, weeks, ids, [4], min_volume=5, seed=seed)
    labels = np.asarray([labels_of(r) for r in requests])
    rises = novelty.uncovered_rises(shifts, ids, weeks == 4, labels, min_size=5)
    return rises, requests, shifts


STEADY = {r: [20, 19, 21, 20, 20] for r in range(0, 8)}


def test_a_new_request_left_in_no_topic_is_a_rise_for_a_new_topic():
    """MASSIVE-en seed 11's "currency" requests: new in week 8, 7 messages, every one an outlier, so
    no topic carried the local rise that found them and the week's brief said nothing."""
    rates = {**STEADY, 9: [0, 0, 0, 0, 12]}
    rises, requests, _ = _rises_of(rates, 11, lambda r: -1 if r == 9 else r // 2)
    assert len(rises) == 1
    rows, p = rises[0]
    assert p <= 0.01 and len(rows) >= 10 and (requests[rows] == 9).all()


def test_a_rise_a_topic_holds_is_that_topics_not_a_new_one():
    rates = {**STEADY, 9: [0, 0, 0, 0, 12]}
    rises, _, shifts = _rises_of(rates, 11, lambda r: r // 2)  # the new request joined a known topic
    # the scan found it; the weekly statistics flag the topic holding it (pipeline.weekly)
    assert (shifts["direction"] == "up").any() and rises == []


def test_a_surge_of_messages_in_no_topic_is_not_a_new_theme():
    """A request that was there every week and quadruples is no new theme, topic or not."""
    rates = {**STEADY, 9: [8, 7, 9, 8, 32]}
    rises, _, shifts = _rises_of(rates, 12, lambda r: -1 if r == 9 else r // 2)
    up = shifts[shifts["direction"] == "up"]
    assert len(up) and up["before"].iloc[0] > 20  # the scan found the surge: 41 of its messages earlier
    assert rises == []


def test_a_region_counts_conversations_each_once():
    """A request seen before (12 earlier messages over 4 weeks, 2 of them in the candidate's region),
    and this week a cluster of 12 messages, 6 of them in its region (the median member's similarity
    draws it): from twelve customers the region grew; from three customers writing four each, those
    6 are 3 conversations, within what the earlier weeks give, each conversation counted once as the
    status rule counts them."""
    rng = np.random.default_rng(5)
    dim = 16
    a, b, c = np.eye(dim)[0], np.eye(dim)[1], np.eye(dim)[2]
    earlier = np.vstack([_around(a, 60, rng), _around(b, 60, rng), _around(c, 12, rng)])
    others = np.vstack([_around(a, 20, rng), _around(b, 20, rng)])
    members = _around(c, 12, rng)
    centroid = members.mean(axis=0) / np.linalg.norm(members.mean(axis=0))
    held_out = novelty.held_out_similarity(members)
    new_sim, earlier_sim = np.r_[held_out, others @ centroid], earlier @ centroid
    earlier_of = np.arange(len(earlier))
    apart = np.arange(len(new_sim)) + 1000
    together = apart.copy()
    together[:12] = 2000 + np.arange(12) // 4  # three customers, four messages each
    by_twelve = novelty.region(held_out, new_sim, earlier_sim, 4, novelty.Voices.of(apart, earlier_of))
    by_three = novelty.region(held_out, new_sim, earlier_sim, 4, novelty.Voices.of(together, earlier_of))
    assert by_twelve == novelty.region(held_out, new_sim, earlier_sim, 4)  # one message each: as before
    assert by_twelve.now == 6 and by_twelve.p_up < 0.01
    assert by_three.now == 3 and by_three.p_up > 0.05
