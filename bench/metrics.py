"""Clustering quality against intent labels: NMI, ARI, matched accuracy, outlier share."""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix


def matched_accuracy(labels_true, labels_pred) -> float:
    """Share of messages whose cluster is matched one-to-one to their intent (Hungarian).

    Outliers (-1) and clusters left without a partner count as wrong.
    """
    labels_true = np.asarray(labels_true)
    labels_pred = np.asarray(labels_pred)
    keep = labels_pred != -1
    if not keep.any():
        return 0.0
    table = contingency_matrix(labels_true[keep], labels_pred[keep])
    rows, cols = linear_sum_assignment(table, maximize=True)
    return float(table[rows, cols].sum() / len(labels_true))


def score(labels_true, labels_pred) -> dict[str, float]:
    labels_pred = np.asarray(labels_pred)
    return {
        "nmi": float(normalized_mutual_info_score(labels_true, labels_pred)),
        "ari": float(adjusted_rand_score(labels_true, labels_pred)),
        "acc": matched_accuracy(labels_true, labels_pred),
        "outliers": float((labels_pred == -1).mean()),
        "topics": int(len(set(labels_pred.tolist()) - {-1})),
    }
