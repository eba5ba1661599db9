"""The figures' words, shared by every renderer (summary.md, report.html, compare, the
findings): one formatter for each kind of figure, so the documents cannot drift apart."""

import pandas as pd

# What a flag set that was not submitted means (plan.json's dropped_flag_sets).
DROPPED_FLAG_SETS = (
    "Left out before anything was submitted (validation before queueing, or the "
    "partition's compiler refused their -march): no rows of runs.csv."
)


def cv_text(cv: float, noisy: bool) -> str:
    """`2.1 %`, `6.3 % noisy`, or `—` when there is no noise estimate (one ok run)."""
    if pd.isna(cv):
        return "—"
    return f"{100 * cv:.1f} %" + (" noisy" if noisy else "")


def percent_text(fraction: object) -> str:
    """`12.3 %` of a fraction, or `—` without one."""
    return "—" if fraction is None or pd.isna(fraction) else f"{100 * fraction:.1f} %"


def known_text(value: object) -> str:
    """A count or fact as it was recorded, or `?` where it is unknown."""
    return "?" if value is None or pd.isna(value) else str(value)


def threads_text(threads: object) -> str:
    """`1 thread`, `4 threads`, or `an unknown thread count` (a runs table not from a
    plan, the history's, may not know it)."""
    if pd.isna(threads):
        return "an unknown thread count"
    return "1 thread" if threads == 1 else f"{int(threads)} threads"


def thread_count_text(threads: object) -> str:
    """A thread count as a table cell: `4`, or `?` where it is unknown."""
    return "?" if pd.isna(threads) else str(int(threads))
