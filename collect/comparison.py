"""Two runs tables configuration by configuration: medians, the ratio B/A, and whether it
is a change (the analysis behind `compare A B` and the findings against the seed).

Configurations match on partition, model, the flags (cflags with their words sorted, else
the flag-set name) and the thread count; a side that did not record threads (the seed)
matches every thread count. Each configuration's verdict is verdicts.compare_samples on
the two sides' ok runs (the ratio of geometric means B/A with its CONFIDENCE Welch
interval; faster, slower, no detectable change or too few runs to tell, with the runs
needed). The larger of the two sides' measured noise bands (stats.noise_bands) of that
partition is given beside it.
"""

import pandas as pd

from collect.runs import emulated_rows
from collect.stats import flag_set_table
from collect.verdicts import COMPARE_MIN_EFFECT, compare_samples

COMPARISON_COLUMNS = (
    "partition",
    "model",
    "flags",
    "flag_set_a",
    "flag_set_b",
    "threads",
    "runs_a",
    "median_a",
    "cv_a",
    "runs_b",
    "median_b",
    "cv_b",
    "ratio",
    "ratio_low",
    "ratio_high",
    "noise_band",
    "verdict",
)


def configuration_stats(runs: pd.DataFrame, min_effect: float = COMPARE_MIN_EFFECT) -> pd.DataFrame:
    """flag_set_table of runs with a `flags` matching key: the cflags' words sorted
    (`-O3 -fopenmp`), else the flag-set name. Emulated rows (qemu) are no performance."""
    table = flag_set_table(runs[~emulated_rows(runs)], min_effect)
    table["flags"] = flags_keys(table)
    return table


def flags_keys(rows: pd.DataFrame) -> list[str]:
    """What configurations match on across sweeps: the cflags' words sorted
    (`-O3 -fopenmp`), else the flag-set name."""
    return [
        " ".join(sorted(cflags.split())) if isinstance(cflags, str) and cflags.strip() else name
        for cflags, name in zip(rows["cflags"], rows["flag_set"], strict=True)
    ]


def compare_runs(
    runs_a: pd.DataFrame, runs_b: pd.DataFrame, min_effect: float = COMPARE_MIN_EFFECT
) -> pd.DataFrame:
    """One row per configuration of A or B (COMPARISON_COLUMNS), A's order first."""
    a = configuration_stats(runs_a, min_effect)
    b = configuration_stats(runs_b, min_effect)
    keys = ["partition", "model", "flags"]
    if a["threads"].notna().any() and b["threads"].notna().any():
        keys.append("threads")
    values = {"flag_set": "flag_set", "runs_ok": "runs", "median": "median", "min": "min"}
    values |= {"max": "max", "cv": "cv", "samples": "samples", "noise_band": "noise_band"}
    if "threads" not in keys:
        values["threads"] = "threads"

    def side(table: pd.DataFrame, suffix: str) -> pd.DataFrame:
        renames = {column: f"{name}_{suffix}" for column, name in values.items()}
        ordered = table[[*keys, *values]].rename(columns=renames)
        return ordered.assign(**{f"order_{suffix}": range(len(ordered))})

    # An outer merge sorts its keys: put the rows back in A's order, B's own rows after.
    merged = side(a, "a").merge(side(b, "b"), on=keys, how="outer")
    merged = merged.sort_values(["order_a", "order_b"], na_position="last", kind="stable")
    if "threads" not in keys:
        merged["threads"] = merged["threads_b"].combine_first(merged["threads_a"])
    merged["ratio"] = merged["median_b"] / merged["median_a"]
    # The larger of the two sides' noise bands (a side of single runs has none).
    merged["noise_band"] = merged[["noise_band_a", "noise_band_b"]].max(axis=1)
    verdicts = [verdict(row, min_effect) for row in merged.to_dict("records")]
    merged["ratio_low"] = [low for low, _, _ in verdicts]
    merged["ratio_high"] = [high for _, high, _ in verdicts]
    merged["verdict"] = [text for _, _, text in verdicts]
    return merged[list(COMPARISON_COLUMNS)].reset_index(drop=True)


def verdict(row: dict, min_effect: float = COMPARE_MIN_EFFECT) -> tuple[float, float, str]:
    """The ratio's interval and verdicts.compare_samples's verdict (its text), or only
    in A/B, no ok runs in A/B."""
    nan = float("nan")
    if pd.isna(row.get("runs_a")):
        return nan, nan, "only in B"
    if pd.isna(row.get("runs_b")):
        return nan, nan, "only in A"
    missing = [name for name in ("a", "b") if pd.isna(row[f"median_{name}"])]
    if missing:
        return nan, nan, "no ok runs in " + " and ".join(name.upper() for name in missing)
    result = compare_samples(row["samples_a"], row["samples_b"], min_effect)
    return result.low, result.high, result.text
