"""Topic identity across re-fits: matched by shared messages, splits and merges recorded, ids never reused."""

import numpy as np
import pandas as pd

from pipeline.drift import drift_report
from pipeline.topic_identity import OUTLIER, UNASSIGNED, match_clusters, resolve_assignments


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def _previous(ids, dim=3):
    return pd.DataFrame(
        {"topic_id": ids, "centroid": [list(_unit(np.eye(dim)[i % dim])) for i in range(len(ids))]}
    )


def test_clusters_keep_the_ids_of_the_topics_whose_messages_they_hold():
    # stored: topic 7 = messages 0-9, topic 3 = messages 10-19; 5 new messages
    old = np.array([7] * 10 + [3] * 10 + [UNASSIGNED] * 5)
    # the re-fit numbers clusters by size: old 3 became cluster 0 (with the new messages), old 7 cluster 1
    fit = np.array([1] * 10 + [0] * 10 + [0] * 5)
    m = match_clusters(old, fit, np.array([0, 1]), np.eye(3)[:2], _previous([3, 7]), highest=9, min_size=3)
    assert m.mapping == {0: 3, 1: 7}
    assert m.created == [] and m.splits == [] and m.merges == []
    nearest = np.array([OUTLIER] * 20 + [3] * 5)
    final = resolve_assignments(old, fit, m, nearest)
    assert list(final[20:]) == [3] * 5  # new messages join their nearest known topic
    assert (final[:20] == old[:20]).all()


def test_a_new_cluster_gets_an_id_above_every_id_used_before():
    old = np.array([0] * 10 + [UNASSIGNED] * 8)
    fit = np.array([0] * 10 + [1] * 8)
    m = match_clusters(old, fit, np.array([0, 1]), np.eye(3)[:2], _previous([0]), highest=12, min_size=3)
    assert m.mapping == {0: 0, 1: 13}
    assert m.created == [13]
    final = resolve_assignments(old, fit, m, np.array([OUTLIER] * 10 + [0] * 8))
    assert list(final[10:]) == [13] * 8  # a created topic takes its cluster's new messages


def test_a_split_within_the_churn_budget_takes_its_messages_along():
    old = np.array([4] * 20 + [9] * 980)
    fit = np.array([0] * 12 + [1] * 8 + [2] * 980)  # 8 of 20 (40%): a split; 8 <= 2% of 1000
    m = match_clusters(old, fit, np.array([2, 0, 1]), np.eye(3), _previous([4, 9]), highest=9, min_size=5)
    assert m.splits == [(4, 10, 1)] and m.mapping[1] == 10
    final = resolve_assignments(old, fit, m, np.full(1000, OUTLIER))
    assert list(final[:20]) == [4] * 12 + [10] * 8 and (final[20:] == 9).all()


def test_a_split_over_the_churn_budget_is_only_suggested():
    old = np.array([4] * 20)
    fit = np.array([0] * 12 + [1] * 8)  # 8 of 20 would move: 40% of all messages, over the 2% budget
    m = match_clusters(old, fit, np.array([0, 1]), np.eye(3)[:2], _previous([4]), highest=4, min_size=5)
    assert m.splits == [] and m.split_suggestions == [(4, 1)] and m.created == []
    assert m.mapping == {0: 4, 1: 4}
    assert list(resolve_assignments(old, fit, m, np.full(20, OUTLIER))) == [4] * 20


def test_a_small_drift_of_members_is_not_a_split_and_messages_stay_put():
    old = np.array([4] * 20 + [UNASSIGNED] * 10)
    fit = np.array([0] * 17 + [1] * 3 + [1] * 10)  # 3 old members wander into a mostly new cluster
    m = match_clusters(old, fit, np.array([0, 1]), np.eye(3)[:2], _previous([4]), highest=4, min_size=5)
    assert m.splits == [] and m.created == [5]
    final = resolve_assignments(old, fit, m, np.array([OUTLIER] * 20 + [4] * 10))
    assert (final[:20] == 4).all()  # already-assigned messages keep their topic
    assert (final[20:] == 5).all()


def test_two_topics_found_as_one_cluster_get_a_merge_suggestion_and_stay_apart():
    old = np.array([2] * 12 + [6] * 8)
    fit = np.zeros(20, dtype=int)
    m = match_clusters(old, fit, np.array([0]), np.eye(3)[:1], _previous([2, 6]), highest=6, min_size=3)
    assert m.mapping == {0: 2}
    assert m.merges == [(6, 2)]
    assert list(resolve_assignments(old, fit, m, np.full(20, OUTLIER))) == list(old)


def test_a_quiet_topic_that_comes_back_is_recognised_by_its_centroid():
    old = np.array([0] * 10 + [UNASSIGNED] * 6)  # topic 1 has no members left in this data
    fit = np.array([0] * 10 + [1] * 6)
    previous = pd.DataFrame(
        {"topic_id": [0, 1], "centroid": [list(_unit([1, 0, 0])), list(_unit([0, 1, 0]))]}
    )
    centroids = np.vstack([_unit([1, 0, 0]), _unit([0.1, 1, 0])])
    m = match_clusters(old, fit, np.array([0, 1]), centroids, previous, highest=1, min_size=3)
    assert m.mapping == {0: 0, 1: 1} and m.revived == [1]


def test_outliers_stay_outliers_unless_a_created_topic_takes_them():
    old = np.array([0] * 10 + [OUTLIER] * 4)
    fit = np.array([0] * 10 + [0, 0, OUTLIER, OUTLIER])
    m = match_clusters(old, fit, np.array([0]), np.eye(3)[:1], _previous([0]), highest=0, min_size=3)
    assert list(resolve_assignments(old, fit, m, np.full(14, OUTLIER))[10:]) == [OUTLIER] * 4


def test_drift_rule_refits_on_unexplained_messages_or_growth_and_not_otherwise():
    fits = drift_report(np.array([False] * 90 + [True] * 10), 0.12, 1000, unseen=100, min_size=5)
    assert not fits.refit
    new_theme = drift_report(np.array([False] * 70 + [True] * 30), 0.12, 1000, unseen=100, min_size=5)
    assert new_theme.refit and "unexplained" in new_theme.reason
    too_few = drift_report(np.array([False] * 6 + [True] * 4), 0.12, 1000, unseen=10, min_size=5)
    assert not too_few.refit  # 40% unexplained, but 4 messages cannot make a topic
    grown = drift_report(np.zeros(100, dtype=bool), 0.12, 1000, unseen=600, min_size=5)
    assert grown.refit and "unseen" in grown.reason


def test_a_topic_people_merged_into_is_not_split_again_by_a_refit():
    old = np.array([4] * 20)
    fit = np.array([0] * 12 + [1] * 8)  # the re-fit separates what a person merged
    m = match_clusters(
        old,
        fit,
        np.array([0, 1]),
        np.eye(3)[:2],
        _previous([4]),
        highest=4,
        min_size=5,
        curated=frozenset({4}),
    )
    assert m.splits == [] and m.created == []  # no suggestion to undo what people decided
    assert m.mapping == {0: 4, 1: 4} and m.folded == [1]


def test_a_refit_cluster_of_new_messages_only_is_a_new_theme_and_one_with_a_past_is_recut():
    """The re-fit saw every message: its cluster's earlier members say whether a created topic's
    quiet past is real (a new theme, flagged emerging) or re-cut from known topics (tracked from now)."""
    from pipeline.topic_update import _fit_history, _refit_kinds

    # stored over 4 weeks: topic 0 = messages 0-27, outliers 28-39; this week 30 new messages
    old = np.array([0] * 28 + [OUTLIER] * 12 + [UNASSIGNED] * 30)
    new = old == UNASSIGNED
    # cluster 1: 10 new messages alone; cluster 2: 10 new messages with the 12 earlier outliers (3 a week)
    fit = np.array([0] * 28 + [2] * 12 + [0] * 10 + [1] * 10 + [2] * 10)
    m = match_clusters(old, fit, np.array([0, 1, 2]), np.eye(3), _previous([0]), highest=0, min_size=3)
    assert sorted(m.created) == [1, 2]
    kinds = _refit_kinds(fit, m, new, earlier_weeks=4)
    assert kinds == {m.mapping[1]: "novel", m.mapping[2]: "recut"}
    # the re-cut topic's past as this fit saw it (its weekly status tests its first week against it)
    history = _fit_history(fit, m, kinds, new, np.array([f"m{i}" for i in range(len(old))]))
    assert set(history["topic_id"]) == {m.mapping[2]}
    assert sorted(history["message_id"]) == sorted(f"m{i}" for i in range(28, 40))
    # three earlier messages over four weeks are under one a week: still new
    fit_few = fit.copy()
    fit_few[37:40] = 1
    assert _refit_kinds(fit_few, m, new, earlier_weeks=4)[m.mapping[1]] == "novel"
