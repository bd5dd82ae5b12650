"""New themes: a cluster of new messages is a new topic when nothing like it came before (its region was
near-absent and now holds significantly more); a distinct one that was there before is a re-cut."""

import numpy as np

from pipeline import novelty


def _around(center, n, rng, noise=0.15):
    v = np.asarray(center, dtype=float) + rng.normal(0, noise, size=(n, len(center)))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _centroid(members):
    return members.mean(axis=0) / np.linalg.norm(members.mean(axis=0))


def _judge(members, earlier, known, others, weeks=4, n_candidates=3, bar=novelty.CENTROID_MATCH):
    """The run's verdict on ``members`` (a cluster of the new messages; ``others``: the rest of them)."""
    c = _centroid(members)
    area = novelty.region(members @ c, np.vstack([members, others]) @ c, earlier @ c, weeks)
    best = novelty.earlier_best(earlier, known)
    nn = lambda m: (m @ earlier.T).max(axis=1)  # noqa: E731
    return novelty.check(
        members,
        known,
        earlier @ c,
        best,
        weeks,
        0.55,
        area,
        nn(members),
        nn(others),
        n_candidates,
        bar,
    )


def test_a_cluster_unlike_anything_before_is_a_new_theme():
    rng = np.random.default_rng(0)
    dim = 16
    a, b, c = np.eye(dim)[0], np.eye(dim)[1], np.eye(dim)[2]
    earlier = np.vstack([_around(a, 60, rng), _around(b, 60, rng)])
    known = np.vstack([a, b])
    others = np.vstack([_around(a, 20, rng), _around(b, 20, rng)])
    fresh = _judge(_around(c, 12, rng), earlier, known, others)
    assert fresh.distinct and fresh.novel and fresh.earlier_per_week < 1
    assert fresh.region.before_per_week == 0 and fresh.region.p_up < 0.01 and fresh.p_seen < 0.01


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
    assert hidden.earlier_per_week >= 1 and hidden.region.before_per_week >= 1


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
        return _judge(members, earlier, known, lean(_around(basis[0], 20, rng)), bar=bar)

    fresh = judge(lean(_around(basis[5], 12, rng)))
    assert fresh.nearest_topic_similarity > novelty.CENTROID_MATCH  # a fixed bar would miss it
    assert fresh.distinct and fresh.novel
    same = judge(lean(_around(basis[2], 12, rng)))
    assert not same.distinct and not same.novel


def test_the_bar_needs_three_known_topics():
    two = np.eye(4)[:2]
    assert novelty.distinct_bar(two) == novelty.CENTROID_MATCH


def test_a_new_request_beside_a_known_topic_is_new_when_nothing_like_it_came_before():
    """MASSIVE "set a calendar event" appearing beside "calendar query": its centroid is nearer that
    topic than known topics are to each other (not distinct by the bar), but no earlier message is like
    its messages, so it is a new theme; the same cluster with earlier paraphrases is not."""
    rng = np.random.default_rng(4)
    dim = 16
    basis = np.eye(dim)
    query, set_ = basis[0], basis[0] + 0.9 * basis[1]  # siblings: centroids at cosine ~0.74
    known_dirs = [query, basis[4], basis[5], basis[6]]
    earlier = np.vstack([_around(d / np.linalg.norm(d), 40, rng, noise=0.1) for d in known_dirs])
    known = np.vstack([_centroid(earlier[i * 40 : (i + 1) * 40]) for i in range(4)])
    bar = 0.2  # known topics this far apart: the sibling is not distinct
    members = _around(set_ / np.linalg.norm(set_), 12, rng, noise=0.1)
    others = _around(basis[4], 30, rng, noise=0.1)
    fresh = _judge(members, earlier, known, others, bar=bar)
    assert not fresh.distinct and fresh.novel
    assert fresh.nearest_topic_similarity > bar
    seen = np.vstack([earlier, _around(set_ / np.linalg.norm(set_), 16, rng, noise=0.1)])  # 4 a week
    again = _judge(members, seen, known, others, bar=bar)
    assert not again.novel and again.region.before_per_week >= 1


def test_the_region_test_scales_with_the_week_volume():
    """A region's count is judged against the earlier weeks' rate times this run's volume: a theme at
    its usual rate is not new, nor is one that doubled in a week with twice the messages."""
    member = np.full(10, 0.9)

    def region(now, new_total, before, earlier_total):
        new_sim = np.r_[np.full(now, 0.95), np.zeros(new_total - now)]
        return novelty.region(
            member, new_sim, np.r_[np.full(before, 0.95), np.zeros(earlier_total - before)], 4
        )

    steady = region(10, 100, 40, 400)  # 10 a week before and now
    assert steady.before_per_week == 10 and steady.p_up > 0.4
    busy = region(20, 200, 40, 400)  # twice the messages in a twice-as-busy week
    assert busy.p_up > 0.4
    surge = region(30, 100, 40, 400)  # three times the rate
    assert surge.p_up < 0.01
    new = region(10, 100, 0, 400)
    assert new.before_per_week == 0 and new.p_up < 1e-5
