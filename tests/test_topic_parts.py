"""Parts of topics: the finer units the weekly status test also checks (pipeline.topic_parts)."""

import numpy as np

from pipeline.topic_parts import MAX_PARTS, NO_PART, cut_topics, parts_per_topic


def _directions(rng, n_groups: int, dim: int = 32) -> np.ndarray:
    return np.linalg.qr(rng.normal(size=(dim, dim)))[0][:n_groups]


def _around(rng, centre: np.ndarray, n: int, spread: float = 0.15) -> np.ndarray:
    v = centre + spread * rng.normal(size=(n, len(centre))) / np.sqrt(len(centre))
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_parts_are_sized_so_the_status_rule_can_call_them():
    assert parts_per_topic(9.9, 5) == 0  # one part would be the topic itself
    assert parts_per_topic(10, 5) == 2
    assert parts_per_topic(34, 5) == 6
    assert parts_per_topic(10_000, 5) == MAX_PARTS


def test_a_topic_is_cut_along_what_its_messages_say_and_small_topics_are_left_whole():
    rng = np.random.default_rng(0)
    d = _directions(rng, 3)
    # topic 0: two different requests, 30 and 20 messages a week for 4 weeks; topic 1: 6 a week; outliers
    X = np.vstack(
        [_around(rng, d[0], 120), _around(rng, d[1], 80), _around(rng, d[2], 24), _around(rng, d[2], 5)]
    )
    topics = np.array([0] * 200 + [1] * 24 + [-1] * 5)
    weeks = np.concatenate([np.arange(120) % 4, np.arange(80) % 4, np.arange(24) % 4, np.zeros(5, int)])
    part, sim = cut_topics(X, topics, weeks, min_volume=5, seed=1)

    assert (part[200:] == NO_PART).all()  # 6 a week: too small to cut; outliers are in no topic
    assert len(np.unique(part[:200])) == MAX_PARTS  # 50 a week -> 10, capped
    first, second = set(part[:120]), set(part[120:200])
    assert not first & second  # no part mixes the two requests
    assert np.all(sim[:200] > 0.8)  # each message's cosine to its part's centre


def test_part_ids_are_unique_across_topics_and_the_cut_is_reproducible():
    rng = np.random.default_rng(2)
    d = _directions(rng, 2)
    X = np.vstack([_around(rng, d[0], 100), _around(rng, d[1], 100)])
    topics = np.array([3] * 100 + [7] * 100)
    weeks = np.arange(200) % 5
    part, _ = cut_topics(X, topics, weeks, min_volume=5, seed=42)
    assert not set(part[:100]) & set(part[100:])
    again, _ = cut_topics(X, topics, weeks, min_volume=5, seed=42)
    assert (part == again).all()
