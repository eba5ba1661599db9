"""Statuses of Slurm runs in the collector (collect.runs.run_status, collect_runs): the run's
own files are the ground truth; scheduler.json and slurm.out explain runs that could not
write them (TIMEOUT, CANCELLED, OUT_OF_MEMORY, a failed build)."""

import json

import pytest
from builders import SweepWriter

from collect.plan import TaskFiles
from collect.runs import (
    STATUS_CANCELLED,
    STATUS_FAILED,
    STATUS_OK,
    STATUS_TIMEOUT,
    SchedulerFacts,
    collect_runs,
    read_sweep_facts,
    run_status,
)
from collect.sweepfiles import read_profiles

pytestmark = pytest.mark.unit

OK_STDERR = "achieved tok/s: 123.4\n"


def slurm(**facts) -> SchedulerFacts:
    """What Slurm's progress report recorded of a task (scheduler.json)."""
    return SchedulerFacts(backend="slurm", **facts)


def task(state, reason="None", job_id=73, task_id=1):
    return {
        "job_id": job_id, "array_job_id": 70, "array_task_id": task_id, "state": state,
        "reason": reason, "exit_code": "0:15", "node": "node7",
    }  # fmt: skip


def killed(slurm_text=None):
    """A run the job script started but never finished: no execution.txt, no status."""
    return TaskFiles("runs/0001-m-O3-t4-r1", started=True, stderr_text="", slurm_text=slurm_text)


@pytest.mark.parametrize(
    ("files", "slurm", "status", "words"),
    [
        (killed(), slurm(job=task("TIMEOUT")), STATUS_TIMEOUT, ["73", "time limit"]),
        (
            killed(
                "slurmstepd: error: *** JOB 73 ON n1 CANCELLED AT 2026-11-25T13:28:41 DUE TO "
                "TIME LIMIT ***"
            ),
            slurm(),
            STATUS_TIMEOUT,
            ["time limit"],
        ),
        (killed(), slurm(job=task("CANCELLED")), STATUS_CANCELLED, ["70_1", "cancelled"]),
        (
            killed("slurmstepd: error: *** JOB 73 ON n1 CANCELLED AT 2026-11-25T13:28:41 ***"),
            slurm(),
            STATUS_CANCELLED,
            ["cancelled"],
        ),
        (killed(), slurm(job=task("PREEMPTED")), STATUS_CANCELLED, ["PREEMPTED"]),
        (killed(), slurm(job=task("OUT_OF_MEMORY")), STATUS_FAILED, ["OUT_OF_MEMORY"]),
        (killed(), slurm(job=task("NODE_FAIL")), STATUS_FAILED, ["NODE_FAIL"]),
        (killed(), slurm(job=task("FAILED", "NonZeroExitCode")), STATUS_FAILED, ["FAILED"]),
        (
            TaskFiles("runs/0001-m-O3-t4-r1"),
            slurm(
                partition="p1",
                job={**task("CANCELLED", "DependencyNeverSatisfied"), "job_id": None},
                build={"job_id": 69, "state": "FAILED", "exit_code": "1:0"},
                build_error="flag set bad (CFLAGS: -mfoo) was rejected by gcc:",
            ),
            STATUS_FAILED,
            ["build job 69", "p1", "never started", "flag set bad", "-mfoo"],
        ),
        (killed(), slurm(job=task("UNKNOWN")), STATUS_FAILED, ["no execution.txt"]),
        (
            killed(),
            slurm(job={**task("RUNNING"), "lost": True}),
            STATUS_FAILED,
            ["70_1", "lost", "last seen RUNNING", "make resume"],
        ),
        (killed(), slurm(), STATUS_FAILED, ["no execution.txt"]),
    ],
)
def test_status_of_a_run_that_could_not_finish(files, slurm, status, words):
    got, reason = run_status(files, slurm)
    assert got == status, reason
    for word in words:
        assert word in reason


def test_the_run_s_own_status_wins_over_the_scheduler():
    def finished(status: str, stderr: str) -> TaskFiles:
        return TaskFiles(
            "runs/0001-m-O3-t4-r1", True, "exit_status=0\n", status, stderr, slurm_text=""
        )

    assert run_status(finished("0\n", OK_STDERR), slurm(job=task("TIMEOUT"))) == (
        STATUS_OK,
        "",
    )
    failed = finished("1\n", "boom\n")
    assert run_status(failed, slurm(job=task("CANCELLED")))[0] == STATUS_FAILED


def test_collect_runs_of_a_slurm_sweep(tmp_path):
    """Two partitions: p1's build failed (its runs never started), on p2 one run ok, one
    over its time limit, one cancelled while pending."""
    sweep = SweepWriter(tmp_path / "sweep")
    sweep.run("p1", "O3", 4, 1, started=False)
    sweep.run("p1", "O3", 4, 2, started=False)
    execution = {"host": "n2", "slurm_job_id": 22, "slurm_array_job_id": 21,
                 "slurm_array_task_id": 0}  # fmt: skip
    sweep.run("p2", "O3", 4, 1, tok_s=123.4, execution=execution)
    timed_out = sweep.run("p2", "O3", 4, 2, finished=False)
    (sweep.results_dir / timed_out / "slurm.out").write_text("start\n")
    sweep.run("p2", "O3", 4, 3, started=False)
    partitions = ["p1", "p1", "p2", "p2", "p2"]
    tmp_path = sweep.results_dir
    (tmp_path / "builds" / "p1").mkdir(parents=True)
    (tmp_path / "builds" / "p1" / "build.err").write_text(
        "flag set x (CFLAGS: -mbad) was rejected by gcc:\ngcc: error: -mbad\n"
    )
    never = {"array_job_id": 11, "job_id": None, "state": "CANCELLED"}
    (tmp_path / "scheduler.json").write_text(
        json.dumps(
            {
                "builds": {
                    "p1": {"job_id": 10, "state": "FAILED", "exit_code": "1:0"},
                    "p2": {"job_id": 20, "state": "COMPLETED", "exit_code": "0:0"},
                },
                "runs": {
                    "0": {**never, "array_task_id": 0, "reason": "DependencyNeverSatisfied"},
                    "1": {**never, "array_task_id": 1, "reason": "DependencyNeverSatisfied"},
                    "2": {"job_id": 22, "array_job_id": 21, "array_task_id": 0,
                          "state": "COMPLETED", "node": "n2"},
                    "3": {"job_id": 23, "array_job_id": 21, "array_task_id": 1,
                          "state": "TIMEOUT", "node": "n3", "reason": "TimeLimit"},
                    "4": {"job_id": None, "array_job_id": 21, "array_task_id": 2,
                          "state": "CANCELLED", "node": "", "reason": "None"},
                },
            }
        )
    )  # fmt: skip
    table = collect_runs(tmp_path).set_index("index")
    assert list(table["status"]) == ["failed", "failed", "ok", "timeout", "cancelled"]
    assert list(table["partition"]) == partitions
    for index in (0, 1):
        assert "build job 10 of partition p1 ended FAILED" in table.loc[index, "reason"]
        assert "-mbad" in table.loc[index, "reason"]
    # the killed run: job, array and node from the scheduler
    assert table.loc[3, "slurm_job_id"] == 23 and table.loc[3, "slurm_array_job_id"] == 21
    assert table.loc[3, "host"] == "n3"
    assert table.loc[2, "slurm_job_id"] == 22 and table.loc[2, "host"] == "n2"
    assert str(table["slurm_job_id"].dtype) == "Int64"


def test_profiles_that_did_not_finish_say_why(tmp_path):
    """Profile tasks of the plan: one ok, one killed by its time limit, one cancelled
    before it started, one of a local sweep that never started, one whose profile.sh
    failed."""
    sweep = SweepWriter(tmp_path / "sweep")
    selection = {"flag_set": "O3", "threads": 4, "median": 12.0, "runs": 3}
    sweep.profile("p1", "m", "fastest", selection, {"event": "cycles"})
    killed_dir = sweep.profile("p1", "m", "slowest", exit_status=None)
    (killed_dir / "slurm.out").write_text(
        "slurmstepd: error: *** JOB 81 ON n1 CANCELLED AT 2026-11-25T13:28:41 DUE TO TIME "
        "LIMIT ***\n"
    )
    sweep.profile("p2", "m", "fastest", started=False)
    sweep.profile("local", "m", "fastest", started=False)
    failure = "perf record -e cycles failed on n1: Permission denied"
    sweep.profile("p2", "m", "O3", selection, {"failure": failure + " "}, exit_status=1)
    (sweep.results_dir / "scheduler.json").write_text(
        json.dumps(
            {
                "builds": {"p1": {"state": "COMPLETED"}, "p2": {"state": "COMPLETED"}},
                "runs": {"2": {"job_id": None, "array_job_id": 90, "array_task_id": 0,
                               "state": "CANCELLED", "reason": "None"}},
            }
        )
    )  # fmt: skip
    profiles = read_profiles(sweep.results_dir, read_sweep_facts(sweep.results_dir))
    assert [profile.dir for profile in profiles] == [
        "profiles/p1-m-fastest",
        "profiles/p1-m-slowest",
        "profiles/p2-m-fastest",
        "profiles/local-m-fastest",
        "profiles/p2-m-O3",
    ]
    ok, slowest, cancelled, never, failed = profiles
    assert ok.run_name == "p1-m-fastest"
    assert ok.status == "ok"
    assert (ok.info["flag_set"], ok.info["threads"], ok.info["event"]) == ("O3", 4, "cycles")
    assert "reached its time limit (TIMEOUT)" in slowest.status
    assert "90_0" in cancelled.status
    assert "was cancelled" in cancelled.status
    assert cancelled.info["model"] == "m"  # the record's facts
    assert never.status == "profiling run never started (no directory)"
    assert failed.status == failure
