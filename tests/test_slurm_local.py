"""Tests of the local one-node Slurm cluster (scripts/slurm-local), against real Slurm.

Skipped when Slurm is not installed (CI runs `apt-get install -y slurm-wlm munge` first).
If the cluster is already up it is used and left up; otherwise it is started here and
stopped at the end of the session.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "slurm-local"
PARTITIONS = ("mcimone-nodes", "mcimone-milkvs")
SBIN_PATH = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"

pytestmark = pytest.mark.skipif(
    shutil.which("slurmctld", path=SBIN_PATH) is None,
    reason="slurmctld not installed (apt-get install -y slurm-wlm munge)",
)


def run(*args, env=None, timeout=60, check=True, cwd=None):
    return subprocess.run(
        [str(a) for a in args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


@pytest.fixture(scope="session")
def slurm_env():
    """Environment (with SLURM_CONF) for Slurm client commands; the cluster is up."""
    was_up = run(SCRIPT, "status", check=False).returncode == 0
    if not was_up:
        if os.geteuid() != 0:
            pytest.skip("local Slurm is not up and starting it needs root")
        started = run(SCRIPT, "up", check=False, timeout=120)
        assert started.returncode == 0, started.stdout + started.stderr
    exported = run(SCRIPT, "env").stdout.strip()
    assert exported.startswith("export SLURM_CONF=")
    env = dict(os.environ, SLURM_CONF=exported.removeprefix("export SLURM_CONF="))
    yield env
    if not was_up:
        stopped = run(SCRIPT, "down", check=False)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def sbatch(env, tmp_path, *args, timeout=45):
    """Run `sbatch --parsable ARGS` in tmp_path; return the job id."""
    out = run("sbatch", "--parsable", f"--chdir={tmp_path}", *args, env=env, timeout=timeout)
    return out.stdout.strip().split(";")[0]


def test_sinfo_shows_both_partitions_idle(slurm_env):
    out = run("sinfo", "-h", "-o", "%P %T %N", env=slurm_env).stdout
    rows = {}
    for line in out.splitlines():
        partition, state, nodes = line.split()
        rows[partition.rstrip("*")] = (state, nodes)
    assert set(rows) == set(PARTITIONS), out
    assert rows["mcimone-nodes"][1] == rows["mcimone-milkvs"][1]  # the same, local node
    assert {state for state, _ in rows.values()} == {"idle"}, out


def test_up_is_idempotent(slurm_env):
    again = run(SCRIPT, "up")
    assert "already running" in again.stdout


def test_config_keeps_finished_jobs_and_allows_big_arrays(slurm_env):
    conf = run("scontrol", "show", "config", env=slurm_env).stdout
    settings = {}
    for line in conf.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            settings[key.strip()] = value.strip()
    assert settings["MinJobAge"] == "600 sec"
    assert int(settings["MaxArraySize"]) > 1000


@pytest.mark.parametrize("partition", PARTITIONS)
def test_sbatch_wait_on_partition(slurm_env, tmp_path, partition):
    sbatch(
        slurm_env, tmp_path, "--wait", f"--partition={partition}", "--output=job-%j.out",
        "--wrap", "echo partition=$SLURM_JOB_PARTITION; echo hello from llamasweep",
    )  # fmt: skip
    (output,) = tmp_path.glob("job-*.out")
    assert output.read_text().splitlines() == [f"partition={partition}", "hello from llamasweep"]


def test_array_throttled_after_dependency(slurm_env, tmp_path):
    first = sbatch(slurm_env, tmp_path, "--output=first.out", "--wrap", "sleep 1; touch first.done")
    sbatch(
        slurm_env, tmp_path, "--wait", "--array=0-3%1", f"--dependency=afterok:{first}",
        "--partition=mcimone-milkvs", "--output=task-%a.out",
        "--wrap", "test -e first.done && echo dep-ok; date +%s.%N; sleep 0.5; date +%s.%N",
    )  # fmt: skip
    spans = []
    for task in range(4):
        lines = (tmp_path / f"task-{task}.out").read_text().split()
        assert lines[0] == "dep-ok", f"task {task} ran before job {first} finished"
        spans.append((float(lines[1]), float(lines[2])))
    spans.sort()
    for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False):
        assert end <= next_start, f"%1 should run the tasks one at a time: {spans}"


def test_squeue_json_lists_finished_job(slurm_env, tmp_path):
    job = sbatch(slurm_env, tmp_path, "--wait", "--output=/dev/null", "--wrap", "true")
    data = json.loads(run("squeue", "--json", env=slurm_env).stdout)
    jobs = {str(j["job_id"]): j for j in data["jobs"]}
    assert job in jobs, f"job {job} missing from squeue --json (MinJobAge too short?)"
    state = jobs[job]["job_state"]
    assert (state if isinstance(state, str) else state[0]) == "COMPLETED"
