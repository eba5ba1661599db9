"""verdicts.compare_samples and noise_band on constructed samples whose answer is known:
the same distribution twice is no change, a shifted one is faster (or slower) with the
interval covering the true ratio, and too few runs say how many would tell."""

import math

import numpy as np
import pytest
from scipy.stats import norm

from collect.verdicts import (
    FASTER,
    MIN_CHANGE,
    MIN_RUNS,
    NO_CHANGE,
    NO_CHANGE_LIMIT,
    SLOWER,
    TOO_FEW,
    compare_samples,
    median_interval,
    noise_band,
)

pytestmark = pytest.mark.unit

# Samples of tok/s around 100 with a 2 % standard deviation, as a quiet node gives.
CENTRE, SPREAD = 100.0, 2.0
BAND = 0.03


def sample(seed: int, runs: int, factor: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(CENTRE * factor, SPREAD * factor, runs)


def ideal(runs: int, factor: float = 1.0, spread: float = 0.04) -> np.ndarray:
    """runs evenly spaced quantiles of a normal distribution (relative spread): samples
    with the distribution's exact median and no sampling luck."""
    return CENTRE * factor * (1 + spread * norm.ppf((np.arange(runs) + 0.5) / runs))


@pytest.mark.parametrize("seed", range(5))
def test_identical_distributions_are_no_detectable_change(seed):
    verdict = compare_samples(sample(seed, 20), sample(seed + 100, 20), BAND)
    assert verdict.verdict == NO_CHANGE
    assert verdict.low <= 1 <= verdict.high
    assert verdict.runs_needed is None


@pytest.mark.parametrize("factor", [1.10, 1.25, 2.0])
def test_a_shifted_distribution_is_faster_and_the_interval_covers_the_true_ratio(factor):
    verdict = compare_samples(sample(1, 10), sample(2, 10, factor), BAND)
    assert verdict.verdict == FASTER
    assert verdict.low < factor < verdict.high
    assert verdict.p_value < 0.002  # 10 against 10: the Mann-Whitney test can tell too
    backwards = compare_samples(sample(2, 10, factor), sample(1, 10), BAND)
    assert backwards.verdict == SLOWER
    assert backwards.low < 1 / factor < backwards.high


def test_the_same_runs_give_the_same_interval():
    a, b = sample(3, 5), sample(4, 5, 1.1)
    assert compare_samples(a, b, BAND) == compare_samples(a, b, BAND)


def test_a_change_inside_the_noise_band_is_no_change_even_when_significant():
    # 1.5 % faster, measured tightly (0.5 % spread, 30 runs): significant, but inside the
    # ±3 % band: not a change worth the name.
    verdict = compare_samples(ideal(30, spread=0.005), ideal(30, 1.015, spread=0.005), BAND)
    assert verdict.p_value < 0.002
    assert verdict.verdict == NO_CHANGE


def test_a_band_wider_than_the_no_change_limit_cannot_say_no_change():
    # The same distribution, 30 % spread, on a node whose band is ±200 %: the interval
    # lies inside the band but spans far more than ±NO_CHANGE_LIMIT. Nothing is ruled out.
    verdict = compare_samples(ideal(3, spread=0.3), ideal(3, spread=0.3), 2.0)
    assert verdict.low < 1 - NO_CHANGE_LIMIT and verdict.high > 1 + NO_CHANGE_LIMIT
    assert verdict.verdict == TOO_FEW
    # The ratio (1.0) is inside the limit: enough runs would tell there is no change.
    assert verdict.runs_needed > 3
    # 1.5x against a ±200 % band: between the limit and the band, no number of runs of
    # this spread tells.
    between = compare_samples(ideal(3, spread=0.3), ideal(3, 1.5, spread=0.3), 2.0)
    assert (between.verdict, between.runs_needed) == (TOO_FEW, None)
    assert between.text == f"{TOO_FEW} (the noise band, ±200 %, is wider than the change)"


@pytest.mark.parametrize("runs", [0, 1, MIN_RUNS - 1])
def test_fewer_than_min_runs_is_too_few_runs_to_tell(runs):
    verdict = compare_samples(sample(7, runs), sample(8, 10, 1.5), BAND)
    assert verdict.verdict == TOO_FEW
    assert math.isnan(verdict.low)
    assert verdict.runs_needed >= MIN_RUNS
    assert verdict.text.startswith("too few runs to tell (needs ")


@pytest.mark.parametrize("factor", [1.06, 1.08, 1.10, 0.95])
def test_the_runs_needed_estimate_is_enough_to_tell(factor):
    # A real change of a few % measured 3 times a side at a 4 % spread: the interval
    # straddles the band's edge. The same distributions with the estimated number of runs
    # tell, with a quarter of them they do not.
    few = compare_samples(ideal(3), ideal(3, factor), BAND)
    assert few.verdict == TOO_FEW
    needed = few.runs_needed
    assert needed > 3
    expected = FASTER if factor > 1 else SLOWER
    assert compare_samples(ideal(needed), ideal(needed, factor), BAND).verdict == expected
    quarter = max(needed // 4, MIN_RUNS)
    assert compare_samples(ideal(quarter), ideal(quarter, factor), BAND).verdict == TOO_FEW


def test_mann_whitney_only_where_it_can_reach_the_threshold():
    # 3 against 3 cannot go below p = 0.1: only the interval decides.
    assert math.isnan(compare_samples(sample(1, 3), sample(2, 3, 1.5), BAND).p_value)
    assert compare_samples(sample(1, 7), sample(2, 7, 1.5), BAND).p_value < 0.002


def test_noise_band_from_splits_of_repetitions():
    # Two runs: the one split is 110 against 100, a 10 % band.
    assert noise_band([[100.0, 110.0]]).band == pytest.approx(0.10)
    # 100, 100, 104: halves {100} | {100, 104} (ratio 1.02, twice) and {104} | {100, 100}.
    band = noise_band([[100.0, 100.0, 104.0]])
    assert band.band == pytest.approx(0.04)
    assert (band.configurations, band.splits) == (1, 3)
    # Identical runs: the floor; single runs: no measurement.
    assert noise_band([[50.0, 50.0, 50.0]]).band == MIN_CHANGE
    assert math.isnan(noise_band([[50.0], []]).band)


def test_noise_band_weighs_each_configuration_the_same():
    # Ten quiet configurations and one noisy one: the 95 % quantile is that of the quiet
    # ones' splits unless the noisy one holds more than 5 % of the weight (1 in 11 does).
    quiet = [[100.0, 100.5, 100.0, 100.5]] * 10
    assert noise_band(quiet).band == pytest.approx(MIN_CHANGE)
    assert noise_band([*quiet, [100.0, 150.0]]).band == pytest.approx(0.5)


def test_median_interval_covers_the_median():
    values = sample(11, 15)
    low, high = median_interval(values)
    assert low < np.median(values) < high
    assert all(math.isnan(bound) for bound in median_interval(values[:2]))
