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


def p_up_down(n, before, weeks, ratio) -> tuple[np.ndarray, np.ndarray]:
    """One-sided exact p-values (higher, lower) of count ``n`` against ``before`` messages over ``weeks``
    earlier weeks (at least 1), ``ratio`` this period's volume over an earlier week's mean (arrays or
    scalars)."""
    share = np.asarray(ratio, dtype=float) / (np.asarray(ratio, dtype=float) + np.maximum(weeks, 1))
    return binom.sf(np.subtract(n, 1), np.add(n, before), share), binom.cdf(n, np.add(n, before), share)
