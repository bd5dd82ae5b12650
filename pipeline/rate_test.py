"""The conditional test for two Poisson rates: is a count higher or lower than earlier weeks predict?

If the rate per message did not change, this period's count ``n``, given it and the ``k`` earlier
weeks' total ``B``, is Binomial(n + B, r / (r + k)), ``r`` being this period's volume over an earlier
week's mean. Unlike a Poisson test against the earlier mean, it counts that mean as the estimate it
is (a handful of weekly draws), not as a known rate. The weekly status rule (``pipeline.weekly``)
tests topics and parts with it; the search for new themes (``pipeline.novelty``) tests a candidate's
region with it.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binom


def one_sided_p(x, n, share, direction: int):
    """Binomial p of ``x`` of ``n`` this high (``direction`` > 0) or this low, each at probability
    ``share``: the tail every count test here takes (topics' and regions' counts below, and the local
    shifts' per-message and per-group tests)."""
    return binom.sf(np.subtract(x, 1), n, share) if direction > 0 else binom.cdf(x, n, share)


def p_up_down(n, before, weeks, ratio) -> tuple[np.ndarray, np.ndarray]:
    """One-sided exact p-values (higher, lower) of count ``n`` against ``before`` messages over ``weeks``
    earlier weeks (at least 1), ``ratio`` this period's volume over an earlier week's mean (arrays or
    scalars)."""
    share = np.asarray(ratio, dtype=float) / (np.asarray(ratio, dtype=float) + np.maximum(weeks, 1))
    total = np.add(n, before)
    return one_sided_p(n, total, share, 1), one_sided_p(n, total, share, -1)
