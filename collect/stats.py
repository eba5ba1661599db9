"""Aggregates of the runs table, shared by summary.md and the plots so both agree."""

import pandas as pd

from collect.runs import STATUS_OK

# Shown for a run whose partition, model or flag set is not known (no meta.json, no
# manifest line and a run directory name that does not follow the layout).
UNKNOWN = "(unknown)"

_NAME_COLUMNS = ("partition", "model", "flag_set")


def flag_set_table(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per partition, model, thread count and flag set, in the sweep's order.

    Columns: partition, model, threads, flag_set, cflags, first_index, runs_ok,
    runs_total, median, min, max (tok/s of the ok runs) and speedup: the median over
    the median of the first flag set (lowest index) with the same partition, model and
    thread count. Statistics of a group without ok runs are NaN.
    """
    keys = ["partition", "model", "threads", "flag_set"]
    runs = runs.assign(
        **{column: runs[column].fillna(UNKNOWN) for column in _NAME_COLUMNS},
        ok_tok_s=runs["tok_s"].where(runs["status"] == STATUS_OK),
    )
    table = (
        runs.groupby(keys, dropna=False, sort=False)
        .agg(
            cflags=("cflags", "first"),
            first_index=("index", "min"),
            runs_ok=("ok_tok_s", "count"),
            runs_total=("status", "size"),
            median=("ok_tok_s", "median"),
            min=("ok_tok_s", "min"),
            max=("ok_tok_s", "max"),
        )
        .reset_index()
    )
    # Sweep order: partitions and models by their first run, then threads, then flag sets.
    table = table.assign(
        partition_first=table.groupby("partition")["first_index"].transform("min"),
        model_first=table.groupby(["partition", "model"])["first_index"].transform("min"),
    ).sort_values(
        ["partition_first", "model_first", "threads", "first_index"],
        na_position="last",
        kind="stable",
    )
    baseline_median = table.groupby(["partition", "model", "threads"], dropna=False, sort=False)[
        "median"
    ].transform(lambda medians: medians.iloc[0])
    table["speedup"] = table["median"] / baseline_median
    return table.drop(columns=["partition_first", "model_first"]).reset_index(drop=True)
