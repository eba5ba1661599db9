"""Aggregates of the runs table, shared by summary.md, report.html and the plots so all
agree: repetition statistics, thread scaling, derived perf metrics, unsupported counters.

Every figure of a configuration (partition, model, flag set, threads) is the median over
its ok runs, with min, max and the coefficient of variation CV = sample standard
deviation (ddof=1) / mean: the repetitions are a sample of the runs the configuration
could give. CV needs two ok runs; with one it is NaN ("no noise estimate").
"""

import numpy as np
import pandas as pd
from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_rules

from collect.formatting import band_text
from collect.perf_metrics import (
    COUNTER_COLUMNS,
    DEFAULT_COUNTERS,
    DERIVED_METRICS,
    REPORTED_METRICS,
)
from collect.runs import STATUS_OK, comparable
from collect.verdicts import (
    COMPARE_MIN_EFFECT,
    MAX_SPLITS,
    MIN_CHANGE,
    NOISE_QUANTILE,
    Verdict,
    compare_samples,
    noise_band,
)

# Shown for a run whose partition, model or flag set is not known (a runs table that did
# not come from a plan, e.g. the history's).
UNKNOWN = "(unknown)"

# A configuration whose CV of tok/s is above this is flagged as noisy (sweep_rules' rule,
# which -e sweep_topup applies too).
NOISY_CV = sweep_rules.NOISY_CV

_NAME_COLUMNS = ("partition", "model", "flag_set")


def _cv(ok_tok_s: pd.Series) -> float:
    """sweep_rules.coefficient_of_variation of a group's ok figures (NaN: none)."""
    cv = sweep_rules.coefficient_of_variation(ok_tok_s.dropna())
    return np.nan if cv is None else cv


def flag_set_table(runs: pd.DataFrame, min_effect: float = COMPARE_MIN_EFFECT) -> pd.DataFrame:
    """One row per partition, model, thread count and flag set, in the sweep's order.

    Columns: partition, model, threads, flag_set, cflags, openmp (the plan's: whether the
    flag set builds an OpenMP binary; None where the plan does not say), declared_order,
    runs_ok, runs_total, median, min, max, mean, cv (tok/s of the ok runs that did not stop
    early: runs.comparable; runs_ok counts them), noisy (cv above NOISY_CV), samples (those
    runs' tok/s, in run order), noise_band (the partition's reproducibility, noise_bands: a
    figure, not a gate), speedup: the median over the
    median of the first flag set in the declared order with the same partition, model
    and thread count, with VERDICT_COLUMNS prefixed speedup_ (verdicts.compare_samples
    against that flag set's runs; the baseline's own row: NaN and verdict "baseline"),
    and best: whether this is the flag set's best thread count on that partition and
    model (best_configurations).
    Statistics of a group without ok runs are NaN; cv of a group with one ok run is NaN.
    """
    keys = ["partition", "model", "threads", "flag_set"]
    runs = runs.assign(
        **{column: runs[column].fillna(UNKNOWN) for column in _NAME_COLUMNS},
        ok_tok_s=runs["tok_s"].where(comparable(runs)),
        declared_order=declared_order(runs),
    )
    table = (
        runs.groupby(keys, dropna=False, sort=False)
        .agg(
            cflags=("cflags", "first"),
            openmp=("openmp", "first"),
            declared_order=("declared_order", "min"),
            runs_ok=("ok_tok_s", "count"),
            runs_total=("status", "size"),
            median=("ok_tok_s", "median"),
            min=("ok_tok_s", "min"),
            max=("ok_tok_s", "max"),
            mean=("ok_tok_s", "mean"),
            cv=("ok_tok_s", _cv),
            samples=("ok_tok_s", lambda values: tuple(values.dropna())),
        )
        .reset_index()
    )
    table["noisy"] = table["cv"].map(sweep_rules.is_noisy)
    # Declared order: partitions and models as listed, then threads, then flag sets.
    table = table.assign(
        partition_first=table.groupby("partition")["declared_order"].transform("min"),
        model_first=table.groupby(["partition", "model"])["declared_order"].transform("min"),
    ).sort_values(
        ["partition_first", "model_first", "threads", "declared_order"],
        na_position="last",
        kind="stable",
    )
    baseline_median = table.groupby(["partition", "model", "threads"], dropna=False, sort=False)[
        "median"
    ].transform(lambda medians: medians.iloc[0])
    table["speedup"] = table["median"] / baseline_median
    bands = noise_bands(table).set_index("partition")["noise_band"]
    table["noise_band"] = table["partition"].map(bands).astype("float64")
    baseline_samples = table.groupby(["partition", "model", "threads"], dropna=False, sort=False)[
        "samples"
    ].transform("first")
    is_baseline = (
        table.groupby(["partition", "model", "threads"], dropna=False, sort=False).cumcount().eq(0)
    )
    table = _with_verdicts(table, "speedup", baseline_samples, is_baseline, min_effect)
    best = best_configurations(runs)
    table["best"] = [
        (row.partition, row.model, row.flag_set, row.threads) in best
        for row in table.itertuples(index=False)
    ]
    return table.drop(columns=["partition_first", "model_first"]).reset_index(drop=True)


def declared_order(runs: pd.DataFrame) -> pd.Series:
    """Each run's configuration's place in the sweep's declared order: the plan's
    declared_order; a run without one (a plan from before the shuffled run order, whose
    runs ran as declared; a table not from a plan) its index."""
    if "declared_order" not in runs:
        return runs["index"]
    return runs["declared_order"].fillna(runs["index"])


# The columns a comparison adds (each prefixed with what is compared, e.g. speedup_):
# the interval of the ratio, the verdict, its text (with the runs needed), the p value.
VERDICT_COLUMNS = ("low", "high", "verdict", "verdict_text", "p_value")
BASELINE = "baseline"


def _with_verdicts(
    table: pd.DataFrame,
    prefix: str,
    reference: pd.Series,
    is_reference: pd.Series,
    min_effect: float,
) -> pd.DataFrame:
    """table with VERDICT_COLUMNS prefixed `prefix`_: each row's samples against its
    reference samples; a reference row's own: NaN and BASELINE."""
    verdicts: list[Verdict | None] = [
        None if own else compare_samples(other, samples, min_effect)
        for own, other, samples in zip(is_reference, reference, table["samples"], strict=True)
    ]
    columns = {
        "low": [v.low if v else np.nan for v in verdicts],
        "high": [v.high if v else np.nan for v in verdicts],
        "verdict": [v.verdict if v else BASELINE for v in verdicts],
        "verdict_text": [v.text if v else BASELINE for v in verdicts],
        "p_value": [v.p_value if v else np.nan for v in verdicts],
    }
    return table.assign(**{f"{prefix}_{name}": values for name, values in columns.items()})


def noise_bands(table: pd.DataFrame) -> pd.DataFrame:
    """Per partition of flag_set_table: noise_band (verdicts.noise_band of its
    configurations' repetitions; NaN when none has two ok runs), configurations and
    splits it comes from."""
    records = []
    for partition, rows in table.groupby("partition", sort=False):
        band = noise_band(rows["samples"])
        records.append(
            {
                "partition": partition,
                "noise_band": band.band,
                "configurations": band.configurations,
                "splits": band.splits,
            }
        )
    return pd.DataFrame.from_records(
        records, columns=["partition", "noise_band", "configurations", "splits"]
    )


def noise_band_text(noise: pd.DataFrame, partition: str) -> str:
    """The partition's measured noise band and where it comes from."""
    rows = noise[noise["partition"] == partition]
    if rows.empty or pd.isna(rows["noise_band"].iloc[0]):
        return "Noise band: not measured (no configuration has two ok runs)."
    row = rows.iloc[0]
    return (
        f"Noise band: {band_text(row['noise_band'])}, what the same binary run again gives "
        f"here: the {NOISE_QUANTILE:.0%} quantile of how far apart the medians of two halves "
        f"of a configuration's repetitions are, split every way (at most {MAX_SPLITS}; "
        f"{row['splits']} splits of {row['configurations']} configurations; at least "
        f"{100 * MIN_CHANGE:.0f} %). A figure of reproducibility: each comparison is judged "
        "from its own two samples."
    )


def best_configurations(runs: pd.DataFrame) -> set[tuple[str, str, str, int]]:
    """(partition, model, flag_set, threads) of each flag set's best thread count on each
    partition and model: sweep_rules.best_configurations over the ok runs, the rule the
    node's profile selection ("fastest") uses, so the report's best is what was profiled."""
    ok = runs[(runs["status"] == STATUS_OK) & runs["tok_s"].notna() & runs["threads"].notna()]
    best = set()
    for (partition, model), group in ok.groupby(["partition", "model"], sort=False):
        rows = [
            {"flag_set": row.flag_set, "threads": int(row.threads), "tok_s": float(row.tok_s)}
            for row in group.itertuples(index=False)
        ]
        for chosen in sweep_rules.best_configurations(rows).values():
            best.add((partition, model, chosen["flag_set"], chosen["threads"]))
    return best


def scaling_table(table: pd.DataFrame, min_effect: float = COMPARE_MIN_EFFECT) -> pd.DataFrame:
    """Thread scaling per partition, model and flag set that ran several thread counts.

    From flag_set_table's rows with ok runs. Columns: partition, model, flag_set, cflags, openmp,
    threads, median, cv, noisy, samples, noise_band, baseline_threads (1, else the
    fewest threads run), speedup (median over the baseline's median) with
    VERDICT_COLUMNS prefixed speedup_ (against the baseline thread count's runs),
    efficiency (speedup over threads / baseline_threads) and best (flag_set_table's: the
    best thread count). Empty when no flag set ran several thread counts.
    """
    columns = ["partition", "model", "flag_set", "cflags", "openmp", "threads", "median", "cv"]
    columns += ["noisy"]
    columns += ["samples", "noise_band", "best"]
    rows = table.loc[(table["runs_ok"] > 0) & table["threads"].notna(), columns]
    group_keys = ["partition", "model", "flag_set"]
    thread_counts = rows.groupby(group_keys, sort=False)["threads"].transform("nunique")
    rows = rows[thread_counts > 1]
    order = rows.groupby(group_keys, sort=False).ngroup()  # the sweep's order
    rows = rows.assign(order=order).sort_values(["order", "threads"], kind="stable")
    if rows.empty:
        return rows.drop(columns="order").assign(
            baseline_threads=pd.Series(dtype="Int64"),
            speedup=pd.Series(dtype="float64"),
            efficiency=pd.Series(dtype="float64"),
            **{f"speedup_{name}": pd.Series(dtype="object") for name in VERDICT_COLUMNS},
        )
    groups = rows.groupby(group_keys, sort=False)
    rows["baseline_threads"] = groups["threads"].transform("min")
    baseline_median = groups["median"].transform("first")
    rows["speedup"] = rows["median"] / baseline_median
    baseline_samples = groups["samples"].transform("first")
    rows = _with_verdicts(rows, "speedup", baseline_samples, groups.cumcount().eq(0), min_effect)
    threads = rows["threads"].astype("float64")
    rows["efficiency"] = rows["speedup"] / (threads / rows["baseline_threads"].astype("float64"))
    return rows.drop(columns="order").reset_index(drop=True)


def add_derived_metrics(runs: pd.DataFrame) -> pd.DataFrame:
    """runs with a column per perf_metrics.DERIVED_METRICS from each run's figures (NaN
    when one is missing)."""

    def number(column: str) -> pd.Series:
        return pd.to_numeric(runs[column], errors="coerce").astype("float64")

    derived = {
        metric.column: number(metric.numerator)
        / (number(metric.denominator) * metric.denominator_unit)
        for metric in DERIVED_METRICS
    }
    return runs.assign(
        **{name: values.replace([np.inf, -np.inf], np.nan) for name, values in derived.items()}
    )


def perf_metrics_table(runs: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """Per configuration of flag_set_table (same rows, same order): perf_runs (ok runs
    with perf figures) and, for each of perf_metrics.REPORTED_METRICS, the median,
    `<metric>_min` and `<metric>_max` over the ok runs. runs must hold
    add_derived_metrics's columns."""
    keys = ["partition", "model", "threads", "flag_set"]
    ok = runs[runs["status"] == STATUS_OK].assign(
        **{column: runs[column].fillna(UNKNOWN) for column in _NAME_COLUMNS}
    )
    aggregations = {"perf_runs": ("task_clock_ms", "count")}
    for metric in (reported.column for reported in REPORTED_METRICS):
        values = pd.to_numeric(ok[metric], errors="coerce").astype("float64")
        ok = ok.assign(**{metric: values})
        aggregations |= {
            metric: (metric, "median"),
            f"{metric}_min": (metric, "min"),
            f"{metric}_max": (metric, "max"),
        }
    metrics = ok.groupby(keys, dropna=False, sort=False).agg(**aggregations).reset_index()
    result = table[keys].merge(metrics, on=keys, how="left")
    result["perf_runs"] = result["perf_runs"].fillna(0).astype("int64")
    return result


def perf_support(runs: pd.DataFrame, facts: dict[str, dict] | None = None) -> pd.DataFrame:
    """Per partition, what perf stat could count: perf_runs (runs with a perf stat
    block), not_supported (events perf printed `<not supported>`/`<not counted>` in every one of
    them), never_measured (counters of perf's default set with no value in any of them,
    e.g. not in the event list) and facts_unsupported (facts/<partition>.json's
    perf_unsupported). Lists are of event names."""
    facts = facts or {}
    records = []
    partitions = list(dict.fromkeys([*runs["partition"].dropna(), *facts]))
    for partition in partitions:
        partition_runs = runs[runs["partition"] == partition]
        with_perf = partition_runs[_perf_ran(partition_runs)]
        not_supported: list[str] = []
        if not with_perf.empty:
            per_run = [
                text.split(";") if isinstance(text, str) and text else []
                for text in with_perf.get("perf_unsupported", pd.Series(dtype=object))
            ]
            common = set.intersection(*(set(events) for events in per_run)) if per_run else set()
            not_supported = [event for event in per_run[0] if event in common] if per_run else []
        unsupported_bases = {event.split(":", 1)[0] for event in not_supported}
        never_measured = [
            event
            for event, figure in DEFAULT_COUNTERS.items()
            if not with_perf.empty
            and with_perf[figure].isna().all()
            and event not in unsupported_bases
        ]
        facts_unsupported = (facts.get(partition) or {}).get("perf_unsupported") or []
        records.append(
            {
                "partition": partition,
                "perf_runs": len(with_perf),
                "not_supported": not_supported,
                "never_measured": never_measured,
                "facts_unsupported": list(facts_unsupported),
            }
        )
    return pd.DataFrame.from_records(
        records,
        columns=["partition", "perf_runs", "not_supported", "never_measured", "facts_unsupported"],
    )


def _perf_ran(runs: pd.DataFrame) -> pd.Series:
    # Runs whose perf stat block has anything: a counted figure or an unsupported event
    # (a run killed before perf wrote its block tells nothing about the counters).
    measured = runs[list(COUNTER_COLUMNS)].notna().any(axis=1)
    if "perf_unsupported" in runs:
        measured |= runs["perf_unsupported"].notna()
    return measured
