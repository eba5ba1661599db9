"""A run's status and reason (collect.runs.run_status), execution.txt, and plan.json read
as data (collect.plan)."""

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from builders import SweepWriter
from conftest import summarize

from collect.datafiles import NotRead
from collect.plan import TaskFiles, parse_execution, read_plan, read_task_dir
from collect.runs import collect_runs, parse_run_files, run_status

pytestmark = pytest.mark.unit

RUNS = Path(__file__).parent / "data" / "runs"

EXECUTION = "host=n1\nexit_status=0\n"
TOK_S_LINE = "achieved tok/s: 165.354331\n"


def files(execution: str | None, status: str | None, stderr: str | None) -> TaskFiles:
    return TaskFiles(
        "runs/r", started=True, execution_text=execution, status_text=status, stderr_text=stderr
    )


def test_finished_run_with_tok_s_is_ok():
    assert run_status(files(EXECUTION, "0\n", TOK_S_LINE)) == ("ok", "")


@pytest.mark.parametrize(
    ("task_files", "reason"),
    [
        (TaskFiles("runs/r"), "run never started (no run directory)"),
        (files(None, None, TOK_S_LINE), "run did not finish (no execution.txt)"),
        (files(EXECUTION, None, TOK_S_LINE), "run did not finish (no status file)"),
        (files(EXECUTION, "", TOK_S_LINE), "status file holds no exit status: ''"),
        (
            files(EXECUTION, "1\n", "Couldn't open file x.bin\n\n"),
            "exit status 1: Couldn't open file x.bin",
        ),
        (files(EXECUTION, "137\n", ""), "killed by SIGKILL (Killed), exit status 137"),
        (files(EXECUTION, "2\n", None), "exit status 2: (no stderr.txt)"),
        (files(EXECUTION, "0\n", None), "no stderr.txt"),
        (
            files(EXECUTION, "0\n", "something else\n"),
            "no complete 'achieved tok/s' line with a finite figure in stderr.txt",
        ),
        (
            files(EXECUTION, "0\n", "achieved tok/s: nan\n"),
            "no complete 'achieved tok/s' line with a finite figure in stderr.txt",
        ),
    ],
)
def test_failed_runs_say_why(task_files, reason):
    assert run_status(task_files) == ("failed", reason)


def test_nonzero_exit_fails_even_with_a_tok_s_line():
    task_files = files(EXECUTION, "1\n", TOK_S_LINE + "free(): invalid pointer\n")
    assert run_status(task_files) == ("failed", "exit status 1: free(): invalid pointer")


def test_long_stderr_line_is_shortened_in_the_reason():
    status, reason = run_status(files(EXECUTION, "1\n", "x" * 1000))
    assert status == "failed"
    assert reason == "exit status 1: " + "x" * 200


@pytest.mark.parametrize(
    ("run", "status", "reason"),
    [
        ("human", "ok", ""),
        ("missing-checkpoint", "failed", "exit status 1: Couldn't open file "),
        ("timeout-124", "failed", "exit status 124: (stderr.txt is empty)"),
        ("killed", "failed", "run did not finish (no execution.txt)"),
    ],
)
def test_captured_runs_joined_with_their_plan_record(tmp_path, run, status, reason):
    # Captured run directories hold what run.c and perf left, and status when the run
    # ended: the job script's execution.txt is written before status, so the finished
    # ones get one.
    sweep = SweepWriter(tmp_path / "sweep")
    run_dir = sweep.run("local", "O3", 1, 1, started=False)
    shutil.copytree(RUNS / run, tmp_path / "sweep" / run_dir)
    if (RUNS / run / "status").exists():
        (tmp_path / "sweep" / run_dir / "execution.txt").write_text(EXECUTION)
    (row,) = collect_runs(tmp_path / "sweep").to_dict("records")
    assert row["status"] == status
    assert row["reason"].startswith(reason)
    assert row["run_dir"] == run_dir


def test_perf_figures_come_from_stderr_when_there_is_no_perf_txt():
    figures = parse_run_files(read_task_dir(RUNS / "perf-to-stderr", RUNS))
    assert figures["tok_s"] == 166.226913
    assert figures["context_switches"] == 81


def test_execution_txt_values_are_raw_to_the_end_of_the_line_and_typed():
    text = (
        "host=node-01\ncpu_model=AMD EPYC 7713 64-Core Processor = fast\nnproc=128\n"
        "start_time=2026-11-27T14:00:00+00:00\nduration_s=12.345\nexit_status=0\n"
        "perf=true\nbinary_sha256=\nslurm_job_id=\nslurm_array_job_id=42\n"
        "slurm_array_task_id=x\nno separator\n=no key\n"
    )
    assert parse_execution(text) == {
        "host": "node-01",
        "cpu_model": "AMD EPYC 7713 64-Core Processor = fast",
        "nproc": 128,
        "start_time": "2026-11-27T14:00:00+00:00",
        "duration_s": 12.345,
        "exit_status": 0,
        "perf": True,
        "binary_sha256": None,
        "slurm_job_id": None,
        "slurm_array_job_id": 42,
        "slurm_array_task_id": None,  # unreadable: no figure, never an exception
    }


def plan_with(tmp_path: Path, *changes: dict) -> Path:
    """A sweep of three run tasks; changes[i] updates task i's record (None values delete)."""
    sweep = SweepWriter(tmp_path / "sweep")
    for repetition in (1, 2, 3):
        sweep.run("local", "O3", 1, repetition, tok_s=10.0 + repetition)
    plan = json.loads((sweep.results_dir / "plan.json").read_text())
    for task, change in zip(plan["tasks"], changes, strict=False):
        task.update(change)
        for key in [key for key, value in change.items() if value is None]:
            del task[key]
    (sweep.results_dir / "plan.json").write_text(json.dumps(plan))
    return sweep.results_dir


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"kind": "shell"}, "kind 'shell' is none of run, warmup, check, bandwidth, profile"),
        ({"threads": "4; rm -rf ~"}, "threads is '4; rm -rf ~', not int"),
        ({"threads": True}, "threads is True, not int"),
        ({"openmp": "yes"}, "openmp is 'yes', not bool"),
        ({"repetition": None}, "repetition is missing"),
        ({"repetition": 1.5}, "repetition is 1.5, not int"),
        ({"kind": ["run"]}, "kind ['run'] is none of run, warmup, check, bandwidth, profile"),
        ({"checkpoint_sha256": 7}, "checkpoint_sha256 is 7, not str or NoneType"),
        ({"dir": "../../etc"}, "dir '../../etc' is not a path inside the results directory"),
        ({"dir": "/etc"}, "dir '/etc' is not a path inside the results directory"),
        ({"index": 7}, "index 7 is not its position 1"),
    ],
)
def test_a_task_record_a_sweep_does_not_write_is_skipped_with_a_note(tmp_path, change, why):
    results_dir = plan_with(tmp_path, {}, change)
    not_read = NotRead()
    plan = read_plan(results_dir, not_read)
    assert [task["index"] for task in plan.tasks] == [0, 2]
    noted = not_read.listed()
    assert list(noted) == ["plan.json tasks[1]"]
    assert noted["plan.json tasks[1]"] == f"not a task record a sweep writes, skipped: {why}"
    assert list(collect_runs(results_dir)["index"]) == [0, 2]


def test_record_keys_beyond_the_contract_are_ignored(tmp_path):
    results_dir = plan_with(tmp_path, {"cpus_per_task": 4})
    assert len(read_plan(results_dir).tasks) == 3
    assert "cpus_per_task" not in collect_runs(results_dir).columns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "is not JSON"),
        ("[]", "is not a JSON object: list"),
        ('{"sweep_id": 3, "partitions": [], "tasks": []}', "sweep_id is 3, not a sweep id"),
        ('{"sweep_id": "s", "partitions": {}, "tasks": []}', "partitions and tasks must be"),
    ],
)
def test_a_malformed_plan_is_an_error_naming_it(tmp_path, text, message):
    (tmp_path / "plan.json").write_text(text)
    with pytest.raises(ValueError, match=message) as error:
        read_plan(tmp_path)
    assert str(tmp_path / "plan.json") in str(error.value)


# Runs of an RVV binary (-march=rv64gcv) on the riscv64 replica's mcimone-nodes, whose
# emulated CPU has no vectors, as run-task.sh left them (captured, paths shortened): under
# `perf stat`, which exits 0 for a command killed by a signal (sh between them passes 132
# on), and without perf.
SIGILL_CFLAGS = "-O3 -march=rv64gcv"


@pytest.mark.parametrize(
    ("run", "perf"), [("sigill-riscv64-perf", True), ("sigill-riscv64", False)]
)
def test_a_run_killed_by_a_signal_records_it_and_says_why(tmp_path, run, perf):
    sweep = SweepWriter(tmp_path / "sweep")
    run_dir = sweep.run(
        "mcimone-nodes", "rvv", 1, 1, started=False, record={"cflags": SIGILL_CFLAGS}
    )
    shutil.copytree(RUNS / run, tmp_path / "sweep" / run_dir)
    (row,) = collect_runs(tmp_path / "sweep").to_dict("records")
    assert (row["status"], row["exit_status"], row["signal"]) == ("failed", 132, "ILL")
    assert row["reason"] == (
        "killed by SIGILL (Illegal instruction), exit status 132: this node's CPU lacks an "
        "extension the flag set asks for (-march=rv64gcv; node's ISA: riscv64 rv64,v=false "
        "under qemu-user (emulated; host: AMD EPYC))"
    )
    # A node under qemu-user: emulated; perf, where it ran, counted nothing (no counter).
    assert row["emulated"] is True and row["perf"] is perf
    assert pd.isna(row["instructions"])
    assert ("instructions" in (row["perf_unsupported"] or "")) is perf


def test_summary_of_riscv64_nodes_under_qemu_user_says_what_it_shows(tmp_path):
    """A sweep whose every row is of nodes under qemu-user: no performance table, one line
    on perf, the emulated CPUs, and the SIGILL named with its likely cause."""
    sweep = SweepWriter(tmp_path / "sweep")
    for run, flag_set, cflags in (("ok-riscv64-perf", "O3", "-O3"),
                                  ("sigill-riscv64-perf", "rvv", SIGILL_CFLAGS)):  # fmt: skip
        run_dir = sweep.run(
            "mcimone-nodes", flag_set, 1, 1, started=False, record={"cflags": cflags}
        )
        shutil.copytree(RUNS / run, tmp_path / "sweep" / run_dir)
    summary = " ".join(summarize(tmp_path / "sweep").stdout.split())
    assert "No run on real hardware: all 2 runs (1 ok) executed under qemu" in summary
    assert "what the node executes: riscv64 rv64,v=false under qemu-user" in summary
    assert (
        "perf stat ran on `mcimone-nodes` and counted nothing (every event `<not supported>`: "
        "qemu-user does not emulate perf_event_open): these rows have no counters."
    ) in summary
    assert summary.count("perf stat") == 1
    assert "killed by SIGILL (Illegal instruction), exit status 132: this node's CPU" in summary
