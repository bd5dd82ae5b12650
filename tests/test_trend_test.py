"""The steady-rise test on its own: calibrated where nothing changes, sure of a real rise."""

from datetime import date, timedelta

import numpy as np
import pandas as pd

from pipeline import trend_test

WEEKS = [date(2026, 1, 5) + timedelta(weeks=i) for i in range(10)]


def _counts(rng, rates: np.ndarray, swing: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame(rng.poisson(rates[None, :] * swing[:, None]).astype(float), index=WEEKS)


def test_steady_poisson_topics_rarely_test_as_trends_and_overdispersion_is_scaled_away():
    """400 steady topics at 3-40 a week with a shared ±15% weekly swing: under 5% of the tested
    windows reach p < 0.05 (the test is conservative: it keeps the weaker of two fits). The same
    topics with gamma noise (counts varying about twice as much as Poisson's) stay under 5% too: the
    week's dispersion is estimated across topics (over 1.3 here) and scales the test."""
    rng = np.random.default_rng(7)
    rates = rng.uniform(3, 40, 400)
    swing = rng.uniform(0.85, 1.15, 10)
    plain = _counts(rng, rates, swing)
    noisy = pd.DataFrame(
        rng.poisson(rng.gamma(1 / 0.05, 0.05 * rates[None, :] * swing[:, None], (10, 400))), index=WEEKS
    )
    for counts in (plain, noisy.astype(float)):
        tests = trend_test.trend_tests(counts, counts.sum(axis=1), [WEEKS[0]] * 400)
        tested = tests["trend_p"].dropna()
        assert len(tested) == 400 * 5  # weeks 6-10: at least 6 weeks in the window
        assert (tested < 0.05).mean() < 0.05
    assert (
        trend_test.trend_tests(noisy.astype(float), noisy.sum(axis=1), [WEEKS[0]] * 400)[
            "trend_dispersion"
        ].min()
        > 1.3
    )


def test_a_rise_is_sure_and_its_fitted_line_says_how_big():
    """A topic doubling over eight weeks (20 to 40 a week, beside 50 steady ones) has p < 0.02, a
    fitted change of about +10% a week, and fitted ends near its true ones; one that starts tracking
    in week 7 is not tested (4 weeks, under 6)."""
    rng = np.random.default_rng(3)
    steady = _counts(rng, rng.uniform(10, 30, 50), np.ones(10))
    rising = pd.Series(np.round(np.geomspace(20 / 1.104**2, 40, 10)), index=WEEKS, name=50)
    late = pd.Series([0, 0, 0, 0, 0, 0, 5, 6, 7, 8.0], index=WEEKS, name=51)
    counts = pd.concat([steady, rising, late], axis=1)
    since = [WEEKS[0]] * 51 + [WEEKS[6]]
    tests = trend_test.trend_tests(counts, counts.sum(axis=1), since)
    last = tests[tests["week"] == WEEKS[-1]].set_index("unit")
    assert last.loc[50, "trend_p"] < 0.02
    assert 1.06 < last.loc[50, "trend_factor"] < 1.14
    assert 16 < last.loc[50, "trend_from"] < 26 and 34 < last.loc[50, "trend_to"] < 46
    assert np.isnan(last.loc[51, "trend_p"]) and last.loc[51, "trend_weeks"] == 0
