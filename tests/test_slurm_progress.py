"""Unit tests of the Slurm backend's pieces that need no cluster: the progress report
against recorded scheduler JSON (fake squeue/sacct on PATH), for Slurm 22.05's JSON and the
newer shapes. (The partition plan's tests are in test_sweep_plan.py.)"""

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jmespath
import pytest
from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_plan as plan
from conftest import MODULE_UTILS, PROJECT

pytestmark = pytest.mark.unit

PROGRESS = MODULE_UTILS / "backend_slurm.py"
SLURM_DATA = PROJECT / "tests" / "data" / "slurm"


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


progress = load(PROGRESS, "llamasweep_progress")


# --- the progress report -------------------------------------------------------------------


def job(job_id, state, array_job_id=0, task=None, tasks="", reason="None", exit_code=0):
    return {
        "job_id": job_id, "array_job_id": array_job_id, "array_task_id": task,
        "array_task_string": tasks, "job_state": state, "state_reason": reason,
        "exit_code": exit_code, "nodes": "node1" if state != "PENDING" else "", "name": "x",
    }  # fmt: skip


def write_sweep(sweep_dir, *partitions):
    """plan.json and slurm-jobs.tsv of a submitted sweep. Each partition: (name, build job,
    run array jobs, runs[, profiling array job, profiling tasks]); its runs are split over
    its arrays in turn (task i in array i modulo their number), its profiling tasks follow;
    run task INDEX's directory is runs/INDEX-m-O3-t1-r1 (INDEX in 4 digits)."""
    tasks, planned, lines = [], [], []
    for name, build, arrays, runs, *profiling in partitions:
        profile_job, profile_tasks = profiling or (None, 0)
        first = len(tasks)
        tasks += [
            {"index": i, "kind": "run", "dir": f"runs/{i:04d}-m-O3-t1-r1", "partition": name}
            for i in range(first, first + runs)
        ]
        profile_first = len(tasks)
        tasks += [
            {"index": i, "kind": "profile", "dir": f"profiles/{name}-m-s{i}", "partition": name}
            for i in range(profile_first, profile_first + profile_tasks)
        ]
        planned.append(
            {
                "name": name,
                "first_index": first,
                "arrays": [
                    {"first_index": first, "array": plan.array_list(range(k, runs, len(arrays)))}
                    for k in range(len(arrays))
                ],
                "profile_array": profile_job
                and {"first_index": profile_first, "array": f"0-{profile_tasks - 1}"},
            }
        )
        jobs = ",".join(map(str, arrays))
        lines.append(f"{name}\t{build}\t{jobs}\t{profile_job or '-'}\n")
    document = {"sweep_id": "s", "partitions": planned, "tasks": tasks}
    (sweep_dir / "plan.json").write_text(json.dumps(document))
    (sweep_dir / "slurm-jobs.tsv").write_text("".join(lines))


# What the fake commands print without a recording: squeue failing, and what Slurm 24.11's
# sacct says on a cluster without accounting (tests/data/slurm/24.11).
FAILURES = {
    "squeue": "squeue: disabled",
    "sacct": (SLURM_DATA / "24.11" / "sacct--json.accounting-off.txt").read_text().strip(),
}


@pytest.fixture
def sweep(tmp_path):
    """A submitted sweep: partition p1 (build 10, array 11, 3 runs), p2 (build 20, array 21,
    2 runs); fake squeue/sacct print what the test puts in squeue.json/sacct.json."""
    sweep_dir = tmp_path / "sweep"
    (sweep_dir / "runs").mkdir(parents=True)
    write_sweep(sweep_dir, ("p1", 10, [11], 3), ("p2", 20, [21], 2))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for command in ("squeue", "sacct"):
        # Prints what the test recorded: COMMAND.json for --json, COMMAND.txt otherwise.
        script = bin_dir / command
        script.write_text(
            f'#!/bin/sh\necho "$0 $* SLURM_BITSTR_LEN=$SLURM_BITSTR_LEN" >> {tmp_path}/calls\n'
            f'case " $* " in *" --json "*) out={tmp_path}/{command}.json;; '
            f"*) out={tmp_path}/{command}.txt;; esac\n"
            f"[ -f $out ] || {{ cat {tmp_path}/{command}.error >&2; exit 1; }}\n"
            "cat $out\n"
        )
        script.chmod(0o755)
        (tmp_path / f"{command}.error").write_text(FAILURES[command] + "\n")
    scontrol = bin_dir / "scontrol"  # `scontrol show config`, the one line read
    scontrol.write_text(
        f'#!/bin/sh\necho "$0 $*" >> {tmp_path}/calls\necho "MinJobAge               = 600 sec"\n'
    )
    scontrol.chmod(0o755)

    class Sweep:
        dir = sweep_dir

        def squeue(self, jobs):
            (tmp_path / "squeue.json").write_text(json.dumps({"jobs": jobs}))

        def sacct(self, jobs):
            (tmp_path / "sacct.json").write_text(json.dumps({"jobs": jobs}))

        def squeue_fails(self):
            (tmp_path / "squeue.json").unlink(missing_ok=True)

        def record(self, name, source):
            """Make the fake command `name` (e.g. squeue.json) print a recording."""
            (tmp_path / name).write_text(Path(source).read_text())

        def jobs(self, *partitions):
            """plan.json and slurm-jobs.tsv of these partitions (see write_sweep)."""
            write_sweep(sweep_dir, *partitions)

        def query_way(self, way):
            (sweep_dir / "sweep.json").write_text(json.dumps({"slurm": {"query": way}}))

        def status(self, index, value, tok_s=True):
            """Run INDEX's files as run-task.sh leaves them: its stderr (run.c's tok/s
            line, unless tok_s is False), then its status file."""
            run = sweep_dir / "runs" / f"{index:04d}-m-O3-t1-r1"
            run.mkdir(exist_ok=True)
            (run / "stderr.txt").write_text("achieved tok/s: 512.5\n" if tok_s else "")
            (run / "status").write_text(f"{value}\n")

        def report(self, later=progress.DEFAULT_QUERY_INTERVAL_S):
            """The progress line, `later` seconds after the last call (its times moved back:
            the scheduler is asked at most once a query interval: 60 s, sweep.json silent)."""
            self.age(later)
            env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
            done = subprocess.run(
                [sys.executable, str(PROGRESS), str(sweep_dir)],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            return done.stdout.strip()

        def state(self):
            return json.loads((sweep_dir / "scheduler.json").read_text())

        def age(self, seconds):
            """Move scheduler.json's times (the last query, when each unit was first missed)
            seconds back, as if that much time had passed."""
            path = sweep_dir / "scheduler.json"
            if not path.exists():
                return
            state = json.loads(path.read_text())
            state["queried"] -= seconds  # (not "requeued": compared with files' mtimes)
            for entry in [*state["runs"].values(), *state["builds"].values()]:
                if "unseen_since" in entry:
                    entry["unseen_since"] -= seconds
            path.write_text(json.dumps(state))

        def sacct_fails(self, message):
            (tmp_path / "sacct.json").unlink(missing_ok=True)
            (tmp_path / "sacct.error").write_text(message + "\n")

        def calls(self):
            path = tmp_path / "calls"
            return path.read_text() if path.exists() else ""

    return Sweep()


def test_pending_while_builds_run(sweep):
    sweep.squeue(
        [
            job(10, "RUNNING"),
            job(11, "PENDING", 11, tasks="0-2", reason="Dependency"),
            job(20, "PENDING", reason="Resources"),
            job(21, "PENDING", 21, tasks="0-1%1", reason="Dependency"),
        ]
    )
    line = sweep.report()
    assert line == (
        "pending 5 (Dependency 5), running 0, done 0 (0 failed) of 5 runs; "
        "builds: p1 RUNNING, p2 PENDING (Resources)"
    )
    assert sweep.state()["runs"]["4"]["reason"] == "Dependency"


def test_status_files_are_ground_truth_and_scheduler_states_fill_in(sweep):
    sweep.status(0, 0)
    sweep.status(1, 3)  # run.c failed: the script wrote it
    sweep.status(3, 0)
    sweep.squeue(
        [
            job(10, "COMPLETED"),
            job(12, "COMPLETED", 11, task=0),
            job(13, "COMPLETED", 11, task=1, exit_code=3 << 8),
            job(11, "TIMEOUT", 11, task=2, exit_code=15),
            job(20, "COMPLETED"),
            job(22, "COMPLETED", 21, task=0),
            job(21, "RUNNING", 21, task=1),
        ]
    )
    assert sweep.report() == "pending 0, running 1, done 4 (2 failed) of 5 runs"
    state = sweep.state()
    assert state["runs"]["2"] == {
        "job_id": 11, "array_job_id": 11, "array_task_id": 2, "state": "TIMEOUT",
        "reason": "None", "exit_code": "0:15", "node": "node1",
    }  # fmt: skip
    assert state["runs"]["1"]["exit_code"] == "3:0"
    assert state["finished"] is False


def test_failed_build_cancels_its_array_and_the_sweep_finishes(sweep):
    sweep.squeue(
        [
            job(10, "FAILED", reason="NonZeroExitCode", exit_code=256),
            job(11, "CANCELLED", 11, tasks="0-2", reason="DependencyNeverSatisfied"),
            job(20, "COMPLETED"),
            job(22, "COMPLETED", 21, task=0),
            job(21, "COMPLETED", 21, task=1),
        ]
    )
    sweep.status(3, 0)
    sweep.status(4, 0)
    line = sweep.report()
    assert line == "finished: pending 0, running 0, done 5 (3 failed) of 5 runs; builds: p1 FAILED"
    state = sweep.state()
    assert state["builds"]["p1"]["exit_code"] == "1:0"
    assert {state["runs"][str(i)]["reason"] for i in range(3)} == {"DependencyNeverSatisfied"}


def test_states_outlive_squeue_and_the_wait_keeps_asking_accounting_until_it_knows(sweep):
    """squeue's answer alone decided "finished": an answer listing none of the sweep's jobs
    ([] once purged, or null) ended the wait and turned every run not seen final UNKNOWN and
    failed; sacct's RUNNING (slurmdbd lags) was thrown away and sacct never asked again."""
    sweep.sacct([])
    sweep.squeue(
        [
            job(10, "COMPLETED"), job(12, "RUNNING", 11, task=0),
            job(11, "PENDING", 11, tasks="1-2", reason="JobArrayTaskLimit"),
            job(20, "RUNNING"), job(21, "PENDING", 21, tasks="0-1", reason="Dependency"),
        ]
    )  # fmt: skip
    assert sweep.report() == (
        "pending 4 (JobArrayTaskLimit 2, Dependency 2), running 1, done 0 (0 failed) of 5 runs;"
        " builds: p2 RUNNING"
    )
    # MinJobAge later: squeue has forgotten the sweep; accounting lags: task 0 still runs
    sweep.squeue([])
    sweep.sacct([sacct_record(12, "RUNNING", 11, task=0)])
    for answer in ([], None):  # "jobs": [] and "jobs": null
        sweep.squeue(answer)
        line = sweep.report()
        assert (
            line
            == "pending 0, running 1, not seen 4, done 0 (0 failed) of 5 runs; builds: p2 not seen"
        )
    state = sweep.state()
    assert state["runs"]["0"]["state"] == "RUNNING" and state["finished"] is False
    assert "UNKNOWN" not in json.dumps(state)
    # accounting catches up: task 0 ran into its time limit, the rest completed
    for index in (1, 2, 3, 4):
        sweep.status(index, 0)
    sweep.sacct(
        [
            sacct_record(12, "TIMEOUT", 11, task=0, exit_code=15),
            sacct_record(20, "COMPLETED"),
        ]
    )
    line = sweep.report()
    assert line == "finished: pending 0, running 0, done 5 (1 failed) of 5 runs"
    state = sweep.state()
    assert state["accounting"] is True
    assert state["builds"]["p1"]["state"] == "COMPLETED"  # kept from the first call
    assert (state["runs"]["0"]["state"], state["runs"]["0"]["exit_code"]) == ("TIMEOUT", "0:15")
    assert state["builds"]["p2"]["state"] == "COMPLETED"
    # sacct asked at every query after squeue forgot, about the jobs still unsettled only
    sacct_calls = [call for call in sweep.calls().splitlines() if "/sacct " in call]
    assert [call.split()[2] for call in sacct_calls] == [
        "--jobs=11,20,21", "--jobs=11,20,21", "--jobs=11",
    ]  # fmt: skip


def sacct_record(job_id, state, array_job_id=0, task=None, exit_code=0):
    """A record of sacct --json (23.11+ shape)."""
    return {
        "job_id": job_id, "array": {"job_id": array_job_id, "task_id": task},
        "nodes": "node1", "name": "x", "state": {"current": [state], "reason": "None"},
        "exit_code": {"status": ["SUCCESS"], "return_code": exit_code >> 8,
                      "signal": {"id": exit_code & 0x7F}},
    }  # fmt: skip


def test_without_accounting_sacct_is_asked_once(sweep):
    sweep.squeue([job(10, "COMPLETED")])
    sweep.report()
    sweep.report()
    assert sweep.calls().count("/sacct --json") == 1
    assert sweep.state()["accounting"] is False


def test_failed_squeue_is_reported_and_never_finishes(sweep):
    sweep.squeue_fails()
    line = sweep.report()
    assert line.startswith("squeue failed (squeue: disabled)")
    assert not (sweep.dir / "scheduler.json").exists()


def test_newer_slurm_json_shapes(sweep):
    sweep.squeue(
        [
            {**job(10, "x"), "job_state": ["COMPLETED"]},
            {**job(12, "x", 11, task=0), "job_state": ["RUNNING", "COMPLETING"],
             "array_task_id": {"set": True, "infinite": False, "number": 0}},
            {**job(11, "x", 11), "job_state": ["PENDING"], "array_task_string": "1,2",
             "array_task_id": {"set": False, "infinite": False, "number": 0}},
            {**job(20, "x"), "job_state": ["CANCELLED"],
             "exit_code": {"status": ["SIGNALED"], "return_code": {"set": True, "number": 0},
                           "signal": {"id": {"set": True, "number": 15}, "name": "TERM"}}},
        ]
    )  # fmt: skip
    # p2's array is in no answer (no accounting here): not seen, not failed
    assert sweep.report() == (
        "pending 2, running 1, not seen 2, done 0 (0 failed) of 5 runs; builds: p2 CANCELLED"
    )
    assert sweep.state()["builds"]["p2"]["exit_code"] == "0:15"


@pytest.mark.parametrize(
    ("text", "tasks"),
    [("0-11%1", list(range(10))), ("3,5-7", [3, 5, 6, 7]), ("0-15:4", [0, 4, 8]), ("", [])],
)
def test_task_ids(text, tasks):
    assert progress.task_ids(text, 10) == tasks


def test_profiling_array_is_waited_for_and_its_tasks_recorded(sweep):
    # p1: runs on lines 0-2, then its profiling array 12 on lines 3-4; p2 from line 5.
    sweep.jobs(("p1", 10, [11], 3, 12, 2), ("p2", 20, [21], 2))
    for index in (0, 1, 2, 5, 6):
        sweep.status(index, 0)
    sweep.squeue(
        [
            job(10, "COMPLETED"), job(20, "COMPLETED"),
            job(11, "COMPLETED", 11, task=2), job(21, "COMPLETED", 21, task=1),
            job(13, "RUNNING", 12, task=0), job(12, "PENDING", 12, tasks="1", reason="Resources"),
        ]
    )  # fmt: skip
    assert sweep.report() == "pending 0, running 0, done 5 (0 failed) of 5 runs; profiles 0/2"
    state = sweep.state()
    assert (state["runs"]["3"]["state"], state["runs"]["4"]["state"]) == ("RUNNING", "PENDING")
    (sweep.dir / "profiles" / "p1-m-s3").mkdir(parents=True)
    (sweep.dir / "profiles" / "p1-m-s3" / "status").write_text("0\n")
    sweep.squeue([job(13, "COMPLETED", 12, task=0), job(14, "COMPLETED", 12, task=1)])
    line = sweep.report()
    assert line.startswith("finished: ") and line.endswith("; profiles 1/2")


# --- recordings of every Slurm release (tests/data/slurm, see its README) ----------------

RECORDED_SWEEP = (("p1", 100, [101], 4), ("p2", 110, [111], 2))


@pytest.mark.parametrize("version", ["23.02", "23.11", "24.05", "25.05", "25.11"])
def test_array_task_running_before_its_files_exist_counts_as_running(sweep, version):
    """The array's tasks have job ids of their own (23.02+: array_job_id is an object); task
    101_2 runs, but the login node cannot see its run directory yet."""
    sweep.jobs(*RECORDED_SWEEP)
    sweep.record("squeue.json", SLURM_DATA / version / "squeue-running.json")
    sweep.status(0, 0)
    sweep.status(1, 1)
    line = sweep.report()
    assert line == ("pending 1 (JobArrayTaskLimit 1), running 1, done 4 (3 failed) of 6 runs"), (
        version
    )
    runs = sweep.state()["runs"]
    assert {key: runs["2"][key] for key in ("job_id", "array_job_id", "state", "node")} == {
        "job_id": 104, "array_job_id": 101, "state": "RUNNING", "node": "n3",
    }  # fmt: skip
    assert (runs["1"]["exit_code"], runs["4"]["exit_code"], runs["5"]["exit_code"]) == (
        "1:0", "0:15", "0:15",
    )  # fmt: skip
    assert (runs["4"]["state"], runs["5"]["state"]) == ("TIMEOUT", "CANCELLED")
    assert runs["3"] == {
        "job_id": None, "array_job_id": 101, "array_task_id": 3, "state": "PENDING",
        "reason": "JobArrayTaskLimit", "exit_code": "0:0", "node": "",
    }  # fmt: skip
    # other users' jobs, even an array task numbered like ours, are no run of the sweep
    assert sorted(runs, key=int) == ["0", "1", "2", "3", "4", "5"]
    assert "n6" not in json.dumps(sweep.state()) and "n7" not in json.dumps(sweep.state())
    (call,) = sweep.calls().splitlines()
    assert "--me --states=all --jobs=101,110,111 --json" in call and "SLURM_BITSTR_LEN=0" in call


@pytest.mark.parametrize(
    ("version", "recording"),
    [
        *[(v, "sacct.json") for v in ["22.05", "23.02", "23.11", "24.05", "25.05", "25.11"]],
        ("text", "sacct.txt"),
    ],
)
def test_accounting_tells_how_forgotten_jobs_ended(sweep, version, recording):
    """squeue has forgotten the sweep; sacct knows each task's end, and the never-started
    remainder of p2's array (after its build failed) as one record: a task bitmask (JSON)
    or a task range (--parsable2)."""
    sweep.jobs(*RECORDED_SWEEP)
    if version == "text":
        sweep.query_way("text")
        (sweep.dir.parent / "squeue.txt").write_text("")
        sweep.record(recording, SLURM_DATA / "sacct-forgotten.txt")
    else:
        sweep.squeue([])
        sweep.record(recording, SLURM_DATA / version / "sacct-forgotten.json")
    sweep.status(0, 0)
    line = sweep.report()
    assert line == "finished: pending 0, running 0, done 6 (5 failed) of 6 runs; builds: p2 FAILED"
    state = sweep.state()
    assert [state["runs"][str(i)]["state"] for i in range(6)] == [
        "COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "CANCELLED", "CANCELLED",
    ]  # fmt: skip
    assert [state["runs"][str(i)]["exit_code"] for i in range(4)] == ["0:0", "1:0", "0:15", "0:15"]
    assert state["runs"]["2"]["job_id"] == 104 and state["runs"]["2"]["node"] == "n3"
    for index in (4, 5):
        assert state["runs"][str(index)]["job_id"] is None
        assert state["runs"][str(index)]["reason"] == "DependencyNeverSatisfied"
    assert state["builds"]["p2"]["exit_code"] == "1:0" and state["accounting"] is True
    # every job seen final: accounting is not asked again
    sweep.report()
    sacct_calls = [call for call in sweep.calls().splitlines() if "/sacct " in call]
    # (p1's build is not asked about: run 0 wrote its status file, so it completed)
    assert len(sacct_calls) == 1 and "--jobs=101,110,111 " in sacct_calls[0]


def test_sacct_is_asked_only_about_jobs_not_yet_seen_final(sweep):
    sweep.jobs(*RECORDED_SWEEP)
    # p1 ended while squeue listed it; p2 left squeue unseen
    sweep.squeue(
        [job(100, "COMPLETED")]
        + [job(102 + task, "COMPLETED", 101, task=task) for task in range(4)]
    )
    sweep.sacct([])
    sweep.report()
    sweep.squeue([])
    sweep.report()
    sacct_calls = [call for call in sweep.calls().splitlines() if "/sacct " in call]
    assert sacct_calls and all("--jobs=110,111 " in call for call in sacct_calls), sacct_calls


SLURM_22_05 = SLURM_DATA / "22.05"
# The captured jobs as a sweep: p1 built by 19, its array 21 (tasks exit 0, 1, 2); p2 "built"
# by 22 (the job that ran into its time limit), its array 20 behind a dependency on 19.
CAPTURED_SWEEP = (("p1", 19, [21], 3), ("p2", 22, [20], 4))


def test_slurm_22_05_capture(sweep):
    sweep.jobs(*CAPTURED_SWEEP)
    for index, status in enumerate([0, 1, 2]):
        sweep.status(index, status)
    sweep.record("squeue.json", SLURM_22_05 / "squeue-mid-bitstr0.json")
    # p1's runs wrote their status files: its build completed (afterok), whatever job 19 does
    assert sweep.report() == (
        "pending 4 (Dependency 4), running 0, done 3 (2 failed) of 7 runs; builds: p2 RUNNING"
    )
    state = sweep.state()
    assert state["builds"]["p1"]["reason"] == "its runs started (afterok)"
    for index in range(3, 7):
        sweep.status(index, 0)
    sweep.record("squeue.json", SLURM_22_05 / "squeue-final.json")
    assert sweep.report().startswith("finished: pending 0, running 0, done 7 (2 failed) of 7")
    state = sweep.state()
    assert state["builds"]["p2"] == {
        "job_id": 22, "array_job_id": None, "state": "TIMEOUT", "reason": "TimeLimit",
        "exit_code": "0:15", "node": "vm",
    }  # fmt: skip
    assert [state["runs"][str(i)]["job_id"] for i in range(7)] == [25, 26, 21, 28, 29, 30, 20]
    assert [state["runs"][str(i)]["exit_code"] for i in range(3)] == ["0:0", "1:0", "2:0"]


def test_slurm_22_05_text_capture(sweep):
    """The same jobs through `squeue --format` (no JSON), every job final: sacct is never
    asked (this cluster has no accounting)."""
    sweep.jobs(*CAPTURED_SWEEP)
    sweep.query_way("text")
    for index, status in enumerate([0, 1, 2, 0, 0, 0, 0]):
        sweep.status(index, status)
    sweep.record("squeue.txt", SLURM_22_05 / "squeue-final.txt")
    line = sweep.report()
    assert line.startswith("finished: pending 0, running 0, done 7 (2 failed) of 7 runs")
    state = sweep.state()
    assert state["builds"]["p2"]["state"] == "TIMEOUT" and state["builds"]["p1"]["node"] == "vm"
    assert [state["runs"][str(i)]["job_id"] for i in range(7)] == [25, 26, 21, 28, 29, 30, 20]
    assert {state["runs"][str(i)]["state"] for i in range(3, 7)} == {"COMPLETED"}
    assert state["runs"]["1"]["state"] == "FAILED"
    sweep.report()
    calls = sweep.calls()
    assert "--json" not in calls and "/sacct " not in calls


SLURM_24_11 = SLURM_DATA / "24.11"
# The 24.11 capture as a sweep: "built" by job 1 (which ran into its time limit), array 3
# of 6 tasks (0 completed, 1 failed with exit 3, 2 and 3 running, 4-5 throttled).
CAPTURED_24_11 = (("p1", 1, [3], 6),)


def test_slurm_24_11_capture(sweep):
    sweep.jobs(*CAPTURED_24_11)
    sweep.status(0, 0)
    sweep.record(
        "squeue.json",
        SLURM_24_11
        / "squeue--json--states=all.array-running-pending-completed-failed-timeout-cancelled.json",
    )
    # run 0 wrote its status file: its build completed (afterok), and is not asked about
    assert (
        sweep.report() == "pending 2 (JobArrayTaskLimit 2), running 2, done 2 (1 failed) of 6 runs"
    )
    state = sweep.state()
    # tasks 2 and 3 run with job ids of their own, before any file of theirs exists
    assert [(state["runs"][i]["job_id"], state["runs"][i]["node"]) for i in "23"] == [
        (6, "vm"), (7, "vm"),
    ]  # fmt: skip
    assert state["runs"]["1"]["exit_code"] == "3:0" and "p1" in state["builds"]
    sweep.record(
        "squeue.json", SLURM_24_11 / "squeue--json--states=all.after-cancelling-task-3.json"
    )
    assert sweep.report().startswith(
        "pending 1 (JobArrayTaskLimit 1), running 2, done 3 (2 failed)"
    )
    state = sweep.state()
    assert (state["runs"]["3"]["state"], state["runs"]["3"]["exit_code"]) == ("CANCELLED", "0:15")
    # the last pending task keeps the array's own job id
    assert (state["runs"]["5"]["job_id"], state["runs"]["5"]["state"]) == (3, "PENDING")


@pytest.mark.parametrize(
    ("cut", "whole", "job_id", "primes"),
    [
        (SLURM_22_05 / "squeue-mid.json", SLURM_22_05 / "squeue-mid-bitstr0.json", 27, 46),
        (
            SLURM_24_11 / "squeue--json.long-pending-array.json",
            SLURM_24_11 / "squeue--json.long-pending-array.SLURM_BITSTR_LEN=0.json",
            10,
            62,
        ),
    ],
)
def test_array_task_string_is_asked_for_whole(cut, whole, job_id, primes):
    """Slurm cuts array_task_string at 64 characters unless SLURM_BITSTR_LEN=0; both
    recorded (22.05, 24.11) for a held array over the primes below 200 or 300."""
    (cut_text,) = jmespath.search(f"jobs[?job_id==`{job_id}`].array_task_string", load_json(cut))
    (whole_text,) = jmespath.search(
        f"jobs[?job_id==`{job_id}`].array_task_string", load_json(whole)
    )
    assert "..." in cut_text and len(progress.task_ids(cut_text, 300)) < primes
    assert len(progress.task_ids(whole_text, 300)) == primes
    assert progress.QUERY_ENVIRONMENT["SLURM_BITSTR_LEN"] == "0"


def load_json(path):
    return json.loads(Path(path).read_text())


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (256, "1:0"),  # 22.05 squeue: raw wait status
        (15, "0:15"),
        ({"set": True, "infinite": False, "number": 512}, "2:0"),  # 23.02 squeue
        ({"set": False, "infinite": False, "number": 0}, None),
        ({"status": "SIGNALED", "return_code": -127, "signal": {"signal_id": 9}}, "0:9"),
        (
            {"status": ["ERROR"], "return_code": {"set": True, "infinite": False, "number": 3},
             "signal": {"id": {"set": False, "infinite": False, "number": 0}, "name": ""}},
            "3:0",
        ),
        ("0:15", "0:15"),  # sacct --parsable2
    ],
)  # fmt: skip
def test_exit_codes_of_every_release(code, text):
    assert progress.exit_code_text(code) == text


@pytest.mark.parametrize(
    ("text", "tasks"), [("0x7", [0, 1, 2]), ("0x5", [0, 2]), ("0xA0", [5, 7]), ("0x", [])]
)
def test_sacct_bitmask_of_never_started_tasks(text, tasks):
    assert progress.task_ids(text, 10) == tasks


# --- polling ---------------------------------------------------------------------------------


def test_poll_backs_off_while_nothing_changes_and_starts_again_on_a_change(tmp_path):
    """llamasweep.sweep.poll: the status command prints "same" four times, then "changed"
    twice, then "finished". The wait after a repeated line doubles from interval up to
    max_interval; after a new line it is interval again (the waits the action returns)."""
    status = tmp_path / "status.sh"
    status.write_text(
        f"echo >> {tmp_path}/calls\n"
        f"n=$(wc -l < {tmp_path}/calls)\n"
        'if [ "$n" -le 4 ]; then echo same; elif [ "$n" -le 6 ]; then echo changed;'
        " else echo finished; fi\n"
    )
    playbook = tmp_path / "poll.yml"
    playbook.write_text(
        "- hosts: localhost\n  gather_facts: false\n  tasks:\n"
        "    - llamasweep.sweep.poll:\n"
        f"        command: [sh, {status}]\n        interval: 0.1\n        max_interval: 0.4\n"
        "      register: polled\n"
        "    - ansible.builtin.copy:\n"
        "        content: '{{ polled.waits | to_json }}'\n"
        f"        dest: {tmp_path}/waits.json\n        mode: '0600'\n"
    )
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), str(playbook)],
        cwd=PROJECT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # after: same (new), same, same, same (capped), changed (new), changed; then finished
    assert json.loads((tmp_path / "waits.json").read_text()) == [0.1, 0.2, 0.4, 0.4, 0.1, 0.2]
    assert len((tmp_path / "calls").read_text().splitlines()) == 7


def test_a_resumed_sweep_s_jobs_replace_the_earlier_ones_of_their_tasks(sweep):
    # p1's array 11 ran tasks 0-2; task 1 was cancelled, then resumed: build 30, array 31
    # over task 1 alone (the arrays as submitted in slurm-jobs.tsv's fifth column).
    for index in (0, 2, 3, 4):
        sweep.status(index, 0)
    with open(sweep.dir / "slurm-jobs.tsv", "a") as jobs:
        jobs.write("p1\t30\t31\t-\t0:1\n")
    sweep.sacct([])
    sweep.squeue(
        [
            job(30, "RUNNING"),
            job(31, "PENDING", 31, tasks="1", reason="Dependency"),
            job(10, "COMPLETED"),  # the earlier jobs listed after: still not the newest
            job(12, "COMPLETED", 11, task=0),
            job(13, "CANCELLED", 11, task=1),
            job(14, "COMPLETED", 11, task=2),
            job(20, "COMPLETED"),
            job(22, "COMPLETED", 21, task=0),
            job(23, "COMPLETED", 21, task=1),
        ]
    )
    assert sweep.report() == (
        "pending 1 (Dependency 1), running 0, done 4 (0 failed) of 5 runs; builds: p1 RUNNING"
    )
    state = sweep.state()
    assert state["runs"]["1"]["array_job_id"] == 31 and state["runs"]["1"]["state"] == "PENDING"
    # the tasks that wrote their status files are not asked about
    asked = {job for jobs in re.findall(r"--jobs=(\S+)", sweep.calls()) for job in jobs.split(",")}
    assert "0" not in state["runs"] and "11" not in asked
    assert state["builds"]["p1"]["job_id"] == 30
    # Later the earlier array's records come again (sacct): they do not replace the newer.
    sweep.status(1, 0)
    sweep.squeue([job(30, "COMPLETED"), job(15, "COMPLETED", 31, task=1)])
    sweep.sacct([])
    line = sweep.report()
    assert line.startswith("finished: pending 0, running 0, done 5 (0 failed) of 5 runs")
    assert sweep.state()["runs"]["1"]["state"] == "COMPLETED"
    assert sweep.state()["runs"]["1"]["array_job_id"] == 31


# --- deciding "finished" on a busy cluster (issue 20) ------------------------------------


def test_a_failed_sacct_call_is_transient_unless_it_says_accounting_is_off(sweep):
    """One failed sacct call (slurmdbd timed out) switched accounting off for good and, in
    the same poll, finished the sweep."""
    sweep.squeue([job(10, "COMPLETED"), job(12, "COMPLETED", 11, task=0)])
    sweep.sacct_fails("sacct: error: slurm_persist_conn_open_without_init: failed to open")
    line = sweep.report()
    assert not line.startswith("finished")
    assert "not seen 4 (sacct failed: sacct: error: slurm_persist_conn_open" in line
    assert sweep.state()["accounting"] is None
    for index in range(4):
        sweep.status(index, 0)
    sweep.squeue([])
    sweep.sacct([sacct_record(23, "TIMEOUT", 21, task=1, exit_code=15)])  # slurmdbd is back
    assert sweep.report() == "finished: pending 0, running 0, done 5 (1 failed) of 5 runs"
    state = sweep.state()
    assert state["accounting"] is True and "accounting_error" not in state
    assert len([call for call in sweep.calls().splitlines() if "/sacct " in call]) == 2


# A run's task 0 requeued or held, as each release and the text path name it: 23.11+ JSON
# lists the base state then its flags; 22.05/23.02's JSON and squeue --format=%T give the
# one name Slurm's job_state_string() gives.
REQUEUED_TASK = [
    ("json", ["COMPLETED", "REQUEUE_HOLD"], "REQUEUE_HOLD"),
    ("json", ["PENDING", "REQUEUED"], "REQUEUED"),
    ("json", ["COMPLETED", "SPECIAL_EXIT"], "SPECIAL_EXIT"),
    ("json", "SPECIAL_EXIT", "SPECIAL_EXIT"),  # 23.02
    ("json", ["PENDING", "RESV_DEL_HOLD"], "RESV_DEL_HOLD"),
    ("json", ["FAILED", "REQUEUE_FED"], "REQUEUE_FED"),
    ("text", "REQUEUE_HOLD", "REQUEUE_HOLD"),
    ("text", "SPECIAL_EXIT", "SPECIAL_EXIT"),
]


@pytest.mark.parametrize(("way", "state", "name"), REQUEUED_TASK)
def test_requeue_and_hold_flags_on_a_final_state_are_not_final(sweep, way, state, name):
    """["COMPLETED", "REQUEUE_HOLD"] and SPECIAL_EXIT ended the sweep while Slurm would run
    the task again; the text path counted the same job pending."""
    sweep.jobs(("p1", 10, [11], 1))
    if way == "text":
        sweep.query_way("text")
        (sweep.dir.parent / "squeue.txt").write_text(
            f"10|10|N/A|COMPLETED|None|n1|b\n12|11|0|{state}|JobHeldUser|n1|r\n"
        )
    else:
        sweep.squeue(
            [
                job(10, "COMPLETED"),
                {**job(12, "x", 11, task=0), "job_state": state, "state_reason": "JobHeldUser"},
            ]
        )
    assert sweep.report() == "pending 1 (JobHeldUser 1), running 0, done 0 (0 failed) of 1 runs"
    assert sweep.state()["runs"]["0"]["state"] == name


@pytest.mark.parametrize(
    ("state", "phase"),
    [
        (["COMPLETED", "COMPLETING"], "running 1"),  # its processes may still be active
        (["CANCELLED", "STAGE_OUT"], "running 1"),
        (["RUNNING", "SIGNALING"], "running 1"),
        (["SUSPENDED"], "running 1"),
        (["RUNNING", "STOPPED"], "running 1"),
        (["COMPLETED", "UPDATE_DB"], "done 1 (1 failed)"),  # a flag %T does not show either
        (["PREEMPTED"], "done 1 (1 failed)"),
        (["LAUNCHED_ON_MARS"], "running 1"),  # a state this code does not know: not final
        ([], "running 1"),
    ],
)
def test_each_state_is_final_only_where_slurm_documents_it(sweep, state, phase):
    sweep.jobs(("p1", 10, [11], 1))
    sweep.squeue([job(10, "COMPLETED"), {**job(12, "x", 11, task=0), "job_state": state}])
    line = sweep.report()
    assert phase in line and line.startswith("finished") == ("done 1" in phase), line


def test_a_task_requeued_after_it_wrote_its_status_is_waited_for(sweep):
    sweep.jobs(("p1", 10, [11], 1))
    sweep.status(0, 0)
    sweep.squeue([job(10, "COMPLETED"), job(12, "COMPLETED", 11, task=0)])
    assert sweep.report().startswith("finished: ")
    # scontrol requeue 12: it runs again (the first status file still there)
    (sweep.dir / "scheduler.json").unlink()
    sweep.squeue(
        [job(10, "COMPLETED"), {**job(12, "x", 11, task=0), "job_state": ["PENDING", "REQUEUED"]}]
    )
    assert sweep.report() == "pending 1, running 0, done 0 (0 failed) of 1 runs"
    assert sweep.report(later=0) == "pending 1, running 0, done 0 (0 failed) of 1 runs"
    # an answer without the task does not make its first status file an end again
    sweep.squeue([job(10, "COMPLETED")])
    assert sweep.report() == "pending 0, running 0, not seen 1, done 0 (0 failed) of 1 runs"
    # the second run writes its status after that query: done, then the end is checked
    sweep.age(1)
    status = sweep.dir / "runs" / "0000-m-O3-t1-r1" / "status"
    os.utime(status)  # written now, after the query
    sweep.squeue([job(10, "COMPLETED"), job(12, "COMPLETED", 11, task=0)])
    assert sweep.report(later=0) == "finished: pending 0, running 0, done 1 (0 failed) of 1 runs"


@pytest.mark.parametrize("way", ["json", "text"])
def test_bytes_that_are_no_utf_8_in_another_user_s_job_fail_no_poll(sweep, way):
    """22.05's squeue lists other users' jobs whatever --me says; one byte of a job name
    that is no UTF-8 made every poll fail ('utf-8' codec can't decode)."""
    sweep.jobs(*CAPTURED_SWEEP)
    for index, status in enumerate([0, 1, 2, 0, 0, 0, 0]):
        sweep.status(index, status)
    if way == "text":
        sweep.query_way("text")
        recorded = (SLURM_22_05 / "squeue-final.txt").read_bytes()
        answer = recorded + b"99|99|N/A|RUNNING|None|vm|caf\xe9 \xff\xfe\n"
        (sweep.dir.parent / "squeue.txt").write_bytes(answer)
    else:
        recorded = (SLURM_22_05 / "squeue-final.json").read_bytes()
        first_name = json.loads(recorded)["jobs"][0]["name"].encode()
        answer = recorded.replace(b'"' + first_name + b'"', b'"caf\xe9 \xff"', 1)
        (sweep.dir.parent / "squeue.json").write_bytes(answer)
    line = sweep.report()
    assert line.startswith("finished: pending 0, running 0, done 7 (2 failed) of 7 runs"), line


def test_records_lacking_a_state_or_a_task_id_are_neither_final_nor_dropped(sweep):
    """A running task whose record lacked job_state became UNKNOWN and final; a record
    without array_task_id was dropped silently."""
    sweep.jobs(("p1", 10, [11], 3))
    sweep.squeue(
        [
            job(10, "COMPLETED"),
            job(12, "RUNNING", 11, task=0),
            job(13, "RUNNING", 11, task=1),
            job(11, "PENDING", 11, tasks="2"),
        ]
    )
    sweep.report()
    no_state = {key: value for key, value in job(12, "x", 11, task=0).items() if key != "job_state"}
    no_task = {
        key: value for key, value in job(13, "COMPLETED", 11).items() if key != "array_task_id"
    }
    stranger = {
        key: value for key, value in job(14, "RUNNING", 11).items() if key != "array_task_id"
    }
    sweep.squeue([job(10, "COMPLETED"), no_state, no_task, stranger])
    line = sweep.report()
    # task 0 still running (its last known state kept); task 1 known by its job id (13);
    # job 14 names no task: said, not dropped; task 2 in no answer
    assert line == (
        "pending 0, running 1, not seen 1, done 1 (1 failed) of 3 runs;"
        " records without a task id: jobs 14"
    )
    runs = sweep.state()["runs"]
    assert (runs["0"]["state"], runs["1"]["state"], runs["1"]["job_id"]) == (
        "RUNNING",
        "COMPLETED",
        13,
    )


def test_a_forgotten_build_whose_runs_started_completed(sweep):
    """A build job squeue has forgotten, on a cluster without accounting, showed PENDING
    while its array ran: its runs depend on it afterok, so it completed."""
    sweep.jobs(("p1", 10, [11], 2))
    sweep.squeue(
        [
            job(10, "PENDING", reason="Priority"),
            job(11, "PENDING", 11, tasks="0-1", reason="Dependency"),
        ]
    )
    assert sweep.report().endswith("; builds: p1 PENDING (Priority)")
    sweep.squeue(
        [
            job(12, "RUNNING", 11, task=0),
            job(11, "PENDING", 11, tasks="1", reason="JobArrayTaskLimit"),
        ]
    )
    assert (
        sweep.report() == "pending 1 (JobArrayTaskLimit 1), running 1, done 0 (0 failed) of 2 runs"
    )
    build = sweep.state()["builds"]["p1"]
    assert (build["state"], build["reason"]) == ("COMPLETED", "its runs started (afterok)")


def test_a_build_last_seen_running_completed_once_a_run_wrote_its_status(sweep):
    """Between queries the files show the runs' progress: a run's status file says its build
    completed, whatever the last query saw."""
    sweep.jobs(("p1", 10, [11], 2))
    sweep.squeue([job(10, "RUNNING"), job(11, "PENDING", 11, tasks="0-1", reason="Dependency")])
    assert sweep.report().endswith("; builds: p1 RUNNING")
    sweep.status(0, 0)
    assert (
        sweep.report(later=0) == "pending 1 (Dependency 1), running 0, done 1 (0 failed) of 2 runs"
    )
    assert sweep.calls().count("/squeue ") == 1  # from the files alone


def test_without_accounting_a_run_in_no_answer_is_lost_after_min_job_age_and_polls(sweep):
    """Without accounting a run in neither answer and without a status file is lost once it
    has been missed at LOST_AFTER_POLLS queries over the cluster's MinJobAge (600 s here):
    reported with its last known state; the wait goes on for the rest, then ends."""
    sweep.jobs(("p1", 10, [11], 3))
    sweep.squeue(
        [
            job(10, "COMPLETED"),
            job(12, "RUNNING", 11, task=0),
            job(13, "RUNNING", 11, task=1),
            job(14, "RUNNING", 11, task=2),
        ]
    )
    sweep.report()
    sweep.status(1, 0)
    sweep.squeue([job(14, "RUNNING", 11, task=2)])  # 12 vanished (a lost node, a purge)
    for _ in range(progress.LOST_AFTER_POLLS):  # missed at 3 queries, but not yet for 600 s
        line = sweep.report()
        assert line == "pending 0, running 1, not seen 1, done 1 (0 failed) of 3 runs"
    line = sweep.report(later=600)
    assert line == (
        "pending 0, running 1, done 2 (1 failed) of 3 runs; lost 1 (last seen RUNNING 1):"
        " in neither squeue nor sacct for 600 s, no status file"
    )
    sweep.squeue([job(14, "COMPLETED", 11, task=2)])
    sweep.status(2, 0)
    line = sweep.report()
    assert line.startswith("finished: pending 0, running 0, done 3 (1 failed) of 3 runs; lost 1")
    assert line.endswith("; `make resume SWEEP=s` runs them again")
    state = sweep.state()
    assert state["runs"]["0"]["lost"] is True and state["runs"]["0"]["state"] == "RUNNING"
    assert state["min_job_age"] == 600 and sweep.calls().count("/scontrol show config") == 1
    assert sweep.calls().count("/sacct ") == 1  # accounting off: asked once


ACCOUNTING_DATA = SLURM_DATA / "24.11-accounting"


@pytest.mark.parametrize("way", ["json", "text"])
def test_a_task_cancelled_while_pending_is_lost_once_accounting_shows_its_array_without_it(
    sweep, way
):
    """24.11 with accounting (recorded): task 1 of array 186 (0-2%1) cancelled while pending
    is in no answer, squeue's or sacct's, ever again; the wait ended only at
    sweep_wait_timeout. Accounting answers about its array without it: lost after MinJobAge
    and LOST_AFTER_POLLS queries, the rest of the sweep waited for as usual."""
    sweep.jobs(("p1", 180, [186], 3))
    sweep.record("squeue.json", ACCOUNTING_DATA / "squeue--json--me--states=all--jobs=ARRAY"
                 ".after-cancelling-pending-task-1.json")  # fmt: skip
    sweep.record("sacct.json", ACCOUNTING_DATA / "sacct--json--jobs=ARRAY"
                 ".after-cancelling-pending-task-1.json")  # fmt: skip
    line = sweep.report()
    assert line == (
        "pending 1 (JobArrayTaskLimit 1), running 1, not seen 1, done 0 (0 failed) of 3 runs"
    )
    # tasks 0 and 2 end and write their status files; slurmctld purges the array
    sweep.status(0, 0)
    sweep.status(2, 0)
    sweep.squeue_fails()
    sweep.record(
        "squeue.error", ACCOUNTING_DATA / "squeue--json--me--states=all--jobs=ARRAY.purged.json"
    )
    if way == "text":
        sweep.query_way("text")
        sweep.record("sacct.txt", ACCOUNTING_DATA / "sacct--parsable2.purged.txt")
    else:
        sweep.record("sacct.json", ACCOUNTING_DATA / "sacct--json--jobs=ARRAY.purged.json")
    for _ in range(progress.LOST_AFTER_POLLS - 1):  # missed at 3 queries, not yet for 600 s
        assert sweep.report() == "pending 0, running 0, not seen 1, done 2 (0 failed) of 3 runs"
    line = sweep.report(later=600)
    assert line == (
        "finished: pending 0, running 0, done 3 (1 failed) of 3 runs; lost 1 (never seen 1):"
        " in neither squeue nor sacct for 600 s, no status file;"
        " `make resume SWEEP=s` runs them again"
    )
    state = sweep.state()
    assert state["accounting"] is True and state["runs"]["1"]["lost"] is True


def test_a_task_accounting_has_not_heard_of_is_waited_for(sweep):
    """Accounting that knows nothing of a task's array yet (slurmdbd lags behind the
    submission) is no evidence: the task stays not seen, however long."""
    sweep.jobs(("p1", 10, [11], 1))
    sweep.squeue([job(10, "COMPLETED")])
    sweep.sacct([])
    for _ in range(progress.LOST_AFTER_POLLS + 1):
        line = sweep.report(later=600)
        assert line == "pending 0, running 0, not seen 1, done 0 (0 failed) of 1 runs"
    assert sweep.state()["accounting"] is True


def test_a_run_that_exited_0_without_a_tok_s_line_is_failed(sweep):
    """ "Failed" is sweep_rules.run_ok's, as in runs.csv: exit 0 and run.c's tok/s line. A
    requeued run's new files are read again."""
    sweep.jobs(("p1", 10, [11], 2))
    sweep.squeue([job(10, "COMPLETED")] + [job(12 + i, "COMPLETED", 11, task=i) for i in range(2)])
    sweep.status(0, 0)
    sweep.status(1, 0, tok_s=False)
    assert sweep.report() == "finished: pending 0, running 0, done 2 (1 failed) of 2 runs"
    sweep.status(1, 0)
    os.utime(sweep.dir / "runs" / "0001-m-O3-t1-r1" / "status", (2e9, 2e9))  # a later mtime
    assert sweep.report(later=0) == "finished: pending 0, running 0, done 2 (0 failed) of 2 runs"


def test_the_scheduler_is_asked_once_a_query_interval_and_at_the_end(sweep):
    """Between queries progress comes from the status files; the end (every task settled by
    its files) is checked with one query at once."""
    sweep.jobs(("p1", 10, [11], 3))
    sweep.squeue([job(10, "COMPLETED"), job(11, "PENDING", 11, tasks="0-2", reason="Priority")])
    assert sweep.report() == "pending 3 (Priority 3), running 0, done 0 (0 failed) of 3 runs"
    sweep.status(0, 0)
    assert sweep.report(later=0) == "pending 2 (Priority 2), running 0, done 1 (0 failed) of 3 runs"
    sweep.status(1, 0)
    assert sweep.report(later=0).startswith("pending 1 (Priority 1), running 0, done 2")
    assert sweep.calls().count("/squeue ") == 1
    sweep.status(2, 0)
    sweep.squeue([job(10, "COMPLETED")] + [job(12 + i, "COMPLETED", 11, task=i) for i in range(3)])
    assert sweep.report(later=0) == "finished: pending 0, running 0, done 3 (0 failed) of 3 runs"
    assert sweep.report(later=0).startswith("finished: ")  # fetch.yml's call: no query
    assert sweep.calls().count("/squeue ") == 2 and "/sacct " not in sweep.calls()


def test_a_run_lost_before_is_waited_for_again_once_resumed(sweep):
    sweep.jobs(("p1", 10, [11], 1))
    sweep.squeue([job(10, "COMPLETED")])
    for _ in range(progress.LOST_AFTER_POLLS):
        line = sweep.report(later=600)
    assert line.startswith("finished: pending 0, running 0, done 1 (1 failed) of 1 runs; lost 1")
    # make resume: task 0 again, as array 31 of build 30
    with open(sweep.dir / "slurm-jobs.tsv", "a") as jobs:
        jobs.write("p1\t30\t31\t-\t0:0\n")
    sweep.squeue([job(30, "RUNNING"), job(31, "PENDING", 31, tasks="0", reason="Dependency")])
    assert (
        sweep.report(later=0)
        == "pending 0, running 0, not seen 1, done 0 (0 failed) of 1 runs; builds: p1 not seen"
    )
    assert sweep.report() == (
        "pending 1 (Dependency 1), running 0, done 0 (0 failed) of 1 runs; builds: p1 RUNNING"
    )


def test_an_array_of_10000_tasks_is_not_failed_by_an_empty_answer(sweep):
    """The issue's case: 411 of 10,000 tasks ended, then squeue answered `"jobs": []`: all
    10,000 became failed. They are not seen, and the wait goes on."""
    sweep.jobs(("p1", 10, [11], 10000))
    sweep.squeue(
        [job(10, "COMPLETED")]
        + [job(100 + task, "COMPLETED", 11, task=task) for task in range(411)]
        + [job(11, "PENDING", 11, tasks="411-9999", reason="Priority")]
    )
    assert (
        sweep.report()
        == "pending 9589 (Priority 9589), running 0, done 411 (411 failed) of 10000 runs"
    )
    sweep.squeue([])
    line = sweep.report()
    assert line == "pending 0, running 0, not seen 9589, done 411 (411 failed) of 10000 runs"


def test_accounting_fills_only_what_squeue_did_not_list(sweep):
    """sacct lags behind squeue: its PENDING of a task squeue lists running is older."""
    sweep.jobs(("p1", 10, [11], 2))
    sweep.squeue([job(10, "COMPLETED"), job(12, "RUNNING", 11, task=0)])
    sweep.sacct(
        [
            sacct_record(12, "PENDING", 11, task=0),
            sacct_record(13, "TIMEOUT", 11, task=1, exit_code=15),
        ]
    )
    assert sweep.report() == "pending 0, running 1, done 1 (1 failed) of 2 runs"
    runs = sweep.state()["runs"]
    assert (runs["0"]["state"], runs["1"]["state"]) == ("RUNNING", "TIMEOUT")
