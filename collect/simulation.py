"""The seeded simulation that proves the verdicts' error rates (verdicts.py): trials of
two samples of log tok/s drawn from fixed noise models, judged by verdicts.decide, the rule
every comparison uses. bench/verdicts prints the full table (collect/README.md);
tests/test_collect_simulation.py runs a small version.

Noise models (each run's tok/s is the true figure times the noise; CV is that of the
lognormal part):

- lognormal: exp(N(0, s)), s = sqrt(log(1 + CV^2));
- outliers: lognormal, and 5 % of runs at 0.7x (a run disturbed by other work);
- two-state: lognormal, and each run in one of two clock states, 1.0x or 0.9x, half and
  half.

B is A's distribution times 1 + change, so the true ratio of geometric means is exactly
1 + change. Per cell (model, runs a side, CV, change) it measures the verdicts' rates,
the power of Welch's test alone at ALPHA (the reference), the interval's coverage of the
true ratio, and the runs-needed advice: how often an undecided comparison gets a number
(at most MAX_RUNS_ESTIMATE), and how often a fresh comparison with that many runs a side,
from the same distributions, decides (its power, promised to be POWER).
"""

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

from collect.verdicts import (
    ALPHA,
    COMPARE_MIN_EFFECT,
    FASTER,
    MAX_RUNS_ESTIMATE,
    NO_CHANGE,
    SLOWER,
    TOO_FEW,
    decide,
)

MODELS = ("lognormal", "outliers", "two-state")
RUNS = (3, 5, 10, 20)
CVS = (0.01, 0.03, 0.10, 0.30)
CHANGES = (0.0, 0.02, 0.05, 0.10, 0.30)
SEED = 19
OUTLIER_SHARE, OUTLIER_FACTOR = 0.05, 0.7
SLOW_STATE_SHARE, SLOW_STATE_FACTOR = 0.5, 0.9


def draw(rng: np.random.Generator, model: str, cv: float, shape: tuple[int, int]) -> np.ndarray:
    """Log of the noise factor of trials x runs runs under model."""
    logs = rng.normal(0.0, math.sqrt(math.log1p(cv**2)), shape)
    if model == "outliers":
        logs += np.where(rng.random(shape) < OUTLIER_SHARE, math.log(OUTLIER_FACTOR), 0.0)
    elif model == "two-state":
        logs += np.where(rng.random(shape) < SLOW_STATE_SHARE, math.log(SLOW_STATE_FACTOR), 0.0)
    elif model != "lognormal":
        raise ValueError(f"unknown noise model {model!r}")
    return logs


@dataclass(frozen=True)
class Cell:
    """One cell's rates over its trials (fractions): faster, slower, no_change, too_few,
    welch (Welch's test alone rejects at ALPHA in the direction of the change; with no
    change, either way), coverage (the interval holds the true ratio), advised (share of
    the undecided trials given a number of runs), advice_power (share of the followed
    advice that decides; NaN where none was given)."""

    model: str
    runs: int
    cv: float
    change: float
    trials: int
    faster: float
    slower: float
    no_change: float
    too_few: float
    welch: float
    coverage: float
    advised: float
    advice_power: float

    @property
    def detected(self) -> float:
        """The rate of the verdict the change calls for: faster, or for no change any
        false faster or slower."""
        return self.faster if self.change else self.faster + self.slower


def simulate_cell(
    model: str,
    runs: int,
    cv: float,
    change: float,
    trials: int,
    min_effect: float = COMPARE_MIN_EFFECT,
    seed: int = SEED,
) -> Cell:
    """The cell's rates over trials comparisons, seeded by the cell (the same cell always
    gives the same figures)."""
    cell_seed = [seed, MODELS.index(model), runs, round(cv * 1e4), round(change * 1e4)]
    rng = np.random.default_rng(cell_seed)
    truth = math.log1p(change)
    log_a = draw(rng, model, cv, (trials, runs))
    log_b = draw(rng, model, cv, (trials, runs)) + truth
    decisions = decide(log_a, log_b, min_effect)
    verdict = decisions.verdict
    rejects = decisions.p_value < ALPHA
    welch = rejects & (decisions.log_ratio > 0) if change else rejects
    undecided = verdict == TOO_FEW
    needed = decisions.runs_needed[undecided]
    advice = needed[needed <= MAX_RUNS_ESTIMATE]
    decided = 0
    for count, followed in zip(*np.unique(advice, return_counts=True), strict=True):
        again = decide(
            draw(rng, model, cv, (followed, count)),
            draw(rng, model, cv, (followed, count)) + truth,
            min_effect,
        )
        decided += int((again.verdict != TOO_FEW).sum())
    return Cell(
        model,
        runs,
        cv,
        change,
        trials,
        faster=float((verdict == FASTER).mean()),
        slower=float((verdict == SLOWER).mean()),
        no_change=float((verdict == NO_CHANGE).mean()),
        too_few=float(undecided.mean()),
        welch=float(welch.mean()),
        coverage=float(((decisions.low <= truth) & (truth <= decisions.high)).mean()),
        advised=len(advice) / len(needed) if len(needed) else math.nan,
        advice_power=decided / len(advice) if len(advice) else math.nan,
    )


def upper_rate(rate: float, trials: int, confidence: float = 0.95) -> float:
    """The one-sided upper confidence bound of a rate observed in trials (Clopper-Pearson,
    scipy.stats.binomtest): what the trials cannot rule out."""
    successes = round(rate * trials)
    bound = stats.binomtest(successes, trials).proportion_ci(confidence, method="exact").high
    return float(bound)
