"""End to end on the local Slurm 24.11 with accounting (scripts/slurm-local: slurmdbd and
MariaDB in its root): the wait (wait.yml, and tools/backend_slurm.py as the wait runs it) where
squeue no longer knows the sweep's jobs, so that only sacct can tell how they ended, and
where slurmdbd is down meanwhile (issue 20).

Each sweep has two runs, the second cancelled while it runs: it never writes a status file,
so its end (CANCELLED) is the scheduler's alone. In one, a third run is cancelled while it
pends with a fourth pending behind it: 24.11 then drops the task from its array's pending
record, and neither squeue nor sacct ever lists it again, so the wait reports it lost. (The
last task to pend keeps the array's own job record, and is recorded CANCELLED.) MinJobAge is
lowered to a few seconds meanwhile (scontrol reconfigure; put back afterwards), and each
test waits until squeue lists none of the sweep's jobs (slurmctld purges about once a
minute, whatever MinJobAge says) before the wait asks: every answer the wait gets from
squeue lists none of them.
"""

import json
import os
import re
import signal
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from conftest import LOCAL_SLURM_INVENTORY, SLURM24_ROOT, SLURM_LOCAL, run_playbook
from test_slurm_wait import report, until
from test_sweep_slurm import (
    ONE_CORE,
    array_job,
    run,
    run_task_ids,
    runs_csv,
    submit,
    wait_until_running,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slurm]

# The cluster's MinJobAge while these tests run (seconds).
SHORT_MIN_JOB_AGE = 2
# Time enough to see the second run running before it ends.
SLEEP_LONGER_THEN_RUN = ["sh", "-c", 'sleep 4; exec "$@"', "sleep-then-run"]


@contextmanager
def min_job_age(env, seconds: int):
    """The cluster's MinJobAge set to seconds in its slurm.conf (scontrol reconfigure), put
    back afterwards."""
    conf = Path(env["SLURM_CONF"])
    saved = conf.read_text()
    conf.write_text(re.sub(r"(?m)^MinJobAge=\d+$", f"MinJobAge={seconds}", saved))
    try:
        run("scontrol", "reconfigure", env=env)
        shown = run("scontrol", "show", "config", env=env).stdout
        assert re.search(rf"(?m)^MinJobAge\s*=\s*{seconds} sec", shown), shown
        yield
    finally:
        conf.write_text(saved)
        run("scontrol", "reconfigure", env=env)


@pytest.fixture(scope="module")
def accounting(slurm24):
    """The 24.11 cluster's client environment; sacct answers there (slurmdbd up)."""
    answer = run("sacct", "--noheader", "--allocations", "--starttime=now-1minute",
                 env=slurm24, check=False)  # fmt: skip
    assert answer.returncode == 0, f"no accounting on the 24.11 cluster: {answer.stderr}"
    with min_job_age(slurm24, SHORT_MIN_JOB_AGE):
        yield slurm24
    # The next module's tests find the node as they expect it: idle, no job left.
    until(lambda: node_states(slurm24) == {"idle"}, "the 24.11 node idle again", 120)


def node_states(env) -> set[str]:
    """The states sinfo gives the cluster's partitions."""
    return set(run("sinfo", "-h", "-o", "%T", env=env).stdout.split())


def slurmdbd_pid(env) -> int | None:
    """The live slurmdbd's pid (its pid file beside slurm.conf), else None."""
    try:
        pid = int(Path(env["SLURM_CONF"]).with_name("slurmdbd.pid").read_text())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def start_slurmdbd():
    """`scripts/slurm-local up` of the 24.11 root: it starts what is not running."""
    script_env = {**os.environ, "LLAMASWEEP_SLURM_ROOT": SLURM24_ROOT}
    script_env.pop("LLAMASWEEP_SLURM_STATE", None)
    run(SLURM_LOCAL, "up", env=script_env, timeout=180)


def listed(env, jobs: list[int]) -> str:
    """What squeue lists of these jobs and their tasks, finished ones included ("" when none:
    purged, squeue says "Invalid job id specified")."""
    answer = run("squeue", "--noheader", "--states=all", "--array",
                 "--jobs=" + ",".join(map(str, jobs)), env=env, check=False)  # fmt: skip
    assert answer.returncode == 0 or "Invalid job id specified" in answer.stderr, answer.stderr
    return answer.stdout.strip()


def sweep_with_a_cancelled_run(env, workspace, results, repetitions: int = 2) -> dict:
    """A submitted sweep of two runs (or four: one task at a time), the second cancelled
    while it runs, the third while it pends (the fourth runs); its remote.json with "jobs"
    (build and array job ids), "array", "runs" (task ids) and "dir". The wait asks the
    scheduler every 2 s."""
    remote = submit(
        env, workspace, results, f"sweep_repetitions={repetitions}", "sweep_steps=8",
        "sweep_profile=false", "sweep_poll_max_interval=2",
        {"sweep_flag_sets": {"O3": "-O3"}, "sweep_models": ["stories15M"],
         "sweep_run_prefix": SLEEP_LONGER_THEN_RUN,
         "sweep_partitions": [{"name": "mcimone-nodes", **ONE_CORE, "array_throttle": 1}]},
    )  # fmt: skip
    remote["dir"] = Path(remote["remote_dir"])
    remote["array"] = array_job(remote, "mcimone-nodes")
    remote["runs"] = run_task_ids(remote["dir"], "mcimone-nodes")
    wait_until_running(env, remote["array"], remote["runs"][1])
    for cancelled in remote["runs"][1:3]:  # the third pends: one task at a time
        run("scancel", f"{remote['array']}_{cancelled}", env=env)
    (line,) = (remote["dir"] / "slurm-jobs.tsv").read_text().splitlines()
    remote["jobs"] = [int(line.split("\t")[1]), remote["array"]]
    return remote


def wait_and_fetch(env, remote: dict) -> pd.DataFrame:
    """wait.yml then the runs (runs.csv), as test_sweep_slurm's, the wait bounded: a wait
    that never ends fails the test instead of hanging it (sweep_wait_timeout)."""
    run_playbook(
        "wait.yml", "-i", str(LOCAL_SLURM_INVENTORY),
        "-e", f"sweep_fetch_results={remote['results']}", "-e", "sweep_wait_timeout=300",
        env=env,
    )  # fmt: skip
    return runs_csv(remote["results"])


def run_states(remote: dict) -> list[str | None]:
    """The runs' states in scheduler.json, in the plan's order."""
    plan = json.loads((remote["dir"] / "plan.json").read_text())
    scheduler = json.loads((remote["dir"] / "scheduler.json").read_text())
    runs = [str(t["index"]) for t in plan["tasks"] if t["kind"] == "run"]
    return [scheduler["runs"].get(index, {}).get("state") for index in runs]


def test_jobs_purged_from_squeue_end_by_sacct(accounting, workspace, tmp_path):
    remote = sweep_with_a_cancelled_run(accounting, workspace, tmp_path, repetitions=4)
    until(lambda: not listed(accounting, remote["jobs"]), "squeue purged the sweep's jobs")
    # accounting has the array's records, but none of the task cancelled while it pended
    accounted = run("sacct", "--noheader", "--allocations", "--parsable2", "--format=JobID",
                    f"--jobs={remote['array']}", env=accounting).stdout.split()  # fmt: skip
    assert f"{remote['array']}_{remote['runs'][1]}" in accounted, accounted
    assert not any(f"_{remote['runs'][2]}" in job for job in accounted), accounted
    runs = wait_and_fetch(accounting, remote).sort_values("index").reset_index(drop=True)
    assert list(runs["status"]) == ["ok", "cancelled", "failed", "ok"], runs["reason"].to_list()
    assert "cancelled" in runs.loc[1, "reason"]
    assert "was lost: in neither squeue nor sacct" in runs.loc[2, "reason"]
    # squeue knew none of them all along (a purged job never comes back): the cancelled run,
    # without a status file, was settled by accounting's record
    assert not listed(accounting, remote["jobs"])
    scheduler = json.loads((remote["dir"] / "scheduler.json").read_text())
    assert scheduler["accounting"] is True and scheduler["finished"] is True
    assert run_states(remote)[1:3] == ["CANCELLED", None]  # the third: never seen
    assert scheduler["runs"][str(runs.loc[2, "index"])]["lost"] is True
    assert "UNKNOWN" not in json.dumps(scheduler)


def test_slurmdbd_down_meanwhile_is_no_end_and_the_sweep_ends_once_it_is_back(
    accounting, workspace, tmp_path
):
    remote = sweep_with_a_cancelled_run(accounting, workspace, tmp_path)
    pid = slurmdbd_pid(accounting)
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    try:
        until(lambda: slurmdbd_pid(accounting) is None, "slurmdbd stopped", seconds=60)
        # the jobs end and are purged while slurmdbd is down (slurmctld keeps their records)
        until(lambda: not listed(accounting, remote["jobs"]), "squeue purged the sweep's jobs")
        line = report(accounting, remote["dir"])
        assert slurmdbd_pid(accounting) is None  # down all the while the report asked
        # the cancelled run is in neither answer: not seen, and not failed or finished
        assert line.startswith("pending 0, running 0, not seen 1 (sacct failed: "), line
        assert line.endswith("done 1 (0 failed) of 2 runs"), line
        scheduler = json.loads((remote["dir"] / "scheduler.json").read_text())
        assert scheduler["finished"] is False and "accounting_error" in scheduler
        assert scheduler["accounting"] is not False  # a failed call is no "accounting off"
    finally:
        start_slurmdbd()
    assert slurmdbd_pid(accounting) is not None
    runs = wait_and_fetch(accounting, remote).sort_values("index").reset_index(drop=True)
    assert list(runs["status"]) == ["ok", "cancelled"], runs["reason"].to_list()
    assert not listed(accounting, remote["jobs"])
    scheduler = json.loads((remote["dir"] / "scheduler.json").read_text())
    assert scheduler["accounting"] is True and "accounting_error" not in scheduler
    assert run_states(remote)[1] == "CANCELLED"
    assert "UNKNOWN" not in json.dumps(scheduler)
