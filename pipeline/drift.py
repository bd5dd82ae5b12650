"""When to re-fit the topic model instead of assigning new messages to the topics it knows.

A new message is *unexplained* when no topic is near enough to take it (an outlier) or when it sits
farther from its nearest topic's centroid than 90% of that topic's own members do. Among messages the
model already placed, that share is the model's own rate (its outliers plus, by construction, about a
tenth of the rest). The model is re-fitted when, among the new messages:

- the unexplained share is higher than that rate by at least ``margin`` (5 points), with a one-sided
  binomial test at ``alpha`` = 0.001, and there are at least ``min_size`` unexplained messages (enough
  to form a topic): something customers say that no topic covers;
- or the messages the model has never been fitted on number at least ``growth`` (half) of those it
  was fitted on: the model has not seen a third of the data.

A new theme too small to move these numbers is caught without a re-fit (``pipeline.novelty``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import binom

ALPHA = 0.001
MARGIN = 0.05
GROWTH = 0.5


@dataclass
class DriftReport:
    new_messages: int
    fitted_messages: int
    unexplained: int
    unexplained_share: float
    expected_share: float
    p_value: float
    refit: bool
    reason: str

    def as_dict(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def unexplained(labels: np.ndarray, similarity: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """Outliers, and messages less similar to their topic than its members' 10th percentile."""
    return (np.asarray(labels) < 0) | (np.asarray(similarity) < np.asarray(floor))


def drift_report(
    new_unexplained: np.ndarray,
    expected_share: float,
    fitted_messages: int,
    unseen: int,
    min_size: int,
    *,
    alpha: float = ALPHA,
    margin: float = MARGIN,
    growth: float = GROWTH,
) -> DriftReport:
    """Decide between assigning the new messages and re-fitting, by the rule in the module docstring."""
    n = int(len(new_unexplained))
    k = int(np.sum(new_unexplained))
    share = k / n if n else 0.0
    p0 = float(min(max(expected_share, 1e-3), 0.999))
    p = float(binom.sf(k - 1, n, p0)) if n else 1.0
    if unseen >= growth * max(fitted_messages, 1):
        refit, reason = (
            True,
            f"{unseen} messages unseen by the fit vs {fitted_messages} fitted (>= {growth:.0%})",
        )
    elif n and p < alpha and share - p0 >= margin and k >= min_size:
        refit, reason = True, f"{share:.0%} of new messages unexplained vs {p0:.0%} expected (p={p:.1e})"
    else:
        refit, reason = False, "new messages fit the known topics"
    return DriftReport(n, fitted_messages, k, share, p0, p, refit, reason)
