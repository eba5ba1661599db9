"""Statuses of Slurm runs in the collector (collect.runs.run_status, collect_runs): the run's
own files are the ground truth; scheduler.json and slurm.out explain runs that could not
write them (TIMEOUT, CANCELLED, OUT_OF_MEMORY, a failed build)."""

import json
from pathlib import Path

import pytest

from collect.runs import (
    STATUS_CANCELLED,
    STATUS_FAILED,
    STATUS_OK,
    STATUS_TIMEOUT,
    RunFiles,
    SlurmFacts,
    collect_runs,
    run_status,
)
from collect.sweepfiles import read_profiles

OK_STDERR = "achieved tok/s: 123.4\n"


def task(state, reason="None", job_id=73, task_id=1):
    return {
        "job_id": job_id, "array_job_id": 70, "array_task_id": task_id, "state": state,
        "reason": reason, "exit_code": "0:15", "node": "node7",
    }  # fmt: skip


def killed(slurm_text=None):
    """A run the job script started but never finished: no meta.json, no status."""
    return RunFiles("0001-m-O3-t4-r1", stderr_text="", slurm_text=slurm_text)


@pytest.mark.parametrize(
    ("files", "slurm", "status", "words"),
    [
        (killed(), SlurmFacts(job=task("TIMEOUT")), STATUS_TIMEOUT, ["73", "time limit"]),
        (
            killed(
                "slurmstepd: error: *** JOB 73 ON n1 CANCELLED AT 2026-11-25T13:28:41 DUE TO "
                "TIME LIMIT ***"
            ),
            SlurmFacts(),
            STATUS_TIMEOUT,
            ["time limit"],
        ),
        (killed(), SlurmFacts(job=task("CANCELLED")), STATUS_CANCELLED, ["70_1", "cancelled"]),
        (
            killed("slurmstepd: error: *** JOB 73 ON n1 CANCELLED AT 2026-11-25T13:28:41 ***"),
            SlurmFacts(),
            STATUS_CANCELLED,
            ["cancelled"],
        ),
        (killed(), SlurmFacts(job=task("PREEMPTED")), STATUS_CANCELLED, ["PREEMPTED"]),
        (killed(), SlurmFacts(job=task("OUT_OF_MEMORY")), STATUS_FAILED, ["OUT_OF_MEMORY"]),
        (killed(), SlurmFacts(job=task("NODE_FAIL")), STATUS_FAILED, ["NODE_FAIL"]),
        (killed(), SlurmFacts(job=task("FAILED", "NonZeroExitCode")), STATUS_FAILED, ["FAILED"]),
        (
            RunFiles("0001-m-O3-t4-r1", started=False),
            SlurmFacts(
                partition="p1",
                job={**task("CANCELLED", "DependencyNeverSatisfied"), "job_id": None},
                build={"job_id": 69, "state": "FAILED", "exit_code": "1:0"},
                build_error="flag set bad (CFLAGS: -mfoo) was rejected by gcc:",
            ),
            STATUS_FAILED,
            ["build job 69", "p1", "never started", "flag set bad", "-mfoo"],
        ),
        (killed(), SlurmFacts(job=task("UNKNOWN")), STATUS_FAILED, ["no meta.json"]),
        (killed(), SlurmFacts(), STATUS_FAILED, ["no meta.json"]),
    ],
)
def test_status_of_a_run_that_could_not_finish(files, slurm, status, words):
    got, reason = run_status(files, None, slurm)
    assert got == status, reason
    for word in words:
        assert word in reason


def test_the_run_s_own_status_wins_over_the_scheduler():
    files = RunFiles("0001-m-O3-t4-r1", meta_text="{}", status_text="0\n", stderr_text=OK_STDERR)
    assert run_status(files, 123.4, SlurmFacts(job=task("TIMEOUT"))) == (STATUS_OK, "")
    failed = RunFiles("0001-m-O3-t4-r1", meta_text="{}", status_text="1\n", stderr_text="boom\n")
    assert run_status(failed, None, SlurmFacts(job=task("CANCELLED")))[0] == STATUS_FAILED


def write_run(runs: Path, name: str, meta: dict | None, status: str | None, slurm_out=None):
    run = runs / name
    run.mkdir(parents=True)
    (run / "stderr.txt").write_text(OK_STDERR if status == "0" else "")
    if meta is not None:
        (run / "meta.json").write_text(json.dumps(meta))
    if status is not None:
        (run / "status").write_text(status + "\n")
    if slurm_out is not None:
        (run / "slurm.out").write_text(slurm_out)


def test_collect_runs_of_a_slurm_sweep(tmp_path):
    """Two partitions: p1's build failed (its runs never started), on p2 one run ok, one
    over its time limit, one cancelled while pending."""
    names = ["0000-m-O3-t4-r1", "0001-m-O3-t4-r1", "0002-m-O3-t4-r1", "0003-m-O3-t4-r1",
             "0004-m-O3-t4-r1"]  # fmt: skip
    partitions = ["p1", "p1", "p2", "p2", "p2"]
    (tmp_path / "manifest.tsv").write_text(
        "".join(
            f"{i}\t{name}\tm\tO3\t4\t1\tbin\tckpt\t"
            + json.dumps({"index": i, "partition": partition, "cflags": "-O3"})
            + "\n"
            for i, (name, partition) in enumerate(zip(names, partitions, strict=True))
        )
    )
    (tmp_path / "sweep.json").write_text(json.dumps({"sweep_id": "s", "steps": 8}))
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
    runs = tmp_path / "runs"
    meta = {"index": 2, "partition": "p2", "host": "n2", "slurm_job_id": 22,
            "slurm_array_job_id": 21, "nproc": 4}  # fmt: skip
    write_run(runs, names[2], meta, "0")
    write_run(runs, names[3], None, None, slurm_out="start\n")

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


def test_profiles_that_left_no_profile_json_say_why(tmp_path):
    """Profiling runs of the manifest: one ok, one killed by its time limit, one cancelled
    before it started, one of a local sweep that never started."""
    planned = {
        5: ("p1-m-fastest", "p1"),
        6: ("p1-m-slowest", "p1"),
        7: ("p2-m-fastest", "p2"),
        8: ("local-m-fastest", "local"),
    }
    (tmp_path / "manifest.tsv").write_text(
        "".join(
            f"{i}\tprofile/{name}\tm\t{name.rsplit('-', 1)[1]}\t0\t0\t-\tckpt\t"
            + json.dumps({"index": i, "run_name": name, "partition": partition, "model": "m"})
            + "\n"
            for i, (name, partition) in planned.items()
        )
    )
    ok = tmp_path / "profiles" / "p1-m-fastest"
    ok.mkdir(parents=True)
    (ok / "profile.json").write_text(json.dumps({"status": "ok", "flag_set": "O3"}))
    killed_dir = tmp_path / "profiles" / "p1-m-slowest"
    killed_dir.mkdir()
    (killed_dir / "slurm.out").write_text(
        "slurmstepd: error: *** JOB 81 ON n1 CANCELLED AT 2026-11-25T13:28:41 DUE TO TIME "
        "LIMIT ***\n"
    )
    (tmp_path / "scheduler.json").write_text(
        json.dumps(
            {
                "builds": {"p1": {"state": "COMPLETED"}, "p2": {"state": "COMPLETED"}},
                "runs": {"7": {"job_id": None, "array_job_id": 90, "array_task_id": 0,
                               "state": "CANCELLED", "reason": "None"}},
            }
        )
    )  # fmt: skip
    profiles = {p.run_name: p for p in read_profiles(tmp_path)}
    assert sorted(profiles) == sorted(name for name, _ in planned.values())
    assert profiles["p1-m-fastest"].status == "ok"
    assert "reached its time limit (TIMEOUT)" in profiles["p1-m-slowest"].status
    assert "90_0" in profiles["p2-m-fastest"].status
    assert "was cancelled" in profiles["p2-m-fastest"].status
    assert profiles["p2-m-fastest"].info["model"] == "m"  # the manifest's facts
    assert profiles["local-m-fastest"].status == (
        "profiling run never started (no directory under profiles/)"
    )
