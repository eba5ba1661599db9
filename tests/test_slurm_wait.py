"""End to end on both local clusters (scripts/slurm-local: 22.05 without accounting, 24.11 with
slurmdbd): the wait's progress report (tools/backend_slurm.py in the sweep's directory, as the
wait runs it) against a task held with `scontrol hold` and a task requeued with `scontrol
requeue` after it completed (issue 20). The report is called directly, its last query moved
back between calls as if a minute (DEFAULT_QUERY_INTERVAL_S, beyond the sweep's own query
interval) had passed; what it decides is checked against the scheduler's own view at that
moment.
"""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_slurm_progress import progress
from test_sweep_slurm import (
    ONE_CORE,
    array_job,
    number,
    run,
    run_task_ids,
    squeue_jobs,
    state,
    submit,
)  # fmt: skip

pytestmark = [pytest.mark.e2e, pytest.mark.slurm]

SLEEP_THEN_RUN = ["sh", "-c", 'sleep 4; exec "$@"', "sleep-then-run"]


def report(env, remote_dir: Path) -> str:
    """The progress line, a DEFAULT_QUERY_INTERVAL_S after the last call."""
    path = remote_dir / "scheduler.json"
    if path.exists():
        saved = json.loads(path.read_text())
        saved["queried"] -= progress.DEFAULT_QUERY_INTERVAL_S
        path.write_text(json.dumps(saved))
    done = subprocess.run(
        [sys.executable, str(remote_dir / "tools" / "backend_slurm.py"), str(remote_dir)],
        env=env, capture_output=True, text=True, check=True, timeout=120,
    )  # fmt: skip
    return done.stdout.strip()


def task_state(env, array: int, task: int) -> str | None:
    found = [
        j for j in squeue_jobs(env)
        if number(j["array_job_id"]) == array and number(j["array_task_id"]) == task
    ]  # fmt: skip
    return state(found[0]) if found else None


def until(condition, what: str, seconds: float = 300):
    """Polls condition every second until it holds (a bound against a hung cluster)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(1)


def test_a_held_task_and_a_task_requeued_after_it_completed_are_waited_for(
    each_slurm, workspace, tmp_path
):
    slurm = each_slurm
    remote = submit(
        slurm, workspace, tmp_path, "sweep_repetitions=2", "sweep_steps=8",
        "sweep_profile=false", "sweep_slurm_requeue=true",
        {"sweep_flag_sets": {"O3": "-O3"}, "sweep_models": ["stories15M"],
         "sweep_run_prefix": SLEEP_THEN_RUN,
         "sweep_partitions": [{"name": "mcimone-nodes", **ONE_CORE}]},
    )  # fmt: skip
    remote_dir = Path(remote["remote_dir"])
    array = array_job(remote, "mcimone-nodes")
    plan = json.loads((remote_dir / "plan.json").read_text())
    (partition,) = plan["partitions"]
    first, second = run_task_ids(remote_dir, "mcimone-nodes")
    run("scontrol", "hold", f"{array}_{second}", env=slurm)
    status = {
        task["index"] - partition["first_index"]: remote_dir / task["dir"] / "status"
        for task in plan["tasks"]
    }
    until(lambda: task_state(slurm, array, first) == "COMPLETED", "the first run completed")
    line = report(slurm, remote_dir)
    # held by root here: JobHeldAdmin (a user's own hold: JobHeldUser)
    assert line == "pending 1 (JobHeldAdmin 1), running 0, done 1 (0 failed) of 2 runs", line
    first_run = status[first].stat().st_mtime_ns

    # the first run completed, and runs again: its first status file is no end any more
    run("scontrol", "requeue", f"{array}_{first}", env=slurm)
    requeued = task_state(slurm, array, first)
    line = report(slurm, remote_dir)
    if status[first].stat().st_mtime_ns == first_run:  # its second run has not ended yet
        assert requeued in ("PENDING", "REQUEUED") and "done 0 (0 failed)" in line, line
        assert not line.startswith("finished")

    run("scontrol", "release", f"{array}_{second}", env=slurm)
    lines = []

    def finished():
        lines.append(report(slurm, remote_dir))
        return lines[-1].startswith("finished")

    until(finished, "the report says finished")
    assert lines[-1] == "finished: pending 0, running 0, done 2 (0 failed) of 2 runs", lines
    # it said so only after the first run's second run and the second wrote their status files
    assert status[first].stat().st_mtime_ns > first_run and status[second].exists()
    scheduler = json.loads((remote_dir / "scheduler.json").read_text())
    runs = [str(t["index"]) for t in plan["tasks"] if t["kind"] == "run"]
    assert [scheduler["runs"][i]["state"] for i in runs] == ["COMPLETED", "COMPLETED"]
    assert scheduler["finished"] is True and "UNKNOWN" not in json.dumps(scheduler)
