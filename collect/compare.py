"""`compare A B`: two sweeps (or a sweep and the seed's published numbers) configuration
by configuration: medians, the ratio B/A, and whether it is a change.

A side is a results directory, a sweep id of the history database, or `seed`
(collect/reference/seed-throughput.csv). Configurations match on partition, model,
the flags (cflags with their words sorted, else the flag-set name) and the thread
count; a side that did not record threads (the seed) matches every thread count.

Each configuration's verdict is verdicts.compare_samples on the two sides' ok runs (the
ratio of geometric means B/A with its CONFIDENCE Welch interval; faster, slower, no detectable
change or too few runs to tell, with the runs needed). The larger of the two sides'
measured noise bands (stats.noise_bands) of that partition is shown beside it.
"""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from collect.formatting import (
    band_text,
    count_text,
    decimal_text,
    percent_text,
    ratio_text,
    thread_count_text,
)
from collect.history import read_history_runs
from collect.runs import STATUS_OK, collect_runs, emulated_rows, runs_table
from collect.stats import flag_set_table
from collect.verdicts import (
    COMPARE_MIN_EFFECT,
    CONFIDENCE_TEXT,
    compare_samples,
    interval_text,
    method_text,
)

SEED = "seed"
SEED_REFERENCE = Path(__file__).parent / "reference" / "seed-throughput.csv"

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


@dataclass
class Side:
    """One side of a comparison: its label and its runs table."""

    label: str
    runs: pd.DataFrame


def load_side(spec: str, history: Path) -> Side:
    """`seed`, a results directory, or a sweep id in the history database at history
    (LookupError when it is none of them)."""
    if spec == SEED:
        return Side("seed (published, one run each)", seed_runs())
    path = Path(spec)
    if path.is_dir():
        return Side(f"{spec} (directory)", collect_runs(path))
    try:
        return Side(spec, read_history_runs(history, spec))
    except LookupError as error:
        raise LookupError(f"{spec!r} is not a results directory, nor {SEED!r}: {error}") from None


def seed_runs(path: Path = SEED_REFERENCE) -> pd.DataFrame:
    """The seed's published tok/s as a runs table: one ok run per configuration,
    threads unknown (NaN), nproc = the partition's cores."""
    seed = pd.read_csv(path)
    records = [
        {
            "index": position,
            "sweep_id": SEED,
            "partition": row.partition,
            "nproc": row.cores,
            "model": row.model,
            "flag_set": row.flags,
            "cflags": row.cflags,
            "threads": None,
            "repetition": 1,
            "status": STATUS_OK,
            "reason": "",
            "tok_s": row.tok_s,
            "run_dir": f"{path.name}:{position + 2}",
        }
        for position, row in enumerate(seed.itertuples(index=False))
    ]
    return runs_table(records)


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


def render_comparison(
    comparison: pd.DataFrame, a: Side, b: Side, min_effect: float = COMPARE_MIN_EFFECT
) -> str:
    """The comparison as a Markdown table, with a legend (its verdicts' threshold
    min_effect)."""
    lines = [f"# compare: A = {a.label}, B = {b.label}", ""]
    if comparison.empty:
        return "\n".join([*lines, "No configurations on either side.", ""])
    header = ["partition", "model", "flag set", "cflags", "threads"]
    header += ["A runs", "A median", "A CV", "B runs", "B median", "B CV", "B/A"]
    header += [f"{CONFIDENCE_TEXT} interval", "noise band", "verdict"]
    body = []
    for row in comparison.itertuples(index=False):
        names = [name for name in (row.flag_set_a, row.flag_set_b) if isinstance(name, str)]
        flag_set = " → ".join(dict.fromkeys(names))
        body.append(
            [
                str(row.partition),
                str(row.model),
                flag_set,
                f"`{row.flags}`",
                thread_count_text(row.threads),
                count_text(row.runs_a),
                decimal_text(row.median_a),
                percent_text(row.cv_a),
                count_text(row.runs_b),
                decimal_text(row.median_b),
                percent_text(row.cv_b),
                ratio_text(row.ratio),
                interval_text(row.ratio_low, row.ratio_high),
                band_text(row.noise_band),
                row.verdict,
            ]
        )
    widths = [max(len(cells[i]) for cells in [header, *body]) for i in range(len(header))]
    numeric = set(range(4, 14))
    for cells in [header, ["-" * width for width in widths], *body]:
        padded = [
            cell.rjust(width) if i in numeric else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        lines.append("| " + " | ".join(padded) + " |")
    lines += [
        "",
        "Medians are tok/s over ok runs; CV is the sample standard deviation over the mean. "
        "B/A is the ratio of medians; the interval is that of the ratio of geometric means. "
        + method_text(min_effect)
        + " The seed has one run per configuration: too few. The noise band is what the "
        "same binary run again gives on that partition (the larger of A's and B's), a "
        "figure of reproducibility, not a gate. Threads '?': not recorded (the seed ran "
        "OpenMP's default, every core).",
        "",
    ]
    return "\n".join(lines)


def compare(spec_a: str, spec_b: str, history: Path, min_effect: float = COMPARE_MIN_EFFECT) -> str:
    """Load both sides and render their comparison (LookupError for an unknown side)."""
    a, b = load_side(spec_a, history), load_side(spec_b, history)
    return render_comparison(compare_runs(a.runs, b.runs, min_effect), a, b, min_effect)
