"""How much tok/s drifted over a sweep (thermal state, other load), per partition.

Each ok run's tok/s is divided by its configuration's median (the configurations being what
the runs differ in on purpose) and placed at its start time (execution.txt). Each
configuration run at least twice gives its own slope through its runs
(scipy.stats.theilslopes, the median of pairwise slopes); the partition's drift rate is the
median of those slopes, and slope x span (first to last start) the drift over the sweep.
Its interval is the distribution-free interval of the median of the slopes
(verdicts.median_interval: order statistics, the sign test's interval) at CONFIDENCE or
the level the slopes reach: the configurations are the independent units, a
configuration's runs are not (they share its median), and without drift each slope is as
likely above 0 as below, so the interval excludes 0 by chance at most 1 - its level.
With fewer than MIN_CONFIGURATIONS slopes no interval reaches CONFIDENCE (5 slopes:
93.8 %): no drift is judged. The drift is detectable when the interval excludes 0 (the
simulation of bench/verdicts measures the false alarms). With the plan's shuffled run order each
configuration's repetitions are spread over the sweep, so the drift shows here instead of
as a bias of the configurations that ran last.
"""

import math

import numpy as np
import pandas as pd
from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_rules
from scipy import stats

from collect.runs import comparable
from collect.verdicts import median_interval

CONFIDENCE = 0.95
# The fewest slopes whose order-statistic interval reaches CONFIDENCE (6: 96.9 %).
MIN_CONFIGURATIONS = 6

DRIFT_COLUMNS = (
    "partition",
    "configurations",
    "runs",
    "span_s",
    "drift",
    "low",
    "high",
    "level",
    "detectable",
)


def drift_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per partition of runs (in their order): configurations (those with two or
    more ok runs with start times, apart in time) and their runs, span_s (seconds from the
    partition's first ok run's start to its last), drift, low, high (the relative change of
    tok/s over span_s and its CONFIDENCE interval, e.g. -0.03: 3 % slower at the end; NaN
    with fewer than MIN_CONFIGURATIONS configurations) and detectable (the interval
    excludes 0) and level (the interval's, at least CONFIDENCE)."""
    keys = list(sweep_rules.CONFIGURATION)
    ok = drift_points(runs)
    rows = []
    for partition in runs["partition"].dropna().unique():
        points = ok[ok["partition"] == partition]
        seconds = points["seconds"].to_numpy()
        relative = points["relative"].to_numpy()
        slopes, counted = [], 0
        for positions in points.groupby(keys).indices.values():  # numpy: fast
            if len(np.unique(seconds[positions])) >= 2:
                slopes.append(stats.theilslopes(relative[positions], seconds[positions]).slope)
                counted += len(positions)
        span = float(seconds.max()) if counted else 0.0
        drift = low = high = level = math.nan
        if len(slopes) >= MIN_CONFIGURATIONS:
            drift = float(np.median(slopes)) * span
            low, high, level = drift_interval(slopes)
            low, high = low * span, high * span
        rows.append(
            {
                "partition": partition,
                "configurations": len(slopes),
                "runs": counted,
                "span_s": span,
                "drift": drift,
                "low": low,
                "high": high,
                "level": level,
                "detectable": bool(low > 0 or high < 0),
            }
        )
    return pd.DataFrame(rows, columns=list(DRIFT_COLUMNS))


def drift_points(runs: pd.DataFrame) -> pd.DataFrame:
    """The ok runs with start times, each placed in its partition's sweep: seconds (from the
    partition's first such run's start) and relative (its tok/s over its configuration's
    median); the runs' other columns kept."""
    keys = list(sweep_rules.CONFIGURATION)
    ok = runs[comparable(runs)]
    start = pd.to_datetime(ok["start_time"], utc=True, errors="coerce", format="ISO8601")
    ok = ok.assign(start=start).dropna(subset=["start"])
    first = ok.groupby("partition")["start"].transform("min")
    return ok.assign(
        seconds=(ok["start"] - first).dt.total_seconds(),
        relative=ok["tok_s"] / ok.groupby(keys)["tok_s"].transform("median"),
    )


def drift_interval(slopes) -> tuple[float, float, float]:
    """The interval of the median of the configurations' slopes, and its level."""
    return median_interval(slopes, CONFIDENCE)


def drift_sentence(row) -> str:
    """What a row of drift_table says, as a sentence without the partition's name."""
    if math.isnan(row.drift):
        return (
            f"too few runs to tell drift ({row.configurations} configurations with two or "
            f"more ok runs at different times; {MIN_CONFIGURATIONS} needed)."
        )
    interval = (
        f"{row.level * 100:.1f} % interval {_percent(row.low)} to {_percent(row.high)}; "
        f"{row.runs} ok runs of {row.configurations} configurations over "
        f"{_duration(row.span_s)}"
    )
    if row.detectable:
        return f"tok/s drifted by {_percent(row.drift)} over the sweep ({interval})."
    return f"no detectable drift ({_percent(row.drift)} over the sweep, {interval})."


def _percent(fraction: float) -> str:
    return f"{fraction * 100:+.1f} %"


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 2 * 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
