"""The figures' words, shared by every renderer (summary.md, report.html, compare, the
findings): one formatter for each kind of figure, so the documents cannot drift apart."""

import math
from collections.abc import Callable, Iterable

import pandas as pd

from collect.runs import STATUS_OK


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


def cell_text(value: object) -> str:
    """A value as it was recorded, or empty where there is none (None, NaN, NA)."""
    # pd.isna is not asked of a list or dict (a sweep.json value): it answers per item.
    missing = value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))
    return "" if missing else str(value)


def count_text(value: object) -> str:
    """A count or thread count as a whole number (`3`), or `—` where there is none."""
    return "—" if value is None or pd.isna(value) else str(int(value))


def runs_ok_text(ok: object, total: object) -> str:
    """How many of a configuration's runs are ok: `2/3`."""
    return f"{ok}/{total}"


def decimal_text(value: object) -> str:
    """A tok/s, GB/s or bound with two decimals (`12.35`), or `—` without one."""
    return "—" if value is None or pd.isna(value) else f"{value:.2f}"


def ratio_text(value: object) -> str:
    """A speedup or ratio of tok/s (`1.23×`), or `—` without one."""
    return "—" if value is None or pd.isna(value) else f"{value:.2f}×"


def band_text(band: object) -> str:
    """A noise band (`±1.2 %`), or `—` where none was measured."""
    return "—" if band is None or pd.isna(band) else f"±{100 * band:.1f} %"


def joined_text(values: Iterable[object], escape: Callable[[str], str] = str) -> str:
    """The distinct known values in order of appearance, each escaped for its document,
    comma-separated; `?` where none is known."""
    texts = dict.fromkeys(text for text in map(cell_text, values) if text)
    return ", ".join(map(escape, texts)) or "?"


def status_counts_text(statuses: pd.Series) -> str:
    """`5 ok, 1 failed`: ok first (`0 ok` too), the other statuses in name order; `none`
    without runs."""
    if statuses.empty:
        return "none"
    counts = statuses.value_counts()
    order = [STATUS_OK, *sorted(set(counts.index) - {STATUS_OK})]
    return ", ".join(f"{counts.get(status, 0)} {status}" for status in order)
