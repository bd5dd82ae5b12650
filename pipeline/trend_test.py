"""Is a topic rising or falling steadily over the last weeks, beyond what week-to-week noise explains?

The weekly status test compares one week with the weeks before last; a topic that climbs a little
every week (card delays going from 3 to 12 a week over two months) never stands out against a
baseline that climbs with it. ``python -m bench.status_rule`` flagged such a rise in at most 6.5% of
its weeks. This test reads the whole window instead.

Per topic and week, over the ``TREND_WEEKS`` weeks up to that week (only weeks the topic was tracked
in, at least ``MIN_TREND_WEEKS``): if the topic's rate per explained message did not change, its
counts given their total ``N`` are multinomial with each week's share of the window's volume. The
log-linear trend ``rate ∝ exp(b · week)`` is tested with the score test at ``b = 0`` (the
Cochran-Armitage test for a trend in counts), its variance scaled by the week's overdispersion: weekly
topic counts vary more than Poisson draws (the clustering moves messages between neighbouring
topics; customers come in bursts), so the dispersion is estimated across the week's topics (the
median Pearson statistic of the flat fit over its null median, at least 1), as a quasi-Poisson model
does. ``b`` is then fitted (Newton on the same conditional likelihood) to say the size of the move.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import chi2, norm

TREND_WEEKS = 8
MIN_TREND_WEEKS = 6
MIN_TOTAL = 10  # a window with fewer messages in all is not tested (the normal approximation is poor)
MAX_SLOPE = 2.0  # |b| per week: a topic from nothing to something has no finite fit


def _flat_pearson(n: np.ndarray, share: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Each unit's Pearson statistic of the flat fit over the null median of its chi-square, per unit
    (columns): about 1 for Poisson-like counts, more where counts vary more."""
    total = n.sum(axis=0)
    fit = total[None, :] * share
    x2 = np.where(valid & (fit > 0), (n - fit) ** 2 / np.where(fit > 0, fit, 1.0), 0.0).sum(axis=0)
    df = np.maximum(valid.sum(axis=0) - 1, 1)
    return x2 / chi2.median(df)


def _fit_slope(n: np.ndarray, x: np.ndarray, logv: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Maximum-likelihood ``b`` per unit of the conditional log-linear model (Newton, clipped)."""
    b = np.zeros(n.shape[1])
    total = n.sum(axis=0)
    for _ in range(25):
        eta = np.where(valid, logv + b[None, :] * x, -np.inf)
        top = eta.max(axis=0, keepdims=True)
        eta = eta - np.where(np.isfinite(top), top, 0.0)  # a unit with no tracked week stays all -inf
        w = np.exp(eta)
        pi = w / np.maximum(w.sum(axis=0, keepdims=True), 1e-300)
        mean = (pi * x).sum(axis=0)
        score = (n * x).sum(axis=0) - total * mean
        info = total * ((pi * x**2).sum(axis=0) - mean**2)
        step = np.where(info > 1e-9, score / np.where(info > 1e-9, info, 1.0), 0.0)
        b = np.clip(b + step, -MAX_SLOPE, MAX_SLOPE)
        if np.all(np.abs(step) < 1e-8):
            break
    return b


def _score(n: np.ndarray, valid: np.ndarray, volume: np.ndarray):
    """The score test's parts per unit over the ``valid`` weeks: the statistic, its null variance
    (Poisson), each week's share of the volume and the centred week index."""
    vol = np.where(valid, volume[:, None], 0.0)
    share = vol / np.where(vol.sum(axis=0) > 0, vol.sum(axis=0), 1.0)[None, :]
    idx = np.arange(len(volume), dtype=float)[:, None]
    x = np.where(valid, idx - (share * idx).sum(axis=0)[None, :], 0.0)  # centred on the volume's weeks
    n = np.where(valid, n, 0.0)
    score = (n * x).sum(axis=0)  # its expectation under no trend is 0 (x is centred under ``share``)
    info = n.sum(axis=0) * (share * x**2).sum(axis=0)
    return score, info, share, x


def _scaled(score: np.ndarray, info: np.ndarray, dispersion: float) -> np.ndarray:
    """The score statistic as a z, its variance scaled by the week's overdispersion."""
    return score / np.sqrt(np.where(info > 0, info, 1.0) * dispersion)


def _z_without(n: np.ndarray, valid: np.ndarray, volume: np.ndarray, dispersion: float, week: np.ndarray):
    """The z of each unit's window with one of its weeks (``week``, a row per unit) left out, and the
    null variance it rests on (0: nothing left to test)."""
    kept = valid.copy()
    kept[week, np.arange(n.shape[1])] = False
    score, info, _, _ = _score(n, kept, volume)
    return _scaled(score, info, dispersion), info


def _one_week(counts: np.ndarray, volume: np.ndarray) -> dict[str, np.ndarray]:
    """The trend test for every unit (columns) over one window of weeks (rows, oldest first); NaN
    counts are weeks the unit was not tracked in.

    A trend must not rest on one week: the test is run again without the week farthest from the
    fitted line, and the weaker of the two is kept (a one-week surge tilts a fit as a rise would;
    ``bench.status_rule`` called the week after one "growing" in 4 of 100 replicates before)."""
    valid = ~np.isnan(counts) & (volume[:, None] > 0)
    n = np.where(valid, np.nan_to_num(counts), 0.0)
    weeks_in = valid.sum(axis=0)
    total = n.sum(axis=0)
    score, info, share, x = _score(n, valid, volume)
    tested = (weeks_in >= MIN_TREND_WEEKS) & (total >= MIN_TOTAL) & (info > 0)
    # the week's overdispersion, from the units whose flat fit expects at least 2 messages a week
    enough = tested & (total / np.maximum(weeks_in, 1) >= 2)
    ratio = _flat_pearson(n, share, valid)[enough]
    dispersion = max(1.0, float(np.median(ratio))) if ratio.size >= 5 else 1.0
    # the week's share stands for its volume in the fit (a unit's constant factor does not move ``b``)
    b = _fit_slope(n, x, np.log(np.where(valid, share, 1.0)), valid)
    # the fitted line: each tracked week's expected count given the window's total
    curve = np.where(valid, share * np.exp(b[None, :] * x), 0.0)
    level = total / curve.sum(axis=0).clip(min=1e-12)
    fitted = level * curve
    far = np.argmax(np.where(valid, np.abs(n - fitted) / np.sqrt(fitted.clip(min=1e-9)), -1.0), axis=0)
    z_all = _scaled(score, info, dispersion)
    z_kept, info_kept = _z_without(n, valid, volume, dispersion, far)
    robust = np.where(np.sign(z_all) == np.sign(z_kept), np.minimum(np.abs(z_all), np.abs(z_kept)), 0.0)
    # a fall must hold without the window's first week too: a topic's first tracked week can hold many
    # of the fit's members and the weeks after it few, a step down that reads as a fall (the scenarios
    # gave 8 false declines of such topics, 9 → 1, 1, 2, 0, 1, 0, on 30 runs)
    first = np.argmax(valid, axis=0)
    z_later, info_later = _z_without(n, valid, volume, dispersion, first)
    holds = (np.sign(z_later) == np.sign(z_all)) & (info_later > 0)
    robust = np.where(z_all < 0, np.where(holds, np.minimum(robust, np.abs(z_later)), 0.0), robust)
    z = np.where(tested & (info_kept > 0), robust, 0.0)
    last = len(volume) - 1
    # the fitted counts at the window's first tracked week and at this week, at this week's volume
    units = np.arange(x.shape[1])

    def rate_at(week: np.ndarray) -> np.ndarray:
        return level * np.exp(b * x[week, units]) * share[last]

    return {
        "trend_p": np.where(tested, 2 * norm.sf(np.abs(z)), np.nan),
        "trend_factor": np.where(tested, np.exp(b), np.nan),
        "trend_from": np.where(tested, rate_at(first), np.nan),
        "trend_to": np.where(tested, rate_at(np.full_like(first, last)), np.nan),
        "trend_flat": np.where(tested, total * share[last], np.nan),
        "trend_weeks": np.where(tested, weeks_in, 0),
        "trend_dispersion": np.full(counts.shape[1], dispersion),
    }


def trend_tests(
    counts: pd.DataFrame,
    explained: pd.Series,
    since: list,
    window: int = TREND_WEEKS,
) -> pd.DataFrame:
    """Per week and unit (a weeks x units matrix of counts, oldest week first; ``since``: each unit's
    first tracked week, earlier weeks are reconstructed and left out; ``explained``: the messages some
    topic explains per week), the trend over the ``window`` weeks up to that week: two-sided
    ``trend_p`` (not yet corrected across units), ``trend_factor`` (fitted change per week, 1.2 =
    +20% a week), the fitted counts at the window's first tracked week and at this week
    (``trend_from``, ``trend_to``, both at this week's volume), this week's expected count with no
    trend (``trend_flat``) and the weeks the window held (``trend_weeks``). Untested rows: NaN."""
    weeks = np.asarray(counts.index, dtype=object)
    before = weeks[:, None] < np.asarray(since, dtype=object)[None, :]
    values = counts.mask(before).to_numpy(dtype=float)
    volume = explained.reindex(counts.index).fillna(0).to_numpy(dtype=float)
    frames = []
    for j in range(len(weeks)):
        lo = max(0, j - window + 1)
        if j - lo + 1 < MIN_TREND_WEEKS:
            continue
        out = _one_week(values[lo : j + 1], volume[lo : j + 1])
        frames.append(pd.DataFrame({"week": weeks[j], "unit": counts.columns.to_numpy(), **out}))
    if not frames:
        cols = ["trend_p", "trend_factor", "trend_from", "trend_to", "trend_flat", "trend_weeks"]
        return pd.DataFrame(columns=["week", "unit", *cols, "trend_dispersion"])
    return pd.concat(frames, ignore_index=True)
