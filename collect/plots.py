"""PNG plots of the analysis (matplotlib, Agg backend, no pyplot state): tok/s by flag
set, tok/s and speedup against threads, fraction of the bandwidth roofline."""

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import ScalarFormatter

from collect.analysis import Analysis
from collect.atomic import replacing

BY_FLAG_SET_PLOT = "tok_s_by_flag_set.png"
BY_THREADS_PLOT = "tok_s_by_threads.png"
SPEEDUP_PLOT = "speedup_by_threads.png"
ROOFLINE_PLOT = "roofline_fraction.png"

_LINE_STYLES = ("-", "--", ":", "-.")
_MARKERS = ("o", "s", "^", "D", "v", "P")


def write_plots(analysis: Analysis, plots_dir: Path) -> list[Path]:
    """Write the plots that apply to this analysis into plots_dir; return their paths.

    A plot that does not apply (no ok runs, a single thread count, no bandwidth
    measurement) is removed, so a previous summarize of the same directory leaves no
    stale picture behind.
    """
    figures = {
        BY_FLAG_SET_PLOT: plot_tok_s_by_flag_set(analysis.table),
        BY_THREADS_PLOT: plot_tok_s_by_threads(analysis.table),
        SPEEDUP_PLOT: plot_speedup_by_threads(analysis.scaling),
        ROOFLINE_PLOT: plot_roofline_fraction(analysis.roofline),
    }
    written = []
    for name, figure in figures.items():
        path = plots_dir / name
        if figure is None:
            path.unlink(missing_ok=True)
            continue
        plots_dir.mkdir(parents=True, exist_ok=True)
        with replacing(path) as temporary:
            FigureCanvasAgg(figure).print_png(temporary)
        written.append(path)
    return written


def plot_tok_s_by_flag_set(table: pd.DataFrame) -> Figure | None:
    """Grouped bars: median tok/s per flag set, a bar per model, min–max error bars,
    one panel per partition. Where several thread counts were run, each bar shows the
    best one (stats.best_configurations), labelled tN. table: stats.flag_set_table. None
    when no run is ok."""
    table = _ok_groups(table)
    if table.empty:
        return None
    best_rows = table[table["best"]]
    partitions = list(dict.fromkeys(best_rows["partition"]))
    figure = Figure(figsize=(1.0 + 5.5 * len(partitions), 4.8), layout="constrained")
    axes = figure.subplots(1, len(partitions), squeeze=False)[0]
    for axis, partition in zip(axes, partitions, strict=True):
        rows = best_rows[best_rows["partition"] == partition]
        flag_sets = list(rows.sort_values("declared_order")["flag_set"].unique())
        models = list(dict.fromkeys(rows["model"]))
        label_threads = table.loc[table["partition"] == partition, "threads"].nunique() > 1
        bar_width = 0.8 / len(models)
        for position, model in enumerate(models):
            model_rows = rows[rows["model"] == model].set_index("flag_set").reindex(flag_sets)
            offsets = np.arange(len(flag_sets)) + (position - (len(models) - 1) / 2) * bar_width
            medians = model_rows["median"].to_numpy()
            errors = [
                medians - model_rows["min"].to_numpy(),
                model_rows["max"].to_numpy() - medians,
            ]
            bars = axis.bar(offsets, medians, bar_width, yerr=errors, capsize=3, label=model)
            if label_threads:
                labels = [
                    "" if pd.isna(threads) else f"t{threads}" for threads in model_rows["threads"]
                ]
                axis.bar_label(bars, labels=labels, padding=2, fontsize=8)
        axis.set_xticks(np.arange(len(flag_sets)), flag_sets)
        axis.set_title(f"partition {partition}")
        axis.set_xlabel("flag set")
        axis.set_ylabel("tok/s (median, min–max)")
        axis.legend(title="model")
    several_thread_counts = table.groupby("partition")["threads"].nunique().max() > 1
    best_note = " (tN: the best thread count)" if several_thread_counts else ""
    figure.suptitle(f"tok/s by flag set and model{best_note}")
    return figure


def plot_tok_s_by_threads(table: pd.DataFrame) -> Figure | None:
    """Median tok/s against threads, a line per model and flag set, min–max error bars,
    one panel per partition that ran several thread counts. None when none did."""
    table = _ok_groups(table)
    thread_counts = table.groupby("partition", sort=False)["threads"].nunique()
    partitions = list(thread_counts[thread_counts > 1].index)
    if not partitions:
        return None
    flag_sets = list(table.sort_values("declared_order")["flag_set"].unique())
    models = list(table.sort_values("declared_order")["model"].unique())
    colors = {flag_set: f"C{position % 10}" for position, flag_set in enumerate(flag_sets)}
    figure = Figure(figsize=(1.0 + 5.5 * len(partitions), 4.8), layout="constrained")
    axes = figure.subplots(1, len(partitions), squeeze=False)[0]
    for axis, partition in zip(axes, partitions, strict=True):
        rows = table[table["partition"] == partition]
        for (model, flag_set), line in rows.groupby(["model", "flag_set"], sort=False):
            line = line.sort_values("threads")
            style = models.index(model)
            axis.errorbar(
                line["threads"].to_numpy(dtype=float),
                line["median"].to_numpy(),
                yerr=[line["median"] - line["min"], line["max"] - line["median"]],
                color=colors[flag_set],
                linestyle=_LINE_STYLES[style % len(_LINE_STYLES)],
                marker=_MARKERS[style % len(_MARKERS)],
                capsize=3,
                label=f"{model} {flag_set}",
            )
        _label_thread_axis(axis, partition, rows, "tok/s (median, min–max)")
    figure.suptitle("tok/s against threads")
    return figure


def plot_speedup_by_threads(scaling: pd.DataFrame) -> Figure | None:
    """Speedup over the baseline thread count against threads, a line per model and
    flag set, the ideal (linear) speedup dotted, one panel per partition.
    scaling: stats.scaling_table. None when it is empty."""
    if scaling.empty:
        return None
    partitions = list(dict.fromkeys(scaling["partition"]))
    flag_sets = list(dict.fromkeys(scaling["flag_set"]))
    models = list(dict.fromkeys(scaling["model"]))
    colors = {flag_set: f"C{position % 10}" for position, flag_set in enumerate(flag_sets)}
    figure = Figure(figsize=(1.0 + 5.5 * len(partitions), 4.8), layout="constrained")
    axes = figure.subplots(1, len(partitions), squeeze=False)[0]
    for axis, partition in zip(axes, partitions, strict=True):
        rows = scaling[scaling["partition"] == partition]
        thread_ticks = sorted(rows["threads"].dropna().unique())
        baseline = float(rows["baseline_threads"].min())
        ideal = np.array(thread_ticks, dtype=float)
        axis.plot(ideal, ideal / baseline, color="grey", linestyle=":", label="ideal")
        for (model, flag_set), line in rows.groupby(["model", "flag_set"], sort=False):
            style = models.index(model)
            axis.plot(
                line["threads"].to_numpy(dtype=float),
                line["speedup"].to_numpy(),
                color=colors[flag_set],
                linestyle=_LINE_STYLES[style % len(_LINE_STYLES)],
                marker=_MARKERS[style % len(_MARKERS)],
                label=f"{model} {flag_set}",
            )
        axis.set_yscale("log", base=2)
        axis.yaxis.set_major_formatter(ScalarFormatter())
        _label_thread_axis(axis, partition, rows, "speedup of the median tok/s")
    figure.suptitle("thread scaling (speedup over the fewest threads run, usually 1)")
    return figure


def plot_roofline_fraction(roofline: pd.DataFrame) -> Figure | None:
    """Fraction of the memory-bandwidth bound reached, a bar per configuration (model,
    flag set, threads), one panel per partition, 100 % marked. roofline:
    roofline.roofline_table. None when no configuration has a bound."""
    rows = roofline[roofline["fraction"].notna()]
    if rows.empty:
        return None
    partitions = list(dict.fromkeys(rows["partition"]))
    widths = [max(5.5, 0.35 * (rows["partition"] == partition).sum()) for partition in partitions]
    figure = Figure(figsize=(1.5 + sum(widths), 5.2), layout="constrained")
    axes = figure.subplots(1, len(partitions), squeeze=False, width_ratios=widths)[0]
    models = list(dict.fromkeys(rows["model"]))
    for axis, partition in zip(axes, partitions, strict=True):
        part = rows[rows["partition"] == partition]
        labels = [
            f"{row.model} {row.flag_set} t{_threads_text(row.threads)}"
            for row in part.itertuples(index=False)
        ]
        colors = [f"C{models.index(model) % 10}" for model in part["model"]]
        hatches = ["//" if working_set == "large" else "" for working_set in part["working_set"]]
        positions = np.arange(len(part))
        bars = axis.bar(positions, 100 * part["fraction"].to_numpy(), color=colors)
        for bar, hatch in zip(bars, hatches, strict=True):
            bar.set_hatch(hatch)
        axis.axhline(100, color="black", linewidth=0.8, linestyle="--")
        axis.set_xticks(positions, labels, rotation=60, ha="right", fontsize=7)
        axis.set_title(f"partition {partition}")
        axis.set_ylabel("% of the bandwidth bound (median tok/s)")
    figure.suptitle(
        "fraction of the bandwidth roofline\n(hatched: bound from the large working set)"
    )
    return figure


def _threads_text(threads: object) -> str:
    return "?" if pd.isna(threads) else str(int(threads))


def _ok_groups(table: pd.DataFrame) -> pd.DataFrame:
    return table[table["runs_ok"] > 0]


def _label_thread_axis(axis, partition: str, rows: pd.DataFrame, ylabel: str) -> None:
    """A log2 threads axis ticked at the thread counts run, titles and legend."""
    thread_ticks = sorted(rows["threads"].dropna().unique())
    axis.set_xscale("log", base=2)
    axis.set_xticks(thread_ticks, [str(threads) for threads in thread_ticks])
    axis.minorticks_off()
    axis.set_title(f"partition {partition}")
    axis.set_xlabel("threads (OMP_NUM_THREADS)")
    axis.set_ylabel(ylabel)
    axis.legend(fontsize=8)
