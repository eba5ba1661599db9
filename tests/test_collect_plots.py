"""The plots of a sweep the size the issue names (5 thread counts x 3 models x 5 flag sets,
3 repetitions) on a partition with bandwidth measurements, beside an emulated (qemu)
partition: what each figure draws (panels, lines, bars, legend), never its pixels."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba
from matplotlib.container import ErrorbarContainer

from collect.analysis import analyse
from collect.atomic import replacing_together
from collect.plots import (
    BY_FLAG_SET_PLOT,
    DRAM_BOUND_LABEL,
    DRIFT_PLOT,
    IDEAL_LABEL,
    OWN_BOUND_LABEL,
    RANGE_NOTE,
    ROOFLINE_PLOT,
    SPEEDUP_PLOT,
    plot_drift,
    plot_roofline,
    plot_speedup_by_threads,
    plot_tok_s_by_flag_set,
    write_plots,
)
from collect.roofline import KNOWN_CHECKPOINT_BYTES, bound_table
from collect.runs import runs_table
from collect.stats import add_derived_metrics
from collect.sweepfiles import SweepFiles

pytestmark = pytest.mark.unit

PARTITION = "nodes"
EMULATED = "riscv64-qemu"
MODELS = ("stories15M", "stories42M", "stories110M")
FLAG_SETS = {
    "O2": "-O2",
    "O3": "-O3",
    "O3-openmp": "-O3 -fopenmp",
    "Ofast-openmp": "-Ofast -fopenmp",
    "Ofast-native-openmp": "-Ofast -march=native -fopenmp",
}
THREADS = (1, 2, 4, 8, 16)
REPETITIONS = 3
# triad GB/s by thread count: at the checkpoint's size (all three fit no cache: the same),
# and beyond the cache
OWN_GB_S = {1: 6.0, 2: 11.0, 4: 19.0, 8: 26.0, 16: 28.0}
LARGE_GB_S = {1: 5.0, 2: 9.0, 4: 16.0, 8: 22.0, 16: 24.0}


def sweep_runs() -> pd.DataFrame:
    """Every configuration's repetitions on PARTITION (a flag set without OpenMP at 1
    thread only), tok/s below each model's bound, and one ok run per flag set on the
    emulated partition."""
    generator = np.random.default_rng(13)
    records = []

    def add(partition: str, model: str, flag_set: str, threads: int, tok_s: float, **facts):
        records.append(
            {
                "index": len(records),
                "sweep_id": "20261127-170000-ab12",
                "partition": partition,
                "model": model,
                "flag_set": flag_set,
                "cflags": FLAG_SETS[flag_set],
                "threads": threads,
                "repetition": facts.pop("repetition", 1),
                "status": "ok",
                "tok_s": tok_s,
                "steps": 64,
                "openmp": "-fopenmp" in FLAG_SETS[flag_set],
                "run_dir": f"runs/{len(records):04d}",
                "checkpoint_bytes": KNOWN_CHECKPOINT_BYTES[model],
                "emulated": partition == EMULATED,
                **facts,
            }
        )

    for repetition in range(1, REPETITIONS + 1):
        for model in MODELS:
            bytes_per_token = KNOWN_CHECKPOINT_BYTES[model]
            for position, (flag_set, cflags) in enumerate(FLAG_SETS.items()):
                for threads in THREADS if "-fopenmp" in cflags else (1,):
                    bound = OWN_GB_S[threads] * 1e9 / bytes_per_token
                    share = 0.3 + 0.1 * position - 0.01 * threads
                    tok_s = bound * share * generator.uniform(0.95, 1.05)
                    add(PARTITION, model, flag_set, threads, tok_s, repetition=repetition)
    for flag_set in FLAG_SETS:
        add(EMULATED, "stories15M", flag_set, 1, 3.0)
    return add_derived_metrics(runs_table(records))


def bandwidth() -> pd.DataFrame:
    rows = [
        (threads, label, gb_s)
        for label, measured in [("stories15M", OWN_GB_S), ("large", LARGE_GB_S)]
        for threads, gb_s in measured.items()
    ]
    return pd.DataFrame(
        {
            "partition": PARTITION,
            "threads": [threads for threads, _, _ in rows],
            "label": [label for _, label, _ in rows],
            "working_set_bytes": 0,
            "best_gb_s": [gb_s for _, _, gb_s in rows],
            "trials": 3,
            "host": "node-01",
            "file": "",
        }
    )


@pytest.fixture(scope="module")
def analysis():
    return analyse(sweep_runs(), SweepFiles(bandwidth=bandwidth()))


def panel_titles(figure) -> list[str]:
    return [axis.get_title().split("\n")[0] for axis in figure.axes if axis.axison]


def drawn_threads(container) -> list[int]:
    """The thread counts of an errorbar line: flag sets are drawn a little apart along the
    log2 threads axis (5 % of the panel's 4 doublings at most, here)."""
    exponents = np.log2(container.lines[0].get_xdata())
    assert np.all(np.abs(exponents - np.round(exponents)) <= 0.05 * 4 + 1e-9)
    return [int(threads) for threads in 2 ** np.round(exponents)]


def legend_labels(figure) -> list[str]:
    (legend,) = figure.legends
    return [text.get_text() for text in legend.get_texts()]


def test_bound_table_per_model_and_working_set_at_each_thread_count(analysis):
    bounds = bound_table(analysis.files.bandwidth, analysis.checkpoint_bytes)
    # stories15M has its own measurement; every model has the large one
    assert sorted(set(zip(bounds["model"], bounds["working_set"], strict=True))) == [
        ("stories110M", "large"),
        ("stories15M", "large"),
        ("stories15M", "own"),
        ("stories42M", "large"),
    ]
    own = bounds[(bounds["model"] == "stories15M") & (bounds["working_set"] == "own")]
    assert list(own["threads"]) == list(THREADS)
    assert list(own["bound_tok_s"]) == pytest.approx(
        [OWN_GB_S[threads] * 1e9 / KNOWN_CHECKPOINT_BYTES["stories15M"] for threads in THREADS]
    )


def test_roofline_has_a_panel_per_model_a_line_per_flag_set_and_the_bound(analysis):
    bounds = bound_table(analysis.files.bandwidth, analysis.checkpoint_bytes)
    figure = plot_roofline(analysis.table, bounds, analysis.roofline)
    assert panel_titles(figure) == [f"{PARTITION} · {model}" for model in MODELS]
    assert legend_labels(figure) == [*FLAG_SETS, OWN_BOUND_LABEL, DRAM_BOUND_LABEL]
    assert RANGE_NOTE in figure.get_suptitle()
    panels = {axis.get_title().split("\n")[0]: axis for axis in figure.axes if axis.axison}
    stories15m = panels[f"{PARTITION} · stories15M"]
    assert stories15m.get_xscale() == "log" and stories15m.get_yscale() == "log"
    # a line per flag set, with its range bars; a flag set without OpenMP is one point
    drawn = {container.get_label(): container for container in stories15m.containers}
    assert list(drawn) == list(FLAG_SETS)
    assert drawn_threads(drawn["O2"]) == [1]
    assert drawn_threads(drawn["Ofast-openmp"]) == list(THREADS)
    # the bound from the triad at each thread count, at the model's size and beyond the cache
    bounds = {line.get_label(): line for line in stories15m.get_lines()}
    for label, measured in [(OWN_BOUND_LABEL, OWN_GB_S), (DRAM_BOUND_LABEL, LARGE_GB_S)]:
        assert list(bounds[label].get_xdata()) == list(THREADS)
        assert list(bounds[label].get_ydata()) == pytest.approx(
            [measured[t] * 1e9 / KNOWN_CHECKPOINT_BYTES["stories15M"] for t in THREADS]
        )
    # stories42M has no measurement at its size: only the DRAM bound
    stories42m = panels[f"{PARTITION} · stories42M"]
    labels = {line.get_label() for line in stories42m.get_lines()}
    assert DRAM_BOUND_LABEL in labels and OWN_BOUND_LABEL not in labels
    # each panel names its fastest configuration and how far it is from its bound
    fastest = analysis.roofline[analysis.roofline["model"] == "stories15M"]
    fastest = fastest.sort_values("median").iloc[-1]
    assert stories15m.get_title().split("\n")[1] == (
        f"fastest: {fastest['flag_set']} t{fastest['threads']}, "
        f"{fastest['fraction']:.0%} of its bound"
    )


def test_roofline_bars_are_the_range_of_the_repetitions(analysis):
    bounds = bound_table(analysis.files.bandwidth, analysis.checkpoint_bytes)
    figure = plot_roofline(analysis.table, bounds, analysis.roofline)
    axis = next(
        axis for axis in figure.axes if axis.get_title().startswith(f"{PARTITION} · stories110M")
    )
    container = next(c for c in axis.containers if c.get_label() == "Ofast-openmp")
    _, _, (bars,) = container.lines
    table = analysis.table.set_index(["model", "flag_set"]).loc[("stories110M", "Ofast-openmp")]
    segments = np.array(bars.get_segments())  # one (x, low), (x, high) per thread count
    assert drawn_threads(container) == list(THREADS)
    assert list(segments[:, 0, 0]) == list(container.lines[0].get_xdata())
    assert list(segments[:, 0, 1]) == pytest.approx(list(table["min"]))
    assert list(segments[:, 1, 1]) == pytest.approx(list(table["max"]))
    assert (table["min"] < table["median"]).all() and (table["median"] < table["max"]).all()


def test_emulated_rows_appear_in_no_plot(analysis, tmp_path):
    assert set(analysis.emulated["partition"]) == {EMULATED}
    with replacing_together() as outputs:
        written = write_plots(analysis, tmp_path, outputs)
    assert [path.name for path in written] == [ROOFLINE_PLOT, SPEEDUP_PLOT, BY_FLAG_SET_PLOT]
    bounds = bound_table(analysis.files.bandwidth, analysis.checkpoint_bytes)
    figures = [
        plot_roofline(analysis.table, bounds, analysis.roofline),
        plot_speedup_by_threads(analysis.scaling, analysis.table),
        plot_tok_s_by_flag_set(analysis.table),
    ]
    for figure in figures:
        assert all(title.startswith(f"{PARTITION} · ") for title in panel_titles(figure))
    # a table that still held the emulated rows would have had a panel for them
    everything = analyse(sweep_runs().assign(emulated=False))
    titles = panel_titles(plot_tok_s_by_flag_set(everything.table))
    assert f"{EMULATED} · stories15M" in titles


def test_speedup_has_a_panel_per_model_and_the_ideal_line(analysis):
    figure = plot_speedup_by_threads(analysis.scaling, analysis.table)
    assert panel_titles(figure) == [f"{PARTITION} · {model}" for model in MODELS]
    # flag sets without OpenMP ran one thread count: no scaling line
    assert legend_labels(figure) == [
        "O3-openmp",
        "Ofast-openmp",
        "Ofast-native-openmp",
        IDEAL_LABEL,
    ]


def test_single_runs_draw_speedup_bars_of_no_length(tmp_path):
    """One run per configuration (a sweep's figures that once made the range dip a rounding
    error below the speedup, which matplotlib refuses): the bars have no length."""
    figures = {(1, 150.0), (2, 272.727273)}
    runs = runs_table(
        [
            {"index": index, "partition": PARTITION, "model": "stories15M",
             "flag_set": "Ofast-openmp", "cflags": "-Ofast -fopenmp", "threads": threads,
             "repetition": 1, "status": "ok", "tok_s": tok_s, "run_dir": f"runs/{index:04d}"}
            for index, (threads, tok_s) in enumerate(sorted(figures))
        ]
    )  # fmt: skip
    analysis = analyse(add_derived_metrics(runs))
    figure = plot_speedup_by_threads(analysis.scaling, analysis.table)
    (container,) = [c for c in figure.axes[0].containers if isinstance(c, ErrorbarContainer)]
    speedups = container.lines[0].get_ydata()
    assert list(speedups) == [1.0, 272.727273 / 150.0]
    (bars,) = container.lines[2]
    assert np.all(np.diff(bars.get_segments(), axis=1)[:, 0, 1] == 0)


def test_flag_set_bars_are_the_best_thread_count_with_its_range(analysis):
    figure = plot_tok_s_by_flag_set(analysis.table)
    assert panel_titles(figure) == [f"{PARTITION} · {model}" for model in MODELS]
    axis = next(axis for axis in figure.axes if axis.get_title() == f"{PARTITION} · stories42M")
    best = analysis.table[analysis.table["best"] & (analysis.table["model"] == "stories42M")]
    assert [tick.get_text() for tick in axis.get_xticklabels()] == [
        f"{row.flag_set} (t{row.threads})" for row in best.itertuples()
    ]
    assert [patch.get_height() for patch in axis.patches] == pytest.approx(list(best["median"]))
    (bars,) = next(c for c in axis.containers if isinstance(c, ErrorbarContainer)).lines[2]
    assert [high - low for (_, low), (_, high) in bars.get_segments()] == pytest.approx(
        list(best["max"] - best["min"])
    )


def test_a_flag_set_has_one_colour_in_every_panel_and_plot(analysis):
    bounds = bound_table(analysis.files.bandwidth, analysis.checkpoint_bytes)
    roofline = plot_roofline(analysis.table, bounds, analysis.roofline)
    speedup = plot_speedup_by_threads(analysis.scaling, analysis.table)
    (legend,) = roofline.legends
    colours = {
        label: to_rgba(handle.get_color())
        for label, handle in zip(legend_labels(roofline), legend.legend_handles, strict=True)
        if label in FLAG_SETS
    }
    assert len(set(colours.values())) == len(FLAG_SETS)
    for figure in (roofline, speedup):
        for axis in figure.axes:
            for container in axis.containers:
                assert to_rgba(container.lines[0].get_color()) == colours[container.get_label()]
    for axis in plot_tok_s_by_flag_set(analysis.table).axes:
        if axis.axison:
            flag_sets = [tick.get_text().split(" (t")[0] for tick in axis.get_xticklabels()]
            assert [colours[flag_set] for flag_set in flag_sets] == [
                patch.get_facecolor() for patch in axis.patches
            ]


def test_runs_of_unknown_thread_counts_get_bars_only(tmp_path):
    """A runs table that does not say its thread counts has no roofline nor scaling, and
    a bar per flag set labelled t?."""
    analysis = analyse(sweep_runs().assign(threads=pd.NA), SweepFiles(bandwidth=bandwidth()))
    with replacing_together() as outputs:
        assert [path.name for path in write_plots(analysis, tmp_path, outputs)] == [
            BY_FLAG_SET_PLOT
        ]
    axis = plot_tok_s_by_flag_set(analysis.table).axes[0]
    assert [tick.get_text() for tick in axis.get_xticklabels()] == [
        f"{flag_set} (t?)" for flag_set in FLAG_SETS
    ]


def drifting_runs() -> pd.DataFrame:
    """sweep_runs() started a minute apart in index order, PARTITION's tok/s falling by 10 %
    from its first run to its last; and a partition of two configurations, too few to judge."""
    runs = sweep_runs()
    start = pd.Timestamp("2026-11-27T17:00:00+00:00")
    runs["start_time"] = [(start + pd.Timedelta(minutes=i)).isoformat() for i in runs["index"]]
    ours = runs["partition"] == PARTITION
    runs.loc[ours, "tok_s"] *= np.linspace(1.0, 0.9, ours.sum())
    few = runs[ours & (runs["model"] == "stories15M") & runs["flag_set"].isin(["O2", "O3"])]
    return pd.concat([runs, few.assign(partition="few")], ignore_index=True)


def test_drift_plot_draws_each_run_in_time_and_the_judged_drift():
    analysis = analyse(drifting_runs(), SweepFiles())
    figure = plot_drift(analysis.runs, analysis.drift, analysis.table)
    panels = {axis.get_title().split(":")[0]: axis for axis in figure.axes}
    assert list(panels) == [PARTITION, "few"]  # no emulated partition
    drift = analysis.drift.set_index("partition")
    assert drift.loc[PARTITION, "detectable"] and drift.loc[PARTITION, "drift"] < -0.05
    for partition, axis in panels.items():
        ok = analysis.runs[(analysis.runs["partition"] == partition)]
        points = [line for line in axis.get_lines() if line.get_linestyle() == "None"]
        assert sum(len(line.get_xdata()) for line in points) == len(ok)
        judged = [line for line in axis.get_lines() if line.get_color() == "black"]
        if partition == PARTITION:
            (line,) = judged
            low, high = line.get_ydata()
            assert high - low == pytest.approx(drift.loc[PARTITION, "drift"])
            assert "drifted by -" in axis.get_title().replace("\n", " ")
        else:
            assert judged == [] and "too few runs" in axis.get_title().replace("\n", " ")


def test_drift_plot_needs_start_times(analysis, tmp_path):
    assert plot_drift(analysis.runs, analysis.drift, analysis.table) is None  # no start_time
    with replacing_together() as outputs:
        written = write_plots(analyse(drifting_runs(), SweepFiles()), tmp_path, outputs)
    assert DRIFT_PLOT in [path.name for path in written]
