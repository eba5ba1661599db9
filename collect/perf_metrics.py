"""Every perf figure of a run and every metric derived from them, each declared once.

The parser (collect/parse.py), the runs table's columns and types (collect/runs.py), the
derived metrics and the unsupported counters (collect/stats.py) and the reports' perf
tables (collect/report.py, collect/summary.py) all read them from here. Adding a counter
takes one PerfFigure, adding a metric derived from counters one DerivedMetric, each also
named in collect/README.md (tests/test_docs.py checks that it lists every one).
"""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class PerfFigure:
    """One figure of a run's `perf stat` block: a column of runs.csv.

    events: the perf events counted into it, by base name (PMU and modifiers stripped:
    `cpu_core/cycles/` and `cycles:u` are `cycles`), perf's own name first, then the
    aliases perf prints when asked by them (`-e cs`); none for perf's own metrics (the
    text after `#`) and its times. time_line: the `seconds ...` line a time comes from.
    integer: a count, which perf prints as a whole number (a fraction there has no
    reading). in_default_set: perf stat counts the event without `-e`, so a sweep that got
    no value for it reports it as not measured (an event outside the default set is only
    there when the event list asks for it). label and text: its heading and cell in the
    report's perf metrics table; a figure without a label is not shown there.
    """

    column: str
    events: tuple[str, ...] = ()
    time_line: str | None = None
    integer: bool = True
    in_default_set: bool = False
    label: str | None = None
    text: Callable[[float], str] | None = None


@dataclass(frozen=True)
class DerivedMetric:
    """A per-run metric computed from two columns of the runs table: numerator /
    (denominator * denominator_unit), NaN when either is missing or the quotient is not
    finite; label and text as for PerfFigure (every derived metric is in the report)."""

    column: str
    numerator: str
    denominator: str
    label: str
    text: Callable[[float], str]
    denominator_unit: float = 1.0


# In the order of runs.csv's columns.
PERF_FIGURES = (
    PerfFigure("task_clock_ms", ("task-clock",), integer=False, in_default_set=True),
    PerfFigure(
        "cpus_utilized", integer=False, label="CPUs utilized", text=lambda value: f"{value:.2f}"
    ),
    PerfFigure("context_switches", ("context-switches", "cs"), in_default_set=True),
    PerfFigure("cpu_migrations", ("cpu-migrations", "migrations"), in_default_set=True),
    PerfFigure("page_faults", ("page-faults", "faults"), in_default_set=True),
    PerfFigure("cycles", ("cycles", "cpu-cycles"), in_default_set=True),
    PerfFigure("instructions", ("instructions",), in_default_set=True),
    PerfFigure("ipc", integer=False, label="IPC", text=lambda value: f"{value:.2f}"),
    PerfFigure("branches", ("branches", "branch-instructions"), in_default_set=True),
    PerfFigure("branch_misses", ("branch-misses",), in_default_set=True),
    PerfFigure("cache_misses", ("cache-misses",)),
    PerfFigure("elapsed_s", time_line="time elapsed", integer=False),
    PerfFigure("user_s", time_line="user", integer=False),
    PerfFigure("sys_s", time_line="sys", integer=False),
)

# run.c runs `steps` forward passes (each reads every weight) and its tok/s counts
# steps - 1 (the first is not timed); perf counts the whole process, checkpoint loading
# included, so "per token" is per forward pass, `steps` of them.
DERIVED_METRICS = (
    # The average clock of the CPUs while they ran the program: cycles per nanosecond.
    DerivedMetric(
        "ghz",
        "cycles",
        "task_clock_ms",
        label="GHz",
        text=lambda value: f"{value:.3f}",
        denominator_unit=1e6,
    ),
    DerivedMetric(
        "branch_miss_rate",
        "branch_misses",
        "branches",
        label="branch-miss rate",
        text=lambda value: f"{100 * value:.3f} %",
    ),
    DerivedMetric(
        "instructions_per_token",
        "instructions",
        "steps",
        label="instructions / token",
        text=lambda value: f"{value / 1e6:,.1f} M",
    ),
    DerivedMetric(
        "page_faults_per_token",
        "page_faults",
        "steps",
        label="page faults / token",
        text=lambda value: f"{value:,.1f}",
    ),
    DerivedMetric(
        "cache_misses_per_token",
        "cache_misses",
        "steps",
        label="cache misses / token",
        text=lambda value: f"{value:,.0f}",
    ),
)

FIGURE_COLUMNS = tuple(figure.column for figure in PERF_FIGURES)

# The figures perf counts (not its metrics or times).
COUNTER_COLUMNS = tuple(figure.column for figure in PERF_FIGURES if figure.events)

# perf event base name (or alias) -> the column it is counted into.
EVENT_COLUMNS = {event: figure.column for figure in PERF_FIGURES for event in figure.events}

# perf's name of each counter of its default set -> its column.
DEFAULT_COUNTERS = {
    figure.events[0]: figure.column for figure in PERF_FIGURES if figure.in_default_set
}

# What the report's perf metrics table shows, in its order: each column, heading and cell.
REPORTED_METRICS: tuple[PerfFigure | DerivedMetric, ...] = (
    *(figure for figure in PERF_FIGURES if figure.label),
    *DERIVED_METRICS,
)
