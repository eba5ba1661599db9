"""runs.csv, summary.md and plots from small hand-built results directories.

The tok/s values are chosen so medians and speedups can be checked by hand.
"""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from collect.plots import BY_FLAG_SET_PLOT, BY_THREADS_PLOT
from collect.runs import collect_runs
from collect.stats import UNKNOWN, flag_set_table
from collect.summary import render_summary, summarize

CAPTURED_PERF = Path(__file__).parent / "data" / "runs" / "human" / "perf.txt"
CFLAGS = {"O3": "-O3", "O3-openmp": "-O3 -fopenmp"}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class SweepWriter:
    """Writes a results directory the way a sweep does (docs/results-layout.md)."""

    def __init__(self, results_dir: Path):
        self.results_dir = results_dir
        self.index = 0
        (results_dir / "runs").mkdir(parents=True)
        sweep = {"sweep_id": results_dir.name, "steps": 256, "llama2c_commit": "350e04f"}
        (results_dir / "sweep.json").write_text(json.dumps({**sweep, "flag_sets": CFLAGS}))

    def run(
        self,
        partition: str,
        flag_set: str,
        threads: int,
        repetition: int,
        tok_s: float | None = None,
        exit_status: int = 0,
        stderr: str = "",
        finished: bool = True,
        model: str = "stories15M",
        perf: Path = CAPTURED_PERF,
        meta: dict | None = None,
    ) -> str:
        """One run; tok_s adds run.c's line to stderr, finished=False leaves no meta.json;
        perf is the perf.txt to copy, meta extra meta.json keys."""
        run_name = f"{self.index:04d}-{model}-{flag_set}-t{threads}-r{repetition}"
        with (self.results_dir / "manifest.tsv").open("a") as manifest:
            manifest.write(
                f"{self.index}\t{run_name}\t{model}\t{flag_set}\t{threads}\t{repetition}"
                "\t/bin/run\tckpt.bin\t{}\n"
            )
        run_dir = self.results_dir / "runs" / run_name
        run_dir.mkdir()
        (run_dir / "stdout.txt").write_text("Once upon a time\n")
        if tok_s is not None:
            stderr = f"achieved tok/s: {tok_s:.6f}\n" + stderr
        (run_dir / "stderr.txt").write_text(stderr)
        if finished:
            shutil.copy(perf, run_dir / "perf.txt")
            extra_meta = meta or {}
            meta = {
                "sweep_id": self.results_dir.name,
                "index": self.index,
                "partition": partition,
                "model": model,
                "flag_set": flag_set,
                "cflags": CFLAGS[flag_set],
                "threads": threads,
                "repetition": repetition,
                "steps": 256,
                "llama2c_commit": "350e04f",
                "checkpoint_sha256": "ab" * 32,
                "host": f"{partition}-01",
                "cpu_model": f"{partition} cpu",
                "nproc": 4 if partition == "nodes" else 64,
                "exit_status": exit_status,
                "start_time": "2026-11-25T13:15:00+01:00",
                "end_time": "2026-11-25T13:16:00+01:00",
                "duration_s": 60.0,
                "perf": True,
                **extra_meta,
            }
            (run_dir / "meta.json").write_text(json.dumps(meta))
            (run_dir / "status").write_text(f"{exit_status}\n")
        self.index += 1
        return f"runs/{run_name}"


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
        "sys_s", "start_time", "end_time", "run_dir",
    ]:  # fmt: skip
        assert column in runs.columns
    assert runs["duration_s"].iloc[0] == 60.0  # meta.json keys beyond the layout's
    assert runs["tok_s"].iloc[0] == 4.7
    assert runs["page_faults"].iloc[0] == 878
    assert pd.isna(runs["cycles"].iloc[0])


def test_failed_and_unfinished_runs_keep_their_row(two_partitions):
    runs = collect_runs(two_partitions).set_index("index")
    assert runs.loc[4, "status"] == "failed"
    assert runs.loc[4, "reason"] == "exit status 1: malloc failed!"
    unfinished = runs.loc[14]
    assert unfinished["status"] == "failed"
    assert unfinished["reason"] == "run did not finish (no meta.json)"
    # Planned facts come from the manifest, cflags from sweep.json, the rest is unknown.
    assert (unfinished["model"], unfinished["flag_set"]) == ("stories15M", "O3-openmp")
    assert (unfinished["threads"], unfinished["repetition"]) == (64, 3)
    assert unfinished["cflags"] == "-O3 -fopenmp"
    assert unfinished["sweep_id"] == "20261125-131500"
    assert pd.isna(unfinished["partition"])  # two partitions: cannot tell which
    assert (runs["status"] == "ok").sum() == 13


def test_unfinished_run_without_manifest_line_is_named_by_its_directory(tmp_path):
    sweep = SweepWriter(tmp_path / "sweep")
    sweep.run("local", "O3", 2, 1, tok_s=10.0)
    run_dir = tmp_path / "sweep" / "runs" / "0001-stories15M-O3-openmp-t2-r1"
    run_dir.mkdir()
    runs = collect_runs(tmp_path / "sweep").set_index("index")
    assert runs.loc[1, "flag_set"] == "O3-openmp"  # known flag set from sweep.json
    assert runs.loc[1, "reason"] == "run did not finish (no meta.json)"
    # One partition in the whole sweep: the unfinished run is counted in it.
    assert runs.loc[1, "partition"] == "local"


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
    assert (milkvs_64.runs_ok, milkvs_64.runs_total) == (2, 2)
    assert milkvs_64.speedup == pytest.approx(155.0 / 35.5)
    unknown = rows[(UNKNOWN, 64, "O3-openmp")]
    assert (unknown.runs_ok, unknown.runs_total) == (0, 1)
    # Sweep order: nodes (index 0) before milkvs (index 6), threads, then flag sets.
    assert list(zip(table["partition"], table["threads"], table["flag_set"], strict=True)) == [
        ("nodes", 4, "O3"),
        ("nodes", 4, "O3-openmp"),
        ("milkvs", 1, "O3"),
        ("milkvs", 1, "O3-openmp"),
        ("milkvs", 64, "O3"),
        ("milkvs", 64, "O3-openmp"),
        (UNKNOWN, 64, "O3-openmp"),
    ]


def test_summary_tables_and_failures(two_partitions):
    summary = render_summary(collect_runs(two_partitions))
    assert "15 runs: 13 ok, 2 failed." in summary
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
        "| O3-openmp | `-O3 -fopenmp` | 64 | 2/2 | 155.00 | 150.00 | 160.00 | 4.6 % | 4.37× |"
    ) in summary
    assert "Hosts: milkvs-01; CPU: milkvs cpu; nproc: 64." in summary
    assert "## Failures (2)" in summary
    assert (
        "| `runs/0004-stories15M-O3-openmp-t4-r2` | failed | exit status 1: malloc failed! |"
        in (summary)
    )
    assert (
        "| `runs/0014-stories15M-O3-openmp-t64-r3` | failed | run did not finish (no meta.json) |"
        in summary
    )


def test_summarize_writes_runs_csv_summary_and_plots(two_partitions):
    summary = summarize(two_partitions)
    assert (two_partitions / "summary.md").read_text() == summary
    runs_csv = pd.read_csv(two_partitions / "runs.csv")
    assert len(runs_csv) == 15
    assert runs_csv["tok_s"].iloc[-2] == 160.0
    for plot in (BY_FLAG_SET_PLOT, BY_THREADS_PLOT):
        assert (two_partitions / "plots" / plot).read_bytes().startswith(PNG_SIGNATURE)
        assert f"](plots/{plot})" in summary


def test_single_thread_count_has_no_threads_plot_and_removes_a_stale_one(tmp_path):
    sweep = SweepWriter(tmp_path / "sweep")
    sweep.run("local", "O3", 2, 1, tok_s=10.0)
    sweep.run("local", "O3-openmp", 2, 1, tok_s=15.0)
    stale = tmp_path / "sweep" / "plots" / BY_THREADS_PLOT
    stale.parent.mkdir()
    stale.write_bytes(b"old")
    summary = summarize(tmp_path / "sweep")
    assert (tmp_path / "sweep" / "plots" / BY_FLAG_SET_PLOT).exists()
    assert not stale.exists()
    assert "| O3-openmp | `-O3 -fopenmp` | 1/1 | 15.00 | 15.00 | 15.00 | — | 1.50× |" in summary
    assert "## Failures\n\nNone." in summary


def test_sweep_where_every_run_failed_still_summarizes(tmp_path):
    sweep = SweepWriter(tmp_path / "sweep")
    sweep.run("local", "O3", 2, 1, exit_status=1, stderr="Couldn't open file x.bin\n")
    sweep.run("local", "O3-openmp", 2, 1)  # exit 0 but no tok/s line
    sweep.run("local", "O3-openmp", 2, 2, finished=False)
    summary = summarize(tmp_path / "sweep")
    assert "3 runs: 0 ok, 3 failed." in summary
    assert "| O3 | `-O3` | 0/1 | — | — | — | — | — |" in summary
    assert "| O3-openmp | `-O3 -fopenmp` | 0/2 | — | — | — | — | — |" in summary
    assert "no 'achieved tok/s' line in stderr.txt" in summary
    assert not (tmp_path / "sweep" / "plots" / BY_FLAG_SET_PLOT).exists()


def test_results_directory_without_runs(tmp_path):
    (tmp_path / "empty").mkdir()
    summary = summarize(tmp_path / "empty")
    assert "No runs" in summary
    assert pd.read_csv(tmp_path / "empty" / "runs.csv").empty


def test_missing_results_directory_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="results directory not found"):
        summarize(tmp_path / "nowhere")


def test_run_in_manifest_that_never_started_has_a_failed_row(tmp_path):
    sweep = SweepWriter(tmp_path / "sweep")
    sweep.run("local", "O3", 2, 1, tok_s=10.0)
    static = {"partition": "local", "cflags": "-O3 -fopenmp", "steps": 256}
    (tmp_path / "sweep" / "manifest.tsv").write_text(
        "7\t0007-stories15M-O3-openmp-t2-r1\tstories15M\tO3-openmp\t2\t1\t/bin/run\t/ckpt\t"
        + json.dumps(static)
        + "\n"
    )
    runs = collect_runs(tmp_path / "sweep").set_index("index")
    assert runs.loc[7, "status"] == "failed"
    assert runs.loc[7, "reason"] == "run never started (no run directory)"
    assert (runs.loc[7, "partition"], runs.loc[7, "cflags"]) == ("local", "-O3 -fopenmp")
    assert runs.loc[0, "status"] == "ok"
