"""verdicts.compare_samples and noise_band on constructed samples whose answer is known:
the same distribution twice is no change, a shifted one is faster (or slower) with the
interval covering the true ratio, and too few runs say how many would tell."""

import math

import numpy as np
import pytest
from scipy import stats
from scipy.stats import norm

from collect.verdicts import (
    COMPARE_MIN_EFFECT,
    FASTER,
    MAX_RUNS_ESTIMATE,
    MIN_CHANGE,
    MIN_RUNS,
    NO_CHANGE,
    SLOWER,
    TOO_FEW,
    compare_samples,
    median_interval,
    noise_band,
)

pytestmark = pytest.mark.unit

# Samples of tok/s around 100 with a 2 % standard deviation, as a quiet node gives.
CENTRE, SPREAD = 100.0, 2.0


def sample(seed: int, runs: int, factor: float = 1.0) -> np.ndarray:
    return np.random.default_rng(seed).normal(CENTRE * factor, SPREAD * factor, runs)


def ideal(runs: int, factor: float = 1.0, spread: float = 0.04) -> np.ndarray:
    """runs evenly spaced quantiles of a normal distribution (relative spread): samples
    with the distribution's exact median and no sampling luck."""
    return CENTRE * factor * (1 + spread * norm.ppf((np.arange(runs) + 0.5) / runs))


def test_the_newcomer_case_is_faster():
    # The README's offline sweep on a busy 2-core machine: every run of Ofast-openmp is
    # above every run of O3, 4x apart, 3 runs a side.
    verdict = compare_samples([59.2, 65.9, 76.9], [203.5, 291.1, 340.9])
    assert verdict.verdict == FASTER
    assert 1 < verdict.low < verdict.ratio < verdict.high
    assert verdict.p_value < 0.01


@pytest.mark.parametrize("seed", range(5))
def test_identical_distributions_measured_closely_are_no_detectable_change(seed):
    # 60 runs a side at 2 % spread: the interval fits inside ±2 %.
    verdict = compare_samples(sample(seed, 60), sample(seed + 100, 60))
    assert verdict.verdict == NO_CHANGE
    assert 1 / (1 + COMPARE_MIN_EFFECT) <= verdict.low <= 1 <= verdict.high
    assert verdict.runs_needed is None


@pytest.mark.parametrize("factor", [1.10, 1.25, 2.0])
def test_a_shifted_distribution_is_faster_and_the_interval_covers_the_true_ratio(factor):
    verdict = compare_samples(sample(1, 10), sample(2, 10, factor))
    assert verdict.verdict == FASTER
    assert verdict.low < factor < verdict.high
    backwards = compare_samples(sample(2, 10, factor), sample(1, 10))
    assert backwards.verdict == SLOWER
    assert backwards.low < 1 / factor < backwards.high


def test_the_interval_is_welchs_on_log_tok_s():
    a, b = sample(3, 5), sample(4, 6, 1.1)
    verdict = compare_samples(a, b)
    test = stats.ttest_ind(np.log(b), np.log(a), equal_var=False)
    interval = test.confidence_interval(0.99)
    assert (verdict.low, verdict.high) == pytest.approx(np.exp([interval.low, interval.high]))
    assert verdict.ratio == pytest.approx(stats.gmean(b) / stats.gmean(a))
    assert verdict.p_value == pytest.approx(test.pvalue)


def test_a_change_ruled_below_the_threshold_is_no_change_and_one_that_may_matter_is_faster():
    # 1 % faster, measured tightly: significant, but the whole interval lies inside ±2 %:
    # no change that matters. With 5 loosely measured runs the interval holds no change
    # and reaches past 2 %: too few. A 1.5 % change whose interval excludes no change and
    # reaches past 2 % is faster: the rule does not ask the estimate itself to clear 2 %.
    tight = compare_samples(ideal(5, spread=0.002), ideal(5, 1.01, spread=0.002))
    assert tight.p_value < 0.01 and tight.verdict == NO_CHANGE
    loose = compare_samples(ideal(5, spread=0.005), ideal(5, 1.01, spread=0.005))
    assert loose.p_value > 0.01 and loose.high > 1 + COMPARE_MIN_EFFECT
    assert loose.verdict == TOO_FEW
    many = compare_samples(ideal(40, spread=0.005), ideal(40, 1.01, spread=0.005))
    assert many.p_value < 0.01 and many.verdict == NO_CHANGE
    nearly = compare_samples(ideal(10, spread=0.005), ideal(10, 1.015, spread=0.005))
    assert nearly.ratio < 1 + COMPARE_MIN_EFFECT < nearly.high and nearly.verdict == FASTER
    # The same 1 % against a 0.5 % threshold: a change.
    assert (
        compare_samples(ideal(40, spread=0.005), ideal(40, 1.01, spread=0.005), 0.005).verdict
        == FASTER
    )


@pytest.mark.parametrize("runs", [0, 1, MIN_RUNS - 1])
def test_fewer_than_min_runs_is_too_few_runs_to_tell(runs):
    verdict = compare_samples(sample(7, runs), sample(8, 10, 1.5))
    assert verdict.verdict == TOO_FEW
    assert math.isnan(verdict.low)
    assert verdict.runs_needed >= MIN_RUNS
    assert verdict.text.startswith("too few runs to tell (needs ")


@pytest.mark.parametrize("factor", [1.05, 1.06, 0.94])
def test_the_runs_needed_estimate_is_enough_to_tell(factor):
    # A real change of a few % measured 5 times a side at a 4 % spread: undecided. The
    # same distributions with the estimated number of runs tell.
    few = compare_samples(ideal(5), ideal(5, factor))
    assert few.verdict == TOO_FEW
    needed = few.runs_needed
    assert 5 < needed <= MAX_RUNS_ESTIMATE
    assert few.text == f"too few runs to tell (needs ~{needed} runs each)"
    expected = FASTER if factor > 1 else SLOWER
    assert compare_samples(ideal(needed), ideal(needed, factor)).verdict == expected


def test_the_runs_needed_also_decide_when_there_is_no_change():
    # An estimate at the threshold: its interval holds no change, and the advice is
    # planned to decide there too.
    few = compare_samples(ideal(5), ideal(5, 1 + COMPARE_MIN_EFFECT))
    assert few.verdict == TOO_FEW
    needed = few.runs_needed
    assert compare_samples(ideal(needed), ideal(needed)).verdict == NO_CHANGE


def test_a_spread_beyond_any_sweep_needs_more_than_the_estimate_limit():
    # 3 runs a side at a 70 % spread: even no change would take over 100,000 runs to tell.
    verdict = compare_samples(ideal(3, spread=0.7), ideal(3, spread=0.7))
    assert verdict.text == f"too few runs to tell (needs more than {MAX_RUNS_ESTIMATE} runs each)"


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


def test_median_interval_from_order_statistics_says_its_level():
    # 3 runs: the range, which holds the median with chance 1 - 2/8 = 75 %.
    assert median_interval([3.0, 1.0, 2.0]) == (1.0, 3.0, 0.75)
    # 10 runs: the range again (99.8 %); 20 runs: the 4th from each end (99.7 %; the 5th
    # would reach 98.8 %).
    assert median_interval(range(10)) == (0, 9, pytest.approx(1 - 2 / 1024))
    low, high, level = median_interval(range(20))
    assert (low, high) == (3, 16) and level == pytest.approx(1 - 2 * stats.binom.cdf(3, 20, 0.5))
    assert all(math.isnan(bound) for bound in median_interval([1.0, 2.0]))


def test_median_interval_covers_the_median_as_often_as_it_says():
    rng = np.random.default_rng(11)
    for runs in (3, 5, 12):
        samples = rng.lognormal(0, 0.3, (4000, runs))
        intervals = [median_interval(values) for values in samples]
        covered = np.mean([low <= 1 <= high for low, high, _ in intervals])
        assert covered == pytest.approx(intervals[0][2], abs=0.015)
