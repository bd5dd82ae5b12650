"""Every week counted under the current topics (pipeline.topic_counts)."""

import numpy as np
import pandas as pd
from sklearn.preprocessing import normalize

from pipeline import topic_counts


def test_each_assigned_message_is_counted_under_its_nearest_live_topic(monkeypatch):
    rng = np.random.default_rng(0)
    X = normalize(rng.normal(size=(500, 16))).astype(np.float32)
    centroids = normalize(rng.normal(size=(4, 16)))
    topics = pd.DataFrame(
        {
            "topic_id": [-1, 0, 1, 2, 3],
            "state": [None, "active", "dormant", "merged", "active"],
            "centroid": [None, *[list(c) for c in centroids]],
        }
    )
    ids, C = topic_counts.live_centroids(topics)
    assert list(ids) == [0, 1, 3]  # merged topics and the outliers' row count nothing
    labels = rng.choice([-1, 0, 1, 3], size=len(X))
    monkeypatch.setattr(topic_counts, "CHUNK", 64)  # several blocks
    counted = topic_counts.nearest_live(X, labels, ids, C)
    expected = ids[(X @ centroids[[0, 1, 3]].T).argmax(axis=1)]
    assert (counted[labels == -1] == -1).all()  # outliers stay out: the volume is the assigned one
    assert (counted[labels >= 0] == expected[labels >= 0]).all()
    assert (counted != labels)[labels >= 0].mean() > 0.3  # not the assignments given back
