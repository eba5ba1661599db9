"""PNG plots of the analysis (matplotlib, Agg backend, no pyplot state): the roofline
(tok/s against threads under the memory-bandwidth bound), thread scaling, and tok/s by
flag set.

Every plot has one panel per partition and model (a row per partition, a column per
model: models differ several-fold in tok/s, so they never share an axis), the same
colour and marker for a flag set in every panel and plot, the legend outside the panels,
and interval bars: the range (min–max) of the repetitions. The analysis holds no
emulated (qemu) row, so no plot shows one.
"""

import io
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from collect.analysis import Analysis
from collect.atomic import Replacement, refuse_linked_directory
from collect.drift import drift_points, drift_sentence
from collect.formatting import thread_count_text
from collect.roofline import LARGE_WORKING_SET

ROOFLINE_PLOT = "roofline.png"
SPEEDUP_PLOT = "speedup_by_threads.png"
BY_FLAG_SET_PLOT = "tok_s_by_flag_set.png"
DRIFT_PLOT = "drift.png"


@dataclass(frozen=True)
class Plot:
    """A plot of the report, declared once: its file in plots/, how it is drawn from the
    analysis (None where it does not apply), its title and how to read it (report.html's
    caption)."""

    file: str
    draw: Callable[[Analysis], Figure | None]
    title: str
    reading: str


# In report.html's order.
PLOTS = (
    Plot(
        ROOFLINE_PLOT,
        lambda analysis: plot_roofline(analysis.table, analysis.bounds, analysis.roofline),
        "roofline: tok/s against threads under the memory-bandwidth bound",
        "Both axes logarithmic. The solid black line is the bound from the triad at the "
        "checkpoint's size at each thread count, the dashed grey one the bound beyond the "
        "cache (DRAM). The gap between a flag set's line and the bound is how far it is "
        "from the memory roofline; where a line flattens while the bound still rises, "
        "more threads stop paying for a reason other than memory bandwidth.",
    ),
    Plot(
        SPEEDUP_PLOT,
        lambda analysis: plot_speedup_by_threads(analysis.scaling, analysis.table),
        "thread scaling: speedup against threads",
        "Median tok/s over the median at the fewest threads run (usually 1); the dotted "
        "line is the ideal, linear speedup. Flag sets without OpenMP ran 1 thread only.",
    ),
    Plot(
        BY_FLAG_SET_PLOT,
        lambda analysis: plot_tok_s_by_flag_set(analysis.table),
        "tok/s by flag set at its best thread count",
        "Each bar is the flag set's best thread count (tN), the one the tables mark best.",
    ),
    Plot(
        DRIFT_PLOT,
        lambda analysis: plot_drift(analysis.runs, analysis.drift, analysis.table),
        "drift: each run's tok/s against when it started",
        "Each point is an ok run, its tok/s over its configuration's median, at its start "
        "time; the line is the drift the report states (the median of the configurations' "
        "slopes), drawn where enough configurations ran twice or more to judge it. Points "
        "that fall or rise along the sweep, whatever their flag set, are the machine "
        "changing under the benchmark (heat, other load), not the flag sets differing.",
    ),
)
PLOTS_BY_FILE = {plot.file: plot for plot in PLOTS}
# Plots earlier versions wrote, removed by write_plots so that no stale one is shown.
_RETIRED_PLOTS = ("tok_s_by_threads.png", "roofline_fraction.png")

# The columns of stats.flag_set_table the error bars span, and what they are.
INTERVAL = ("min", "max")
RANGE_NOTE = "error bars: the range (min–max) of the repetitions"
OWN_BOUND_LABEL = "bound: triad at the checkpoint's size"
DRAM_BOUND_LABEL = "bound: triad beyond the cache (DRAM)"
IDEAL_LABEL = "ideal (linear) speedup"

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">", "h")
# How far apart flag sets are drawn along the threads axis, a fraction of its span.
_DODGE = 0.025
# The bound at the checkpoint's size (False) and beyond the cache (True).
_BOUND_LABELS = {False: OWN_BOUND_LABEL, True: DRAM_BOUND_LABEL}
_BOUND_STYLES = {
    False: {"color": "black", "linestyle": "-", "linewidth": 1.6, "marker": "_", "markersize": 10},
    True: {
        "color": "dimgrey",
        "linestyle": "--",
        "linewidth": 1.2,
        "marker": "_",
        "markersize": 10,
    },
}
_PANEL_SIZE = (4.2, 3.4)  # inches, one partition's model
_MIN_WIDTH = 6.4  # inches: a figure of one model still holds its titles
_LEGEND_COLUMN = 2.4  # inches a legend entry takes
_LEGEND_ROW = 0.3  # inches


def write_plots(analysis: Analysis, plots_dir: Path, replacement: Replacement) -> dict[Path, bytes]:
    """Write the plots that apply to this analysis into plots_dir, as part of replacement;
    return each one's path and PNG (report.html embeds them before they are in place).

    A plot that does not apply (no ok runs, a single thread count, no bandwidth
    measurement) is removed, so a previous summarize of the same directory leaves no
    stale picture behind. A plots_dir that is a link is refused (OutputRefused).
    """
    refuse_linked_directory(plots_dir)
    figures = {
        **{plot.file: plot.draw(analysis) for plot in PLOTS},
        **dict.fromkeys(_RETIRED_PLOTS),
    }
    written = {}
    for name, figure in figures.items():
        path = plots_dir / name
        if figure is None:
            replacement.remove(path)
            continue
        png = io.BytesIO()
        FigureCanvasAgg(figure).print_png(png)
        plots_dir.mkdir(parents=True, exist_ok=True)
        replacement.new(path).write_bytes(png.getvalue())
        written[path] = png.getvalue()
    return written


def plot_roofline(
    table: pd.DataFrame, bounds: pd.DataFrame, roofline: pd.DataFrame
) -> Figure | None:
    """The roofline: median tok/s against threads (log2) on a log scale, a line per flag
    set with the range of its repetitions, under the bandwidth bound at each thread count
    measured (roofline.bound_table: at the checkpoint's size, and beyond the cache), one
    panel per partition and model. Each panel names its fastest configuration and the
    fraction of its bound (roofline.roofline_table's). None without ok runs, or when no
    partition ran several thread counts nor measured its bandwidth."""
    table = _ok_groups(table).dropna(subset=["threads"])
    several_thread_counts = table.groupby("partition")["threads"].nunique().max() > 1
    if table.empty or (bounds.empty and not several_thread_counts):
        return None
    figure, panels = _facets(table)
    styles = _flag_set_styles(table)
    for (partition, model), axis in panels.items():
        rows = table[(table["partition"] == partition) & (table["model"] == model)]
        panel_bounds = bounds[(bounds["partition"] == partition) & (bounds["model"] == model)]
        ticks = [*rows["threads"].dropna(), *panel_bounds["threads"]]
        for flag_set, line in rows.groupby("flag_set", sort=False):
            line = line.sort_values("threads")
            _range_line(axis, line, line["median"], flag_set, styles, ticks)
        for working_set, bound in panel_bounds.groupby("working_set", sort=False):
            axis.plot(
                bound["threads"].to_numpy(dtype=float),
                bound["bound_tok_s"].to_numpy(),
                **_BOUND_STYLES[working_set == LARGE_WORKING_SET],
                label=_BOUND_LABELS[working_set == LARGE_WORKING_SET],
            )
        axis.set_title(_roofline_title(roofline, partition, model), fontsize=9)
        _threads_axis(axis, ticks)
        _log_tok_s_axis(axis)
    dram = sorted(set(bounds["working_set"] == LARGE_WORKING_SET))
    _legend(figure, styles, [(Line2D([], [], **_BOUND_STYLES[d]), _BOUND_LABELS[d]) for d in dram])
    bound_note = "" if bounds.empty else " under the memory-bandwidth bound"
    figure.suptitle(f"roofline: tok/s against threads{bound_note}\n({RANGE_NOTE})")
    return figure


def plot_speedup_by_threads(scaling: pd.DataFrame, table: pd.DataFrame) -> Figure | None:
    """Speedup over the baseline thread count against threads (both log2), a line per flag
    set with the range of its repetitions over the baseline's median, the ideal (linear)
    speedup dotted, one panel per partition and model. scaling: stats.scaling_table;
    table: stats.flag_set_table (its INTERVAL columns). None when scaling is empty."""
    if scaling.empty:
        return None
    keys = ["partition", "model", "flag_set", "threads"]
    scaling = scaling.merge(table[[*keys, *INTERVAL]], on=keys, how="left")
    figure, panels = _facets(scaling)
    styles = _flag_set_styles(table)
    for (partition, model), axis in panels.items():
        rows = scaling[(scaling["partition"] == partition) & (scaling["model"] == model)]
        ticks = sorted(rows["threads"].unique())
        ideal = np.array(ticks, dtype=float)
        axis.plot(ideal, ideal / ideal[0], color="grey", linestyle=":")
        for flag_set, line in rows.groupby("flag_set", sort=False):
            # The range over the baseline's median: the division that made the speedup,
            # so a single run's range is exactly its speedup (no rounding below it).
            baseline_median = line.loc[line["threads"] == line["baseline_threads"], "median"]
            line = line.assign(
                **{column: line[column] / baseline_median.iloc[0] for column in INTERVAL}
            )
            _range_line(axis, line, line["speedup"], flag_set, styles, ticks)
        axis.set_title(f"{partition} · {model}", fontsize=9)
        _threads_axis(axis, ticks)
        axis.set_yscale("log", base=2)
        axis.yaxis.set_major_formatter(FuncFormatter(_number))
        baseline = int(rows["baseline_threads"].min())
        axis.set_ylabel(f"speedup over {baseline} thread{'s' if baseline > 1 else ''}")
    shown = {
        flag_set: styles[flag_set] for flag_set in styles if flag_set in set(scaling["flag_set"])
    }
    _legend(figure, shown, [(Line2D([], [], color="grey", linestyle=":"), IDEAL_LABEL)])
    figure.suptitle(f"thread scaling: speedup of the median tok/s\n({RANGE_NOTE})")
    return figure


def plot_tok_s_by_flag_set(table: pd.DataFrame) -> Figure | None:
    """A bar per flag set: the median tok/s at its best thread count (stats.
    best_configurations, labelled tN), with the range of its repetitions, one panel per
    partition and model (a flag set run at unknown threads has no best: its row, t?).
    table: stats.flag_set_table. None when no run is ok."""
    table = _ok_groups(table)
    if table.empty:
        return None
    has_best = table.groupby(["partition", "model", "flag_set"])["best"].transform("any")
    best_rows = table[table["best"] | ~has_best]
    figure, panels = _facets(best_rows)
    styles = _flag_set_styles(table)
    for (partition, model), axis in panels.items():
        rows = best_rows[(best_rows["partition"] == partition) & (best_rows["model"] == model)]
        rows = rows.sort_values("declared_order")
        positions = np.arange(len(rows))
        medians = rows["median"].to_numpy()
        axis.bar(
            positions,
            medians,
            0.7,
            yerr=_error_bars(rows, medians),
            capsize=3,
            color=[styles[flag_set]["color"] for flag_set in rows["flag_set"]],
        )
        labels = [
            f"{flag_set} (t{thread_count_text(threads)})"
            for flag_set, threads in zip(rows["flag_set"], rows["threads"], strict=True)
        ]
        axis.set_xticks(positions, labels, rotation=30, ha="right", fontsize=8)
        axis.set_title(f"{partition} · {model}", fontsize=9)
        axis.set_ylabel("tok/s (median)")
    figure.suptitle(f"tok/s by flag set at its best thread count (tN: N threads)\n({RANGE_NOTE})")
    return figure


def plot_drift(runs: pd.DataFrame, drift: pd.DataFrame, table: pd.DataFrame) -> Figure | None:
    """A panel per partition: each ok run's tok/s over its configuration's median against
    the minutes since the partition's first run started (drift.drift_points), a colour per
    flag set, and the partition's drift (drift.drift_table) as a line through the middle of
    the sweep where it was judged. None when no ok run has a start time."""
    points = drift_points(runs)
    if points.empty:
        return None
    partitions = list(dict.fromkeys(points["partition"]))
    width, height = _PANEL_SIZE
    figure = Figure(
        figsize=(max(_MIN_WIDTH, 2 * width), height * len(partitions) + 0.9),
        layout="constrained",
    )
    styles = _flag_set_styles(table)
    for axis, partition in zip(figure.subplots(len(partitions), 1, squeeze=False)[:, 0],
                               partitions, strict=True):  # fmt: skip
        rows = points[points["partition"] == partition]
        for flag_set, group in rows.groupby("flag_set", sort=False):
            axis.plot(group["seconds"] / 60, group["relative"], linestyle="none",
                      markersize=4, alpha=0.8, **styles[flag_set])  # fmt: skip
        axis.axhline(1.0, color="0.6", linewidth=0.8)
        (judged,) = drift[drift["partition"] == partition].itertuples()
        title = f"{partition}: {drift_sentence(judged)}"
        if not math.isnan(judged.drift):
            span = judged.span_s / 60
            axis.plot([0, span], [1 - judged.drift / 2, 1 + judged.drift / 2], color="black",
                      linewidth=1.4)  # fmt: skip
        axis.set_title("\n".join(textwrap.wrap(title, 90)), fontsize=8)
        axis.set_xlabel("minutes since the partition's first run started")
        axis.set_ylabel("tok/s / configuration's median")
        axis.grid(True, alpha=0.3)
    _legend(figure, styles, [(Line2D([], [], color="black"), "drift (median slope)")])
    figure.suptitle("each run's tok/s over its configuration's median, in the order run")
    return figure


# --- helpers ----------------------------------------------------------------------------


def _roofline_title(roofline: pd.DataFrame, partition: str, model: str) -> str:
    """The panel's name, and its fastest configuration with the fraction of its bound."""
    rows = roofline[(roofline["partition"] == partition) & (roofline["model"] == model)]
    rows = rows.dropna(subset=["median"]).sort_values("median", ascending=False, kind="stable")
    title = f"{partition} · {model}"
    if rows.empty:
        return title
    fastest = rows.iloc[0]
    bound = (
        "no bound" if pd.isna(fastest["fraction"]) else f"{fastest['fraction']:.0%} of its bound"
    )
    return (
        f"{title}\nfastest: {fastest['flag_set']} t{thread_count_text(fastest['threads'])}, {bound}"
    )


def _facets(rows: pd.DataFrame) -> tuple[Figure, dict[tuple[str, str], object]]:
    """A figure with a panel per (partition, model) of rows, in their order: a row of
    panels per partition, a column per model; panels a partition does not fill are off."""
    partitions = list(dict.fromkeys(rows["partition"]))
    models = list(dict.fromkeys(rows["model"]))
    width, height = _PANEL_SIZE
    figure = Figure(
        figsize=(max(_MIN_WIDTH, width * len(models)), height * len(partitions) + 0.9),
        layout="constrained",
    )
    grid = figure.subplots(len(partitions), len(models), squeeze=False)
    present = set(zip(rows["partition"], rows["model"], strict=True))
    panels = {}
    for row, partition in enumerate(partitions):
        for column, model in enumerate(models):
            if (partition, model) in present:
                panels[(partition, model)] = grid[row][column]
            else:
                grid[row][column].set_axis_off()
    return figure, panels


def _flag_set_styles(table: pd.DataFrame) -> dict[str, dict[str, str]]:
    """flag set -> its colour and marker, picked by the sweep's order of the flag sets of
    flag_set_table `table`: the same in every panel and every plot."""
    flag_sets = dict.fromkeys(table.sort_values("declared_order")["flag_set"])
    return {
        flag_set: {"color": f"C{position % 10}", "marker": _MARKERS[position % len(_MARKERS)]}
        for position, flag_set in enumerate(flag_sets)
    }


def _range_line(
    axis,
    line: pd.DataFrame,
    values: pd.Series,
    flag_set: str,
    styles: dict[str, dict],
    ticks: list,
) -> None:
    """values against threads, with bars spanning line's INTERVAL, labelled flag_set.
    Flag sets are set a little apart along the threads axis (a fortieth of the span of
    the panel's thread counts, ticks, from one to the next), so that their bars at one
    thread count do not hide each other."""
    values = values.to_numpy(dtype=float)
    span = max(1.0, float(np.log2(max(ticks) / min(ticks))))
    shift = _DODGE * span * (list(styles).index(flag_set) - (len(styles) - 1) / 2)
    axis.errorbar(
        line["threads"].to_numpy(dtype=float) * 2**shift,
        values,
        yerr=_error_bars(line, values),
        **styles[flag_set],
        markersize=5,
        capsize=3,
        linewidth=1.4,
        label=flag_set,
    )


def _error_bars(rows: pd.DataFrame, values: np.ndarray) -> list[np.ndarray]:
    """matplotlib's yerr: from each value down to the INTERVAL's low end, up to its high."""
    low, high = (rows[column].to_numpy(dtype=float) for column in INTERVAL)
    return [values - low, high - values]


def _legend(figure: Figure, styles: dict, extra: list[tuple[Line2D, str]]) -> None:
    """One legend for the figure, below the panels (the figure grows to hold it): flag
    sets, then extra lines."""
    handles = [Line2D([], [], **style) for style in styles.values()]
    handles += [handle for handle, _ in extra]
    width, height = figure.get_size_inches()
    columns = max(1, min(len(handles), int(width // _LEGEND_COLUMN)))
    figure.set_size_inches(width, height + _LEGEND_ROW * -(-len(handles) // columns))
    figure.legend(
        handles,
        [*styles, *(label for _, label in extra)],
        loc="outside lower center",
        ncols=columns,
        title="flag set",
        fontsize=8,
    )


def _threads_axis(axis, threads: list) -> None:
    """A log2 threads axis ticked at the thread counts given."""
    ticks = sorted({int(value) for value in threads})
    axis.set_xscale("log", base=2)
    axis.set_xticks(ticks, [str(tick) for tick in ticks])
    axis.xaxis.set_minor_formatter(NullFormatter())
    axis.set_xlabel("threads (OMP_NUM_THREADS)")
    axis.grid(True, which="major", alpha=0.3)


def _log_tok_s_axis(axis) -> None:
    """A log10 tok/s axis labelled in plain numbers at 1-2-5 steps (a decade or two is
    what a panel spans)."""
    axis.set_yscale("log")
    axis.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    axis.yaxis.set_major_formatter(FuncFormatter(_number))
    axis.yaxis.set_minor_formatter(NullFormatter())
    axis.set_ylabel("tok/s (median)")


def _number(value: float, _position: int) -> str:
    return f"{value:g}"


def _ok_groups(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["runs_ok"] > 0]
