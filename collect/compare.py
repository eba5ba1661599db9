"""`compare A B`: two sweeps (or a sweep and the seed's published numbers) configuration
by configuration: medians, the ratio B/A, and whether it is a change.

A side is a results directory, a sweep id of the history database, or `seed`
(collect/seed.py); how configurations match and each one's verdict: collect/comparison.py.
"""

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from collect.comparison import compare_runs
from collect.formatting import (
    band_text,
    count_text,
    decimal_text,
    percent_text,
    ratio_text,
    thread_count_text,
)
from collect.history import read_history_runs
from collect.runs import collect_runs
from collect.seed import SEED, seed_runs
from collect.verdicts import COMPARE_MIN_EFFECT, CONFIDENCE_TEXT, interval_text, method_text


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
