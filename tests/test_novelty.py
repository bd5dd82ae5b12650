"""New themes: a cluster of new messages is a new topic only if it is distinct and was not seen before."""

import numpy as np

from pipeline import novelty


def _around(center, n, rng, noise=0.15):
    v = np.asarray(center, dtype=float) + rng.normal(0, noise, size=(n, len(center)))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def _judge(members, earlier, known, others):
    nn = lambda m: (m @ earlier.T).max(axis=1)  # noqa: E731
    best = novelty.earlier_best(earlier, known)
    centroid = members.mean(axis=0) / np.linalg.norm(members.mean(axis=0))
    return novelty.check(
        members, known, earlier @ centroid, best, 4, 0.55, nn(members), nn(others), n_candidates=3
    )


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
            members, known, earlier @ centroid, best, 4, 0.55, nn(members), nn(others), 3, bar
        )

    fresh = judge(lean(_around(basis[5], 12, rng)))
    assert fresh.nearest_topic_similarity > novelty.CENTROID_MATCH  # a fixed bar would miss it
    assert fresh.distinct and fresh.novel
    same = judge(lean(_around(basis[2], 12, rng)))
    assert not same.distinct and not same.novel


def test_the_bar_needs_three_known_topics():
    two = np.eye(4)[:2]
    assert novelty.distinct_bar(two) == novelty.CENTROID_MATCH
