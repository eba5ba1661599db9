"""Whether one sample of tok/s is faster than another, the one rule every comparison uses
(`compare A B`, the speedup over the baseline flag set, the speedup over one thread, the
findings).

Each comparison is judged from its own two samples, on log tok/s (a real change multiplies
every run, so it is a shift of log tok/s):

- the change is the ratio of geometric means B/A, with the CONFIDENCE interval of Welch's
  t-test on log tok/s (scipy.stats.ttest_ind, equal_var=False): the two sides may differ
  in spread (a quiet configuration against a noisy one), and the simulation
  (bench/verdicts, collect/README.md) shows its error rates hold from 3 runs a side
  under skew and outliers, from 5 under two clock states;
- no detectable change: the whole interval lies inside ±min_effect (COMPARE_MIN_EFFECT, 2 %,
  the practical threshold): whatever the change is, it is smaller than one that matters;
- faster / slower: otherwise, where the test rejects "no change" at ALPHA (= 1 -
  CONFIDENCE: the interval excludes 1): the change is real and may matter. The estimate
  alone is not asked to lie beyond the threshold: a true change at the threshold would
  then be called half the time whatever the runs (the simulation measured 50 % where
  Welch's test alone finds it 92 % of the time), and no number of runs could be advised
  for it;
- too few runs to tell: anything else (the interval holds no change and reaches beyond the
  threshold), or fewer than MIN_RUNS ok runs on a side.

So the undecided estimates are those between the threshold less the interval's half-width
and the half-width: once the half-width is below half the threshold, every comparison
decides. For too few runs to tell, runs_needed is the smallest number of ok runs a side
whose estimate lands outside that band with a POWER chance, for every change the runs so
far leave plausible (the estimate ± ADVICE_CHANGE_RANGE standard errors): the chance is
lowest for a change at half the threshold, so a range that holds it is planned there.
Estimates from 3 runs are rough, so each side's variance is taken at the upper
ADVICE_VARIANCE_QUANTILE point of its chi-square range. The number is rounded up to
ADVICE_DIGITS significant digits; beyond MAX_RUNS_ESTIMATE it says "more than" (the
simulation measures the power followed advice reaches).
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

import numpy as np
from scipy import stats
from scipy.special import comb

# Confidence level of every ratio interval; its complement is the test's level.
CONFIDENCE = 0.99
ALPHA = 1 - CONFIDENCE
# CONFIDENCE as every document writes it.
CONFIDENCE_TEXT = f"{100 * CONFIDENCE:.0f} %"
# The practical threshold: the half-width an interval must fit in for no detectable change
# (any change smaller than one that matters).
COMPARE_MIN_EFFECT = 0.02
# Fewer ok runs than this on a side: no interval worth the name.
MIN_RUNS = 3
# The smallest change ever called a change in the noise band (criterion's 1 %).
MIN_CHANGE = 0.01
# The quantile of the same binary's |log median ratio| that bounds the noise band.
NOISE_QUANTILE = 0.95
# Splits of one configuration's repetitions beyond which noise_band samples them.
MAX_SPLITS = 200
# noise_band's generator for sampled splits: the same runs give the same band.
SEED = 13
# The chance of deciding that runs_needed aims at.
POWER = 0.8
# runs_needed takes each side's variance at this upper quantile of its chi-square range,
# and the changes within this many standard errors of the estimate as plausible.
ADVICE_VARIANCE_QUANTILE = 0.7
ADVICE_CHANGE_RANGE = 1.0
# Runs-needed estimates beyond this are reported as "more than"; below, rounded up to
# ADVICE_DIGITS significant digits.
MAX_RUNS_ESTIMATE = 100_000
ADVICE_DIGITS = 2

FASTER = "faster"
SLOWER = "slower"
NO_CHANGE = "no detectable change"
TOO_FEW = "too few runs to tell"


@dataclass(frozen=True)
class Verdict:
    """B against A: ratio of geometric means B/A, its CONFIDENCE interval (NaN without
    one), Welch's p (NaN without one), the threshold used, the verdict and, for TOO_FEW,
    the estimated ok runs per side that would decide (MAX_RUNS_ESTIMATE + 1: more)."""

    ratio: float
    low: float
    high: float
    p_value: float
    min_effect: float
    verdict: str
    runs_needed: int | None = None

    @property
    def interval(self) -> str:
        return interval_text(self.low, self.high)

    @property
    def needs(self) -> str:
        """What would decide, for TOO_FEW: `needs ~7 runs each`; else ``."""
        if self.verdict != TOO_FEW or self.runs_needed is None:
            return ""
        more = "more than " if self.runs_needed > MAX_RUNS_ESTIMATE else "~"
        return f"needs {more}{min(self.runs_needed, MAX_RUNS_ESTIMATE)} runs each"

    @property
    def text(self) -> str:
        """The verdict, with the runs needed when it cannot tell."""
        return f"{self.verdict} ({self.needs})" if self.needs else self.verdict


def method_text(min_effect: float = COMPARE_MIN_EFFECT) -> str:
    """How a verdict is reached, in one paragraph for the legends of the tables."""
    return (
        f"A verdict compares two configurations' ok runs: the {CONFIDENCE_TEXT} interval "
        "of the ratio of their geometric means (Welch's t-test on log tok/s); no detectable "
        f"change: the whole interval lies inside ±{100 * min_effect:g} %; faster or slower: "
        f"otherwise, where the test rejects no change (p < {ALPHA:g}); too few runs to tell: "
        f"neither (with the ok runs a side that would decide with a {POWER:.0%} chance, when "
        f"the runs give an estimate), or under {MIN_RUNS} ok runs on a side "
        "(collect/README.md, Verdicts)."
    )


def interval_text(low: float, high: float) -> str:
    """`1.90–2.20`, or `—` without an interval (NaN)."""
    return "—" if math.isnan(low) else f"{low:.2f}–{high:.2f}"


def compare_samples(
    a: Sequence[float], b: Sequence[float], min_effect: float = COMPARE_MIN_EFFECT
) -> Verdict:
    """The verdict on B against A (tok/s of ok runs; NaN and non-positive ignored)."""
    return _compare(tuple(_finite(a)), tuple(_finite(b)), float(min_effect))


# The tables and the findings ask for the same comparisons: each is computed once.
@lru_cache(maxsize=4096)
def _compare(
    a_values: tuple[float, ...], b_values: tuple[float, ...], min_effect: float
) -> Verdict:
    a, b = np.log(a_values), np.log(b_values)
    if not len(a) or not len(b):
        return Verdict(math.nan, math.nan, math.nan, math.nan, min_effect, TOO_FEW, MIN_RUNS)
    ratio = math.exp(b.mean() - a.mean())
    if min(len(a), len(b)) < MIN_RUNS:
        needed = MIN_RUNS
        if min(len(a), len(b)) > 1:
            needed = max(int(runs_needed(a[None], b[None], min_effect)[0]), MIN_RUNS)
        return Verdict(ratio, math.nan, math.nan, math.nan, min_effect, TOO_FEW, needed)
    decision = decide(a[None], b[None], min_effect)
    verdict = str(decision.verdict[0])
    needed = int(decision.runs_needed[0]) if verdict == TOO_FEW else None
    return Verdict(
        ratio,
        math.exp(decision.low[0]),
        math.exp(decision.high[0]),
        float(decision.p_value[0]),
        min_effect,
        verdict,
        needed,
    )


@dataclass(frozen=True)
class Decisions:
    """decide's answers, one per row: log ratio, its interval, Welch's p, the verdict
    (FASTER, SLOWER, NO_CHANGE or TOO_FEW) and runs_needed (meaningful for TOO_FEW)."""

    log_ratio: np.ndarray
    low: np.ndarray
    high: np.ndarray
    p_value: np.ndarray
    verdict: np.ndarray
    runs_needed: np.ndarray


def decide(log_a: np.ndarray, log_b: np.ndarray, min_effect: float) -> Decisions:
    """The module's rule on many comparisons at once (the simulation's trials): each row
    of log_a against the same row of log_b (log tok/s, at least MIN_RUNS columns each)."""
    test = stats.ttest_ind(log_b, log_a, axis=-1, equal_var=False)
    interval = test.confidence_interval(CONFIDENCE)
    log_ratio = log_b.mean(axis=-1) - log_a.mean(axis=-1)
    threshold = math.log1p(min_effect)
    inside = (interval.low >= -threshold) & (interval.high <= threshold)
    rejects = test.pvalue < ALPHA
    verdict = np.select(
        [inside, rejects & (log_ratio > 0), rejects & (log_ratio < 0)],
        [NO_CHANGE, FASTER, SLOWER],
        TOO_FEW,
    )
    undecided = verdict == TOO_FEW
    needed = np.zeros(verdict.shape, dtype=int)  # only the undecided need runs
    needed[undecided] = np.maximum(
        runs_needed(log_a[undecided], log_b[undecided], min_effect),
        min(log_a.shape[-1], log_b.shape[-1]) + 1,
    )
    return Decisions(log_ratio, interval.low, interval.high, test.pvalue, verdict, needed)


def runs_needed(log_a: np.ndarray, log_b: np.ndarray, min_effect: float) -> np.ndarray:
    """Per row, the runs a side that decide with a POWER chance (module docstring),
    rounded up to ADVICE_DIGITS significant digits: MAX_RUNS_ESTIMATE + 1 where none up to
    MAX_RUNS_ESTIMATE does."""
    variances = [
        np.var(side, axis=-1, ddof=1)
        * (side.shape[-1] - 1)
        / stats.chi2.ppf(1 - ADVICE_VARIANCE_QUANTILE, side.shape[-1] - 1)
        for side in (log_a, log_b)
    ]
    spread = variances[0] + variances[1]
    threshold = math.log1p(min_effect)
    observed = np.abs(log_b.mean(axis=-1) - log_a.mean(axis=-1))
    error_now = np.sqrt(variances[0] / log_a.shape[-1] + variances[1] / log_b.shape[-1])
    # The plausible change the band catches most often: the one nearest half the threshold.
    planned = np.clip(
        threshold / 2,
        observed - ADVICE_CHANGE_RANGE * error_now,
        observed + ADVICE_CHANGE_RANGE * error_now,
    )

    def power(runs: np.ndarray) -> np.ndarray:
        error = np.sqrt(spread / runs)
        # Welch's degrees of freedom with equal runs a side.
        freedom = spread**2 * (runs - 1) / (variances[0] ** 2 + variances[1] ** 2)
        half_width = stats.t.ppf(1 - ALPHA / 2, freedom) * error
        # Undecided: threshold - half_width <= |estimate| <= half_width.
        low = threshold - half_width
        undecided = sum(
            np.clip(
                stats.norm.cdf((half_width - sign * planned) / error)
                - stats.norm.cdf((low - sign * planned) / error),
                0,
                None,
            )
            for sign in (1, -1)
        )
        return 1 - np.where(low < half_width, undecided, 0.0)

    # Power grows with the runs: bisect for the fewest that reach POWER.
    low = np.full(observed.shape, 2)
    high = np.full(observed.shape, MAX_RUNS_ESTIMATE + 1)
    while (low < high).any():
        middle = (low + high) // 2
        enough = power(middle) >= POWER
        high = np.where(enough, middle, high)
        low = np.where(enough, low, np.minimum(middle + 1, high))
    return np.minimum(_round_up(low), MAX_RUNS_ESTIMATE + 1)


def _round_up(runs: np.ndarray) -> np.ndarray:
    """runs rounded up to ADVICE_DIGITS significant digits (1234 -> 1300): advice, not a
    measurement."""
    unit = 10 ** np.maximum(np.floor(np.log10(runs)).astype(int) + 1 - ADVICE_DIGITS, 0)
    return -(-runs // unit) * unit


def median_interval(
    values: Sequence[float], confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """The distribution-free interval of the median from the sample's order statistics:
    the narrowest pair (k-th smallest, k-th largest) whose chance of holding the true
    median is at least confidence, else the whole range; with that chance (the level the
    interval really has, 1 - 2 P(Binomial(n, 1/2) < k), e.g. 75 % for the range of 3 runs).
    (NaN, NaN, NaN) with fewer than MIN_RUNS values."""
    values = np.sort(np.asarray(list(values), dtype="float64"))
    values = values[np.isfinite(values)]  # any sign: drift's slopes use it too
    n = len(values)
    if n < MIN_RUNS:
        return math.nan, math.nan, math.nan
    ranks = np.arange(1, n // 2 + 1)  # k: the k-th smallest and k-th largest
    levels = 1 - 2 * stats.binom.cdf(ranks - 1, n, 0.5)
    k = int(ranks[levels >= confidence].max()) if (levels >= confidence).any() else 1
    return float(values[k - 1]), float(values[n - k]), float(levels[k - 1])


def prediction_interval(values: Sequence[float]) -> tuple[float, float]:
    """The CONFIDENCE interval where one more run of the configuration lands: on log tok/s,
    mean ± t(n - 1) s sqrt(1 + 1/n) (exact for lognormal runs); (NaN, NaN) with fewer than
    MIN_RUNS values. What a single published run is compared with: the interval of the
    median is far narrower than one run's spread."""
    logs = np.log(_finite(values))
    n = len(logs)
    if n < MIN_RUNS:
        return math.nan, math.nan
    half = stats.t.ppf(1 - ALPHA / 2, n - 1) * logs.std(ddof=1) * math.sqrt(1 + 1 / n)
    return math.exp(logs.mean() - half), math.exp(logs.mean() + half)


@dataclass(frozen=True)
class NoiseBand:
    """What "no change" looks like: band (relative, NaN when unmeasured), from how many
    configurations and splits of their repetitions."""

    band: float
    configurations: int
    splits: int


def noise_band(samples: Iterable[Sequence[float]]) -> NoiseBand:
    """The noise band of a partition (how reproducible its runs are; a reported figure,
    no comparison is gated by it) from the repetitions of each of its configurations
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
