"""The memory-bandwidth roofline of token generation (pure: tables in, tables out).

llama2.c reads every weight once per generated token, so a configuration cannot
generate more than (sustainable memory bandwidth) / (checkpoint bytes) tokens a second.
The sweep measures the bandwidth with a STREAM-like triad (bandwidth/*.json, see
docs/results-layout.md) per partition and thread count at two working sets: "large"
(far beyond the last-level cache: DRAM) and each model's checkpoint size (which may
stream from a large L3). GB/s are 10^9 bytes a second, as STREAM reports them.
"""

import pandas as pd

# Sizes of the published checkpoints (group_vars/all/checkpoints.yml), used when a
# run's plan record has no checkpoint_bytes.
KNOWN_CHECKPOINT_BYTES = {
    "stories15M": 60_816_028,
    "stories42M": 167_020_572,
    "stories110M": 438_381_596,
}

# The label of the bandwidth measurement far beyond the last-level cache.
LARGE_WORKING_SET = "large"

BYTES_PER_GB = 1e9

BANDWIDTH_COLUMNS = (
    "partition",
    "threads",
    "label",
    "working_set_bytes",
    "best_gb_s",
    "trials",
    "host",
)

ROOFLINE_COLUMNS = (
    "partition",
    "model",
    "threads",
    "flag_set",
    "median",
    "checkpoint_bytes",
    "bandwidth_threads",
    "working_set",
    "gb_s",
    "bound_tok_s",
    "fraction",
    "large_gb_s",
    "large_bound_tok_s",
    "large_fraction",
    "note",
)


def bound_tok_s(gb_s: float, checkpoint_bytes: float) -> float:
    """The most tokens a second a memory of gb_s GB/s can feed when each token reads
    checkpoint_bytes: 1.1 GB/s and stories15M's 60,816,028 bytes give 18.09 tok/s."""
    return gb_s * BYTES_PER_GB / checkpoint_bytes


def checkpoint_bytes_by_model(runs: pd.DataFrame) -> dict[str, tuple[int, str]]:
    """model -> (checkpoint bytes, where the figure comes from): plan.json's
    checkpoint_bytes of the model's runs, else the published checkpoint's known size.
    Models with neither are left out."""
    sizes: dict[str, tuple[int, str]] = {}
    models = runs["model"].dropna().unique() if "model" in runs else []
    measured = runs.get("checkpoint_bytes")
    for model in models:
        values = (
            pd.to_numeric(measured[runs["model"] == model], errors="coerce").dropna()
            if measured is not None
            else pd.Series(dtype="float64")
        )
        if not values.empty:
            sizes[model] = (int(values.max()), "plan.json")
        elif model in KNOWN_CHECKPOINT_BYTES:
            sizes[model] = (KNOWN_CHECKPOINT_BYTES[model], "published size")
    return sizes


def best_bandwidth(bandwidth: pd.DataFrame) -> dict[tuple[str, int, str], float]:
    """(partition, threads, label) -> the best GB/s measured (the highest when a
    measurement was repeated)."""
    if bandwidth.empty:
        return {}
    rows = bandwidth.dropna(subset=["partition", "threads", "label", "best_gb_s"])
    best = rows.groupby(["partition", "threads", "label"])["best_gb_s"].max()
    return {
        (partition, int(threads), label): gb_s for (partition, threads, label), gb_s in best.items()
    }


def roofline_table(
    table: pd.DataFrame,
    bandwidth: pd.DataFrame,
    checkpoint_bytes: dict[str, tuple[int, str]],
) -> pd.DataFrame:
    """Per configuration of flag_set_table with ok runs: the bandwidth bound and the
    fraction of it the median tok/s reaches.

    The bound uses the bandwidth at the model's own working set (label = model name) at
    the configuration's thread count, or one thread for a binary built without OpenMP;
    when that measurement is missing, the large one (and the note says so). large_*
    columns give the DRAM bound beside it. Columns: ROOFLINE_COLUMNS; figures that
    cannot be computed are NaN, with the reason in note.
    """
    measured = best_bandwidth(bandwidth)
    records = []
    for row in table[table["runs_ok"] > 0].itertuples(index=False):
        notes = []
        size, _ = checkpoint_bytes.get(row.model, (None, None))
        threads = None if pd.isna(row.threads) else int(row.threads)
        bandwidth_threads = threads
        # The plan's record (sweep_plan.is_openmp decided it): not restated from the CFLAGS.
        if row.openmp is False and threads is not None:
            bandwidth_threads = 1
            if threads != 1:
                notes.append("not an OpenMP build: one thread's bandwidth")
        own = measured.get((row.partition, bandwidth_threads, row.model))
        large = measured.get((row.partition, bandwidth_threads, LARGE_WORKING_SET))
        working_set, gb_s = (row.model, own) if own is not None else (LARGE_WORKING_SET, large)
        if gb_s is None:
            working_set = None
            notes.append(f"no bandwidth measurement at {bandwidth_threads} threads")
        elif own is None:
            notes.append("no measurement at the model's size: the large working set's")
        if size is None:
            notes.append("checkpoint size unknown")
        bound = bound_tok_s(gb_s, size) if gb_s is not None and size else float("nan")
        large_bound = bound_tok_s(large, size) if large is not None and size else float("nan")
        records.append(
            {
                "partition": row.partition,
                "model": row.model,
                "threads": row.threads,
                "flag_set": row.flag_set,
                "median": row.median,
                "checkpoint_bytes": size,
                "bandwidth_threads": bandwidth_threads,
                "working_set": working_set,
                "gb_s": gb_s,
                "bound_tok_s": bound,
                "fraction": row.median / bound,
                "large_gb_s": large,
                "large_bound_tok_s": large_bound,
                "large_fraction": row.median / large_bound,
                "note": "; ".join(notes),
            }
        )
    result = pd.DataFrame.from_records(records, columns=list(ROOFLINE_COLUMNS))
    for column in ("gb_s", "bound_tok_s", "fraction", "large_gb_s", "large_bound_tok_s"):
        result[column] = pd.to_numeric(result[column], errors="coerce").astype("float64")
    result["large_fraction"] = pd.to_numeric(result["large_fraction"]).astype("float64")
    return result


BOUND_COLUMNS = ("partition", "model", "working_set", "threads", "gb_s", "bound_tok_s")


def bound_table(
    bandwidth: pd.DataFrame, checkpoint_bytes: dict[str, tuple[int, str]]
) -> pd.DataFrame:
    """The bandwidth bound of each model at every thread count measured, per partition:
    the roofline's lines. working_set is "own" (the triad at the model's size) or
    LARGE_WORKING_SET (beyond the last-level cache). Columns: BOUND_COLUMNS, sorted by
    partition, model, working set and threads."""
    records = [
        {
            "partition": partition,
            "model": model,
            "working_set": "own" if label == model else LARGE_WORKING_SET,
            "threads": threads,
            "gb_s": gb_s,
            "bound_tok_s": bound_tok_s(gb_s, size),
        }
        for (partition, threads, label), gb_s in best_bandwidth(bandwidth).items()
        for model, (size, _) in checkpoint_bytes.items()
        if label in (model, LARGE_WORKING_SET)
    ]
    table = pd.DataFrame.from_records(records, columns=list(BOUND_COLUMNS))
    return table.sort_values(["partition", "model", "working_set", "threads"], ignore_index=True)
