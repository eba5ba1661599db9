"""runs.csv, summary.md and plots from small hand-built results directories.

The tok/s values are chosen so medians and speedups can be checked by hand.
"""

from pathlib import Path

import pandas as pd
import pytest
from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_rules
from builders import SweepWriter

from collect.pipeline import summarize
from collect.plan import NotASweepError
from collect.plots import BY_FLAG_SET_PLOT, DRIFT_PLOT, ROOFLINE_PLOT, SPEEDUP_PLOT
from collect.runs import collect_runs
from collect.stats import UNKNOWN, flag_set_table
from collect.summary import render_summary

pytestmark = pytest.mark.unit

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def two_partitions(tmp_path: Path) -> Path:
    """nodes: one thread count, a failed run; milkvs: two thread counts, an unfinished run."""
    sweep = SweepWriter(tmp_path / "20261125-131500")
    # nodes, 4 threads. O3: median 4.8. O3-openmp: ok runs 16 and 18, median 17.
    sweep.run("nodes", "O3", 4, 1, tok_s=4.7)
    sweep.run("nodes", "O3", 4, 2, tok_s=4.9)
    sweep.run("nodes", "O3", 4, 3, tok_s=4.8)
    sweep.run("nodes", "O3-openmp", 4, 1, tok_s=16.0)
    sweep.run("nodes", "O3-openmp", 4, 2, exit_status=1, stderr="malloc failed!\n")
    sweep.run("nodes", "O3-openmp", 4, 3, tok_s=18.0)
    # milkvs, 1 and 64 threads; medians 35.5 | 35.5 | 35.0 | 155.0.
    sweep.run("milkvs", "O3", 1, 1, tok_s=35.0)
    sweep.run("milkvs", "O3", 1, 2, tok_s=36.0)
    sweep.run("milkvs", "O3", 64, 1, tok_s=35.2)
    sweep.run("milkvs", "O3", 64, 2, tok_s=35.8)
    sweep.run("milkvs", "O3-openmp", 1, 1, tok_s=34.0)
    sweep.run("milkvs", "O3-openmp", 1, 2, tok_s=36.0)
    sweep.run("milkvs", "O3-openmp", 64, 1, tok_s=150.0)
    sweep.run("milkvs", "O3-openmp", 64, 2, tok_s=160.0)
    sweep.run("milkvs", "O3-openmp", 64, 3, finished=False)
    return sweep.results_dir


def test_runs_table_has_a_row_per_run_directory_in_index_order(two_partitions):
    runs = collect_runs(two_partitions)
    assert len(runs) == 15
    assert list(runs["index"]) == list(range(15))
    for column in [
        "sweep_id", "partition", "host", "cpu_model", "nproc", "model", "flag_set",
        "cflags", "threads", "repetition", "status", "reason", "tok_s", "task_clock_ms",
        "cpus_utilized", "context_switches", "cpu_migrations", "page_faults", "cycles",
        "instructions", "ipc", "branches", "branch_misses", "elapsed_s", "user_s",
        "sys_s", "start_time", "end_time", "binary_sha256", "openmp", "run_dir",
    ]:  # fmt: skip
        assert column in runs.columns
    assert runs["duration_s"].iloc[0] == 60.0  # execution.txt's, typed
    assert runs["binary_sha256"].iloc[0] == "cd" * 32
    assert list(runs["openmp"].iloc[[0, 3]]) == [False, True]
    assert runs["run_dir"].iloc[0] == "runs/0000-stories15M-O3-t4-r1"  # the record's dir
    assert runs["tok_s"].iloc[0] == 4.7
    assert runs["page_faults"].iloc[0] == 878
    assert pd.isna(runs["cycles"].iloc[0])


def test_failed_and_unfinished_runs_keep_their_row(two_partitions):
    runs = collect_runs(two_partitions).set_index("index")
    assert runs.loc[4, "status"] == "failed"
    assert runs.loc[4, "reason"] == "exit status 1: malloc failed!"
    unfinished = runs.loc[14]
    assert unfinished["status"] == "failed"
    assert unfinished["reason"] == "run did not finish (no execution.txt)"
    # The plan's facts; what only the node knows is unknown.
    assert (unfinished["model"], unfinished["flag_set"]) == ("stories15M", "O3-openmp")
    assert (unfinished["threads"], unfinished["repetition"]) == (64, 3)
    assert (unfinished["partition"], unfinished["cflags"]) == ("milkvs", "-O3 -fopenmp")
    assert unfinished["sweep_id"] == "20261125-131500"
    assert pd.isna(unfinished["host"]) and pd.isna(unfinished["binary_sha256"])
    assert (runs["status"] == "ok").sum() == 13


def test_a_directory_that_no_task_record_names_is_no_row(tmp_path):
    sweep = SweepWriter(tmp_path / "sweep")
    sweep.run("local", "O3", 2, 1, tok_s=10.0)
    stray = tmp_path / "sweep" / "runs" / "0001-stories15M-O3-openmp-t2-r1"
    stray.mkdir()
    (stray / "stderr.txt").write_text("achieved tok/s: 99.000000\n")
    (stray / "status").write_text("0\n")
    runs = collect_runs(tmp_path / "sweep")
    assert list(runs["run_dir"]) == ["runs/0000-stories15M-O3-t2-r1"]


def test_flag_set_table_medians_and_speedups(two_partitions):
    table = flag_set_table(collect_runs(two_partitions))
    rows = {
        (row.partition, row.threads, row.flag_set): row for row in table.itertuples(index=False)
    }
    nodes_o3 = rows[("nodes", 4, "O3")]
    assert (nodes_o3.runs_ok, nodes_o3.runs_total) == (3, 3)
    assert nodes_o3.median == pytest.approx(4.8)
    assert (nodes_o3.min, nodes_o3.max) == (pytest.approx(4.7), pytest.approx(4.9))
    assert nodes_o3.speedup == pytest.approx(1.0)
    nodes_openmp = rows[("nodes", 4, "O3-openmp")]
    assert (nodes_openmp.runs_ok, nodes_openmp.runs_total) == (2, 3)
    assert nodes_openmp.median == pytest.approx(17.0)
    assert nodes_openmp.speedup == pytest.approx(17.0 / 4.8)
    assert rows[("milkvs", 1, "O3-openmp")].speedup == pytest.approx(35.0 / 35.5)
    milkvs_64 = rows[("milkvs", 64, "O3-openmp")]
    assert (milkvs_64.runs_ok, milkvs_64.runs_total) == (2, 3)
    assert milkvs_64.speedup == pytest.approx(155.0 / 35.5)
    assert UNKNOWN not in set(table["partition"])  # every row's partition is the plan's
    # Sweep order: nodes (index 0) before milkvs (index 6), threads, then flag sets.
    assert list(zip(table["partition"], table["threads"], table["flag_set"], strict=True)) == [
        ("nodes", 4, "O3"),
        ("nodes", 4, "O3-openmp"),
        ("milkvs", 1, "O3"),
        ("milkvs", 1, "O3-openmp"),
        ("milkvs", 64, "O3"),
        ("milkvs", 64, "O3-openmp"),
    ]


def test_summary_tables_and_failures(two_partitions):
    summary = render_summary(collect_runs(two_partitions))
    assert "- runs: 15 (13 ok, 2 failed)\n" in summary
    assert "## Partition `nodes`" in summary
    assert "### stories15M (4 threads)" in summary
    assert "| O3 | `-O3` | 3/3 | 4.80 | 4.70 | 4.90 | 2.1 % | 1.00× |" in summary
    assert (
        "| O3-openmp | `-O3 -fopenmp` | 2/3 | 17.00 | 16.00 | 18.00 | 8.3 % noisy | 3.54× |"
    ) in summary
    # Several thread counts on milkvs: a threads column, speedups per thread count.
    assert (
        "| O3-openmp | `-O3 -fopenmp` | 1 | 2/2 | 35.00 | 34.00 | 36.00 | 4.0 % | 0.99× |"
    ) in summary
    assert (
        "| O3-openmp | `-O3 -fopenmp` | 64 | 2/3 | 155.00 | 150.00 | 160.00 | 4.6 % | 4.37× |"
    ) in summary
    assert "Hosts: milkvs-01; CPU: milkvs cpu; nproc: 64." in summary
    assert "## Failures (2)\n\n2 failed runs." in summary
    assert (
        "| `runs/0004-stories15M-O3-openmp-t4-r2` | `nodes` | failed "
        "| exit status 1: malloc failed! |" in summary
    )
    assert (
        "| `runs/0014-stories15M-O3-openmp-t64-r3` | `milkvs` | failed | "
        "run did not finish (no execution.txt) |" in summary
    )


def test_summarize_writes_runs_csv_summary_and_plots(two_partitions):
    summary = summarize(two_partitions)
    assert (two_partitions / "summary.md").read_text() == summary
    runs_csv = pd.read_csv(two_partitions / "runs.csv")
    assert len(runs_csv) == 15
    assert runs_csv["tok_s"].iloc[-2] == 160.0
    for plot in (ROOFLINE_PLOT, SPEEDUP_PLOT, BY_FLAG_SET_PLOT):
        assert (two_partitions / "plots" / plot).read_bytes().startswith(PNG_SIGNATURE)
        assert f"](plots/{plot})" in summary


def test_single_thread_count_has_no_threads_plot_and_removes_a_stale_one(tmp_path):
    """Without bandwidth, one thread count makes no roofline nor scaling plot; a stale one,
    or one of the plots earlier versions wrote, is removed."""
    sweep = SweepWriter(tmp_path / "sweep")
    sweep.run("local", "O3", 2, 1, tok_s=10.0)
    sweep.run("local", "O3-openmp", 2, 1, tok_s=15.0)
    plots = tmp_path / "sweep" / "plots"
    stale = [plots / name for name in (ROOFLINE_PLOT, SPEEDUP_PLOT, "tok_s_by_threads.png")]
    plots.mkdir()
    for path in stale:
        path.write_bytes(b"old")
    summary = summarize(tmp_path / "sweep")
    assert sorted(path.name for path in plots.iterdir()) == [DRIFT_PLOT, BY_FLAG_SET_PLOT]
    assert "| O3-openmp | `-O3 -fopenmp` | 1/1 | 15.00 | 15.00 | 15.00 | — | 1.50× |" in summary
    assert "## Failures\n\nNone." in summary


def test_sweep_where_every_run_failed_still_summarizes(tmp_path):
    sweep = SweepWriter(tmp_path / "sweep")
    sweep.run("local", "O3", 2, 1, exit_status=1, stderr="Couldn't open file x.bin\n")
    sweep.run("local", "O3-openmp", 2, 1)  # exit 0 but no tok/s line
    sweep.run("local", "O3-openmp", 2, 2, finished=False)
    summary = summarize(tmp_path / "sweep")
    assert "- runs: 3 (0 ok, 3 failed)\n" in summary
    assert "| O3 | `-O3` | 0/1 | — | — | — | — | — |" in summary
    assert "| O3-openmp | `-O3 -fopenmp` | 0/2 | — | — | — | — | — |" in summary
    assert "no complete 'achieved tok/s' line with a finite figure in stderr.txt" in summary
    assert not (tmp_path / "sweep" / "plots" / BY_FLAG_SET_PLOT).exists()


def test_sweep_without_run_tasks(tmp_path):
    SweepWriter(tmp_path / "empty")
    summary = summarize(tmp_path / "empty")
    assert "No runs" in summary
    assert pd.read_csv(tmp_path / "empty" / "runs.csv").empty


def test_results_directory_without_plan_json_is_not_a_sweep_of_this_version(tmp_path):
    old = tmp_path / "20261101-120000"
    (old / "runs" / "0000-stories15M-O3-t1-r1").mkdir(parents=True)
    (old / "manifest.tsv").write_text("0\t0000-stories15M-O3-t1-r1\tstories15M\tO3\t1\t1\n")
    with pytest.raises(NotASweepError, match=f"^{old} has no plan.json: not a sweep of this"):
        summarize(old)
    assert not (old / "runs.csv").exists()


def test_missing_results_directory_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="results directory not found"):
        summarize(tmp_path / "nowhere")


def test_run_task_that_never_started_has_a_failed_row(tmp_path):
    sweep = SweepWriter(tmp_path / "sweep")
    sweep.run("local", "O3", 2, 1, tok_s=10.0)
    sweep.run("local", "O3-openmp", 2, 1, started=False)
    runs = collect_runs(tmp_path / "sweep").set_index("index")
    assert runs.loc[1, "status"] == "failed"
    assert runs.loc[1, "reason"] == "run never started (no run directory)"
    assert (runs.loc[1, "partition"], runs.loc[1, "cflags"]) == ("local", "-O3 -fopenmp")
    assert runs.loc[0, "status"] == "ok"


def test_the_profiled_fastest_configuration_is_the_one_the_report_calls_best(tmp_path):
    """The node picks what to profile with sweep_rules.select_profile; the summary and the
    report name each flag set's best thread count with sweep_rules.best_configurations.
    The medians and means disagree here (O3-openmp: t1 10 10 40, mean 20, median 10; t2
    15 15 15), so a mean anywhere would pick another configuration."""
    sweep = SweepWriter(tmp_path / "sweep")
    for threads, values in {1: (10.0, 10.0, 40.0), 2: (15.0, 15.0, 15.0)}.items():
        for repetition, tok_s in enumerate(values, start=1):
            sweep.run("local", "O3-openmp", threads, repetition, tok_s=tok_s)
    for repetition, tok_s in enumerate((12.0, 13.0, 14.0), start=1):
        sweep.run("local", "O3", 1, repetition, tok_s=tok_s)
    summary = summarize(sweep.results_dir, record_history=False)
    runs = pd.read_csv(sweep.results_dir / "runs.csv")
    rows = runs.loc[runs["status"] == "ok", ["flag_set", "threads", "tok_s"]].to_dict("records")

    fastest = sweep_rules.select_profile(rows, "fastest")
    assert (fastest["flag_set"], fastest["threads"]) == ("O3-openmp", 2)
    assert "Best thread count: stories15M O3-openmp: 2 threads, 1.50× over 1" in summary
    table = flag_set_table(runs)
    best = table[table["best"]]
    report_fastest = best.loc[best["median"].idxmax()]
    assert (report_fastest["flag_set"], report_fastest["threads"]) == ("O3-openmp", 2)
    assert report_fastest["median"] == fastest["median"]
    for flag_set in ("O3", "O3-openmp"):
        chosen = sweep_rules.select_profile(rows, flag_set)
        (threads,) = best.loc[best["flag_set"] == flag_set, "threads"]
        assert chosen["threads"] == threads
    html = (sweep.results_dir / "report.html").read_text()
    assert html.count('<tr class="best">') == 1  # O3-openmp's t2 in the scaling table


def test_a_flag_set_without_openmp_is_said_to_run_at_one_thread_only(tmp_path):
    sweep = SweepWriter(tmp_path / "sweep", single_thread_flag_sets={"local": ["O3"]})
    for threads in (1, 2):
        sweep.run("local", "O3-openmp", threads, 1, tok_s=10.0 * threads)
    sweep.run("local", "O3", 1, 1, tok_s=9.0)
    summary = summarize(sweep.results_dir, record_history=False)
    assert "- O3: no OpenMP, run at 1 thread only" in summary
    html = (sweep.results_dir / "report.html").read_text()
    assert '<p class="note">O3: no OpenMP, run at 1 thread only.</p>' in html
    (best_line,) = [line for line in summary.splitlines() if line.startswith("Best thread")]
    assert best_line == (
        "Best thread count: stories15M O3-openmp: 2 threads, 2.00× over 1 "
        "(—, too few runs to tell (needs ~3 runs each)), efficiency 100.0 %."
    )
