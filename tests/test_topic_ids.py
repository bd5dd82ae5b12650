"""Topic ids stay put across runs: matched topics keep their id, new ones get ids never used before."""

import numpy as np
import pandas as pd

from pipeline.topics_store import align_topic_ids, relabel


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_matched_topics_keep_their_ids_and_new_ones_get_fresh_ids():
    previous = pd.DataFrame(
        {"topic_id": [3, 7], "centroid": [list(_unit([1, 0, 0])), list(_unit([0, 1, 0]))]}
    )
    # this fit found the old "7" (now its largest, id 0), a brand-new topic (id 1) and the old "3" (id 2)
    new_centroids = np.vstack([_unit([0.05, 1, 0]), _unit([0, 0, 1]), _unit([1, 0.1, 0])])
    mapping = align_topic_ids(previous, np.array([0, 1, 2]), new_centroids, highest=9)
    assert mapping == {0: 7, 1: 10, 2: 3}  # 10: above every id used so far (9), never a reused one


def test_a_weak_match_is_not_a_match():
    previous = pd.DataFrame({"topic_id": [0], "centroid": [list(_unit([1, 0]))]})
    mapping = align_topic_ids(previous, np.array([0]), np.vstack([_unit([1, 1.2])]), highest=0)
    assert mapping == {0: 1}  # cosine 0.64 < 0.8: a different topic


def test_relabel_moves_table_and_messages_together():
    topics = pd.DataFrame({"topic_id": [0, 1, -1], "label": ["a", "b", "out"]})
    table, labels = relabel(topics, np.array([0, 1, -1, 0]), {0: 7, 1: 10})
    assert list(table["topic_id"]) == [7, 10, -1]
    assert list(labels) == [7, 10, -1, 7]
