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

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slurm,
    pytest.mark.skipif(
        shutil.which("slurmctld", path=SBIN_PATH) is None,
        reason="slurmctld not installed (apt-get install -y slurm-wlm munge)",
    ),
]


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


@pytest.fixture(scope="module")
def slurm_env(each_slurm):
    """Environment of a local cluster's clients (SLURM_CONF, and PATH for the 24.11 root's);
    the cluster is up. Each test runs on both releases."""
    return each_slurm


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


def root_mounts(root: str) -> list[str]:
    return [
        line.split()[1] for line in Path("/proc/self/mounts").read_text().splitlines()
        if line.split()[1].startswith(f"{root}/")
    ]  # fmt: skip


def test_up_is_idempotent(slurm_env):
    root = slurm_env.get("LLAMASWEEP_SLURM_ROOT")
    mounts = root_mounts(root) if root else []
    assert bool(mounts) == bool(root)
    again = run(SCRIPT, "up", env=slurm_env)
    assert "already running" in again.stdout
    assert (root_mounts(root) if root else []) == mounts  # a root's binds are made once


def test_root_clients_run_the_root_s_release_where_the_caller_is(slurm24, tmp_path):
    # The wrappers run the root's own 24.11 commands, in the caller's directory (the job's
    # default working directory) with the caller's environment (which sbatch exports).
    assert run("sinfo", "--version", env=slurm24).stdout.startswith("slurm-wlm 24.11")
    run(
        "sbatch", "--wait", "--output=job.out", "--wrap", 'pwd; echo "$LLAMASWEEP_MARK"',
        env={**slurm24, "LLAMASWEEP_MARK": "marked $HOME"}, cwd=tmp_path, timeout=60,
    )  # fmt: skip
    assert (tmp_path / "job.out").read_text().splitlines() == [str(tmp_path), "marked $HOME"]


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
    # 23.02+ filter --json by squeue's default states; 22.05 lists every job anyway.
    data = json.loads(run("squeue", "--json", "--states=all", env=slurm_env).stdout)
    jobs = {str(j["job_id"]): j for j in data["jobs"]}
    assert job in jobs, f"job {job} missing from squeue --json (MinJobAge too short?)"
    state = jobs[job]["job_state"]
    assert (state if isinstance(state, str) else state[0]) == "COMPLETED"
