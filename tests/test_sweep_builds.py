"""End to end on the local Slurm: binaries are cached by what determines them and never
replaced under a sweep that still waits. Two sweeps share a flag-set name with other CFLAGS;
the first one's runs are held (sbatch --hold) while the second builds and runs: each run
executes the binary built from its own sweep's CFLAGS (execution.txt's binary_sha256 is its
build record's sha256), and a repeat of the second sweep reuses its binary."""

import json
import time
from pathlib import Path

import pytest
from conftest import run_playbook, slurm_args
from test_sweep_slurm import (
    INVENTORY,
    ONE_CORE,
    array_job,
    number,
    run,
    squeue_jobs,
    state,
    submit,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slurm]

PARTITION = "mcimone-nodes"


def facts(path: Path) -> dict[str, str]:
    """A key=value file (execution.txt, a build record)."""
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def sweep_settings(cflags: str, *extra) -> list:
    return [
        "sweep_repetitions=2", "sweep_steps=8", "sweep_profile=false",
        {"sweep_models": ["stories15M"], "sweep_flag_sets": {"shared-name": cflags},
         "sweep_partitions": [{"name": PARTITION, **ONE_CORE, **dict(extra)}]},
    ]  # fmt: skip


def sweep_and_wait(env, workspace, results: Path, cflags: str) -> Path:
    """A sweep of flag set shared-name with these CFLAGS, waited for; its fetched results."""
    settings = sweep_settings(cflags)
    run_playbook(
        "sweep.yml", *slurm_args(workspace, results, "sweep_bandwidth=false", *settings), env=env
    )
    return results / "latest"


def runs_match_their_build(sweep_dir: Path) -> str:
    """The sha256 every run of the sweep executed, after checking it is its build's."""
    tasks = json.loads((sweep_dir / "plan.json").read_text())["tasks"]
    runs = [task for task in tasks if task["kind"] == "run"]
    assert len(runs) == 2
    built = facts(sweep_dir / "builds" / PARTITION / "shared-name.txt")
    for task in runs:
        assert (sweep_dir / task["dir"] / "status").read_text().strip() == "0"
        assert facts(sweep_dir / task["dir"] / "execution.txt")["binary_sha256"] == built["sha256"]
    return built["sha256"]


def test_a_pending_sweep_runs_its_own_binary_and_a_repeat_reuses_the_build(
    slurm, workspace, tmp_path
):
    first = submit(
        slurm, workspace, tmp_path / "first", *sweep_settings("-O1", ("sbatch_options", ["--hold"]))
    )
    first_dir = Path(first["remote_dir"])
    (line,) = (first_dir / "slurm-jobs.tsv").read_text().splitlines()
    build_job, runs_job = int(line.split("\t")[1]), array_job(first, PARTITION)
    run("scontrol", "release", build_job, env=slurm)  # its runs stay held
    record = first_dir / "builds" / PARTITION / "shared-name.txt"
    deadline = time.monotonic() + 240
    while not record.exists():
        assert time.monotonic() < deadline, "the first sweep's build never ran"
        time.sleep(0.2)

    second = sweep_and_wait(slurm, workspace, tmp_path / "second", "-O2")
    # The second sweep built and ran while the first one's runs waited.
    waiting = [j for j in squeue_jobs(slurm) if number(j["array_job_id"]) == runs_job]
    assert waiting and {state(j) for j in waiting} == {"PENDING"}, waiting

    run("scontrol", "release", runs_job, env=slurm)
    run_playbook(
        "wait.yml", "-i", str(INVENTORY), "-e", f"sweep_fetch_results={first['results']}",
        env=slurm,
    )  # fmt: skip
    first_sha256 = runs_match_their_build(first["results"])
    second_sha256 = runs_match_their_build(second)
    assert first_sha256 != second_sha256  # -O1 and -O2 are other binaries

    repeat = sweep_and_wait(slurm, workspace, tmp_path / "repeat", "-O2")
    assert runs_match_their_build(repeat) == second_sha256
    build_dir = repeat / "builds" / PARTITION
    assert facts(build_dir / "shared-name.txt")["outcome"] == "reused"
    assert "reused shared-name" in (build_dir / "build.out").read_text()
