"""Whether one sample of tok/s is faster than another, the one rule every comparison uses
(`compare A B`, the speedup over the baseline flag set, the speedup over one thread, the
findings).

The models are asv's and criterion.rs's, with scipy.stats doing the statistics:

- the change is the ratio of medians B/A, with its bootstrap confidence interval
  (scipy.stats.bootstrap, CONFIDENCE, percentile method, a seeded generator: the same
  runs give the same interval);
- a noise band: the relative change that the same binary, run again, shows on that
  partition (noise_band: measured from the sweep's repetitions, at least MIN_CHANGE);
- faster / slower: the whole interval lies outside the band (criterion), and when there
  are enough runs for a Mann-Whitney U test to reach P_THRESHOLD at all, the test says so
  too (asv: p < 0.002 with enough samples, else non-overlapping intervals, then a
  minimum factor, here the band);
- no detectable change: the whole interval lies inside the band, and inside
  ±NO_CHANGE_LIMIT: on a node so noisy that its band is wider, an interval inside the
  band rules out no change that matters, and the verdict is too few runs to tell;
- too few runs to tell: anything else, or fewer than MIN_RUNS ok runs on a side.

Then runs_needed estimates the runs per side that give a POWER chance of the interval
clearing the edge nearest the observed ratio: the band's, or NO_CHANGE_LIMIT's when the
ratio lies inside that (None when the ratio lies between the two: more runs of the same
spread will not tell). It is the textbook sample size of a two-sample comparison, for
medians: the median's standard error is about sqrt(pi/2) sigma/sqrt(n) (sigma: each
side's sample standard deviation of log tok/s), so n = (z_conf + z_power)^2 * (pi/2) *
(sa^2 + sb^2) / d^2, d the distance from log(ratio) to that edge. A normal approximation
from the runs at hand: a guide to how many repetitions to run, not a promise.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np
from scipy import stats
from scipy.special import comb

# Confidence level of every interval (99 %, as asv: a sweep makes dozens of comparisons).
CONFIDENCE = 0.99
# Mann-Whitney U two-sided p below which a difference is significant (asv's), applied only
# when the sample sizes can reach it (3 runs against 3 cannot go below p = 0.1).
P_THRESHOLD = 0.002
# Fewer ok runs than this on a side: no interval worth the name.
MIN_RUNS = 3
# The smallest change ever called a change (criterion's default noise threshold, 1 %).
MIN_CHANGE = 0.01
# The widest interval (relative, either way) that "no detectable change" may stand for.
NO_CHANGE_LIMIT = 0.05
# The quantile of the same binary's |log median ratio| that bounds "no change".
NOISE_QUANTILE = 0.95
# Splits of one configuration's repetitions beyond which noise_band samples them.
MAX_SPLITS = 200
# The chance of telling that runs_needed aims at.
POWER = 0.8
BOOTSTRAP_RESAMPLES = 2000
SEED = 13
# Runs-needed estimates beyond this are reported as "more than".
MAX_RUNS_ESTIMATE = 100

FASTER = "faster"
SLOWER = "slower"
NO_CHANGE = "no detectable change"
TOO_FEW = "too few runs to tell"


@dataclass(frozen=True)
class Verdict:
    """B against A: ratio of medians B/A, its CONFIDENCE interval (NaN without one), the
    Mann-Whitney p (NaN when not computed), the band used, the verdict and, for TOO_FEW,
    the estimated ok runs per side that would tell (None: no estimate)."""

    ratio: float
    low: float
    high: float
    p_value: float
    band: float
    verdict: str
    runs_needed: int | None = None

    @property
    def interval(self) -> str:
        return interval_text(self.low, self.high)

    @property
    def needs(self) -> str:
        """What would tell, for TOO_FEW: `needs ~7 runs each`, or that the band is wider
        than the change (no estimate); else ``."""
        if self.verdict != TOO_FEW:
            return ""
        if self.runs_needed is None:
            if math.isnan(self.low) or self.band <= NO_CHANGE_LIMIT:
                return ""
            return f"the noise band, ±{100 * self.band:.0f} %, is wider than the change"
        more = "more than " if self.runs_needed > MAX_RUNS_ESTIMATE else "~"
        return f"needs {more}{min(self.runs_needed, MAX_RUNS_ESTIMATE)} runs each"

    @property
    def text(self) -> str:
        """The verdict, with the runs needed when it cannot tell."""
        return f"{self.verdict} ({self.needs})" if self.needs else self.verdict


def interval_text(low: float, high: float) -> str:
    """`1.90–2.20`, or `—` without an interval (NaN)."""
    return "—" if math.isnan(low) else f"{low:.2f}–{high:.2f}"


def compare_samples(a: Sequence[float], b: Sequence[float], band: float | None = None) -> Verdict:
    """The verdict on B against A (tok/s of ok runs; NaN ignored) with a noise band
    (relative, e.g. 0.03 for ±3 %; None or below MIN_CHANGE: MIN_CHANGE)."""
    band = MIN_CHANGE if band is None or math.isnan(band) else max(float(band), MIN_CHANGE)
    return _compare(tuple(_finite(a)), tuple(_finite(b)), band)


# The tables and the findings ask for the same comparisons: each is bootstrapped once.
@lru_cache(maxsize=4096)
def _compare(a_values: tuple[float, ...], b_values: tuple[float, ...], band: float) -> Verdict:
    a, b = np.array(a_values), np.array(b_values)
    if not len(a) or not len(b):
        return Verdict(math.nan, math.nan, math.nan, math.nan, band, TOO_FEW, MIN_RUNS)
    ratio = float(np.median(b) / np.median(a))
    if min(len(a), len(b)) < MIN_RUNS:
        needed = _runs_needed(a, b, ratio, band) if min(len(a), len(b)) > 1 else None
        return Verdict(
            ratio, math.nan, math.nan, math.nan, band, TOO_FEW, max(needed or 0, MIN_RUNS)
        )
    low, high = _ratio_interval(a, b)
    p_value = math.nan
    significant = True
    if 2 / comb(len(a) + len(b), len(a)) < P_THRESHOLD:
        p_value = float(stats.mannwhitneyu(b, a, alternative="two-sided").pvalue)
        significant = p_value < P_THRESHOLD
    upper, same = 1 + band, 1 + min(band, NO_CHANGE_LIMIT)
    if significant and low > upper:
        verdict = FASTER
    elif significant and high < 1 / upper:
        verdict = SLOWER
    elif low >= 1 / same and high <= same:
        verdict = NO_CHANGE
    else:
        needed = _runs_needed(a, b, ratio, band)
        needed = None if needed is None else max(needed, min(len(a), len(b)) + 1)
        return Verdict(ratio, low, high, p_value, band, TOO_FEW, needed)
    return Verdict(ratio, low, high, p_value, band, verdict)


def median_interval(values: Sequence[float]) -> tuple[float, float]:
    """The CONFIDENCE bootstrap interval of the median of values ((NaN, NaN) with fewer
    than MIN_RUNS)."""
    values = _finite(values)
    if len(values) < MIN_RUNS:
        return math.nan, math.nan
    return bootstrap_interval((values,), np.median)


def bootstrap_interval(
    samples: tuple[np.ndarray, ...],
    statistic,
    confidence: float = CONFIDENCE,
    seed: int = SEED,
) -> tuple[float, float]:
    """The percentile bootstrap interval (BOOTSTRAP_RESAMPLES, a generator seeded with seed:
    the same samples give the same interval) of statistic over samples."""
    result = stats.bootstrap(
        samples,
        statistic,
        n_resamples=BOOTSTRAP_RESAMPLES,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    return float(result.confidence_interval.low), float(result.confidence_interval.high)


@dataclass(frozen=True)
class NoiseBand:
    """What "no change" looks like: band (relative, NaN when unmeasured), from how many
    configurations and splits of their repetitions."""

    band: float
    configurations: int
    splits: int


def noise_band(samples: Iterable[Sequence[float]]) -> NoiseBand:
    """The noise band of a partition from the repetitions of each of its configurations
    (samples: one sequence of ok tok/s per configuration). Each configuration's runs are
    split into two halves in every way (MAX_SPLITS of them, seeded, when more): the
    ratio of the two halves' medians is what one binary against itself gives. Pooled
    over configurations (each weighing the same), the NOISE_QUANTILE of |log ratio| is
    the band: exp(q) - 1, at least MIN_CHANGE. Configurations with fewer than two ok
    runs say nothing about noise; none with two: NaN."""
    return _noise_band(tuple(tuple(_finite(sample)) for sample in samples))


# flag_set_table's verdicts and the summary's band text ask for the same bands: each is
# measured once.
@lru_cache(maxsize=256)
def _noise_band(samples: tuple[tuple[float, ...], ...]) -> NoiseBand:
    rng = np.random.default_rng(SEED)
    deviations, weights = [], []
    configurations = 0
    for sample in samples:
        values = np.array(sample)
        if len(values) < 2:
            continue
        half = len(values) // 2
        if comb(len(values), half) <= MAX_SPLITS:
            orders = np.array(
                [
                    [*chosen, *sorted(set(range(len(values))) - set(chosen))]
                    for chosen in combinations(range(len(values)), half)
                ]
            )
        else:
            orders = np.array([rng.permutation(len(values)) for _ in range(MAX_SPLITS)])
        split = values[orders]  # one row per split, its first `half` runs one half
        ratios = np.median(split[:, half:], axis=1) / np.median(split[:, :half], axis=1)
        deviations.extend(np.abs(np.log(ratios)))
        weights.extend([1 / len(orders)] * len(orders))
        configurations += 1
    if not configurations:
        return NoiseBand(math.nan, 0, 0)
    quantile = np.quantile(deviations, NOISE_QUANTILE, weights=weights, method="inverted_cdf")
    return NoiseBand(max(math.expm1(float(quantile)), MIN_CHANGE), configurations, len(deviations))


def _finite(values: Sequence[float]) -> np.ndarray:
    array = np.asarray(list(values), dtype="float64")
    return array[np.isfinite(array) & (array > 0)]


def _ratio_interval(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    def ratio(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.median(y, axis=axis) / np.median(x, axis=axis)

    return bootstrap_interval((a, b), ratio)


def _runs_needed(a: np.ndarray, b: np.ndarray, ratio: float, band: float) -> int | None:
    # The normal approximation of the module docstring; None when the ratio sits between
    # the no-change limit and the band's edge, or on one (no number of runs decides it).
    change = abs(math.log(ratio))
    gap = max(change - math.log1p(band), math.log1p(min(band, NO_CHANGE_LIMIT)) - change)
    if gap < 1e-9:
        return None
    z = stats.norm.ppf(1 - (1 - CONFIDENCE) / 2) + stats.norm.ppf(POWER)
    spread = np.var(np.log(a), ddof=1) + np.var(np.log(b), ddof=1)
    needed = (z**2) * (math.pi / 2) * spread / gap**2
    return min(math.ceil(needed), MAX_RUNS_ESTIMATE + 1)
