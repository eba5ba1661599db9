"""The class store on a Slurm inventory, against the real local Slurm, as the current user (no
Unix accounts: tests/test_class_store.py has the accounts' side): setup-class prebuilds the
course's flag set for each partition by that partition's build job (build-<partition>.sh,
submitted by submit-slurm.sh with sbatch --wait), then writes the manifest; run again it
changes and submits nothing; a flag set the compiler rejects fails it, naming the partition
and the build job's build.err. A student's Slurm sweep then runs the store's binary in place
(outcome=reused-from-store) and builds its other flag set itself; the instructor's
fetch-class brings that sweep from cluster storage as the cluster left it, and the class
report reads it."""

import grp
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import LOCAL_SLURM_INVENTORY, PROJECT, run_playbook, slurm_args, source_args
from test_class_store import TINY, recap_changed, served_checkpoints
from test_sweep_slurm import ONE_CORE, squeue_jobs, state

# The slurm fixture skips where Slurm is not installed, and starts the local cluster.
pytestmark = [pytest.mark.e2e, pytest.mark.slurm]

PARTITIONS = ["mcimone-nodes", "mcimone-milkvs"]  # inventory/local-slurm.yml's


def record(path: Path) -> dict:
    """A build record (builds/<partition>/<flag_set>.txt) as a dict."""
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_setup_class_prebuilds_on_each_partition_and_a_students_sweep_uses_them(slurm, tmp_path):
    (tmp_path / "served").mkdir()
    with served_checkpoints(tmp_path / "served", {"tiny": TINY}) as served:
        settings = tmp_path / "vars.json"
        settings.write_text(json.dumps({**served.catalog, "checkpoint_source": "download",
                                        "sweep_models": ["tiny"]}))  # fmt: skip
        store, instructor = tmp_path / "store", tmp_path / "instructor"
        args = ["-i", str(LOCAL_SLURM_INVENTORY), *source_args(), "-e", f"@{settings}",
                "-e", f"llamasweep_workspace={instructor}", "-e", f"class_store={store}",
                "-e", f"class_store_group={grp.getgrgid(os.getgid()).gr_name}",
                "-e", json.dumps({"class_store_flag_sets": {"O2": "-O2"}})]  # fmt: skip
        first = " ".join(run_playbook("setup-class.yml", *args, env=slurm).stdout.split())
        second = " ".join(run_playbook("setup-class.yml", *args, env=slurm).stdout.split())
        manifest = json.loads((store / "manifest.json").read_text())

        # One build-only sweep, whose build jobs ran on the partitions through Slurm: each
        # wrote its build.out (sbatch --output) there, and the scheduler lists it completed.
        (sweep,) = (instructor / "sweeps").iterdir()
        jobs = {job["name"]: job for job in squeue_jobs(slurm)}
        keys = set()
        for partition in PARTITIONS:
            job = jobs[f"llamasweep-{sweep.name}-build-{partition}"]
            assert (state(job), job["partition"]) == ("COMPLETED", partition)
            assert f"partition {partition}: build job {job['job_id']}" in first
            built = (sweep / "builds" / partition / "build.out").read_text()
            assert "compiling on " in built and "built O2" in built, built
            binary = record(sweep / "builds" / partition / "O2.txt")
            assert binary["outcome"] == "built"
            assert binary["cache_path"] == f"{store}/builds/cache/{binary['key']}/run"
            assert manifest["files"][f"builds/cache/{binary['key']}/run"] == binary["sha256"]
            keys.add(binary["key"])
        assert len(keys) == len(PARTITIONS)  # the partition is in the key
        # The second run: nothing changed, nothing submitted.
        assert recap_changed(second) == 0, second[-3000:]
        assert [p.name for p in (instructor / "sweeps").iterdir()] == [sweep.name]
        # A flag set the compiler rejects: its build jobs fail, and so does setup-class,
        # naming the partition and its build.err; the manifest stays as it was.
        rejected = run_playbook("setup-class.yml", *args, "-e", json.dumps(
            {"class_store_flag_sets": {"O2": "-O2", "nosuch": "-mno-such-option"}}),
            env=slurm, check=False)  # fmt: skip
        output = " ".join((rejected.stdout + rejected.stderr).split())
        assert rejected.returncode != 0
        (failed,) = set((instructor / "sweeps").iterdir()) - {sweep}
        assert f"of partition {PARTITIONS[0]} failed (exit status 1): " in output, output[-3000:]
        assert f"{failed}/builds/{PARTITIONS[0]}/build.err" in output
        assert json.loads((store / "manifest.json").read_text()) == manifest

        # A student's sweep on one partition: O2 from the store, Os built in their own cache.
        student, results = tmp_path / "student", tmp_path / "results"
        run_playbook(
            "sweep.yml",
            *slurm_args(
                student, results, "sweep_repetitions=1", "sweep_steps=8", "sweep_bandwidth=false",
                "sweep_warmup_runs=0", "sweep_profile=false",
                {"sweep_flag_sets": {"O2": "-O2", "Os": "-Os"}, "sweep_threads": [1],
                 "sweep_partitions": [{"name": PARTITIONS[0], **ONE_CORE}]},
            ),
            "-e", f"@{settings}",
            "-e", json.dumps({"class_store": str(store),
                              "flamegraph_version": manifest["flamegraph"]["commit"]}),
            env=slurm,
        )  # fmt: skip
        assert served.requests.count("/tiny.bin") == 1  # the instructor's download alone
    fetched = (results / "latest").resolve()
    stored = record(fetched / "builds" / PARTITIONS[0] / "O2.txt")
    assert stored["outcome"] == "reused-from-store"
    assert stored["cache_path"] == f"{store}/builds/cache/{stored['key']}/run"
    assert stored["key"] in keys
    own = record(fetched / "builds" / PARTITIONS[0] / "Os.txt")
    assert own["outcome"] == "built" and own["cache_path"].startswith(f"{student}/bin/cache/")
    statuses = [p.read_text().strip() for p in fetched.rglob("status")]
    assert len(statuses) == 4 and set(statuses) == {"0"}, statuses  # a check run and a run each

    # The instructor's view: the sweep as cluster storage holds it, fetched and read.
    (on_cluster,) = (student / "sweeps").iterdir()
    class_dir = tmp_path / "class"
    output = run_playbook("fetch-class.yml", "-i", str(LOCAL_SLURM_INVENTORY), "-e", json.dumps(
        {"class_store_fetch_sweeps": [f"{student}/sweeps/*"],
         "class_store_fetch_dir": str(class_dir / "sweeps")}), env=slurm).stdout  # fmt: skip
    assert "(1 sweeps, 1 students)" in " ".join(output.split())
    (copy,) = (class_dir / "sweeps").glob(f"*/{on_cluster.name}")
    assert (copy / "slurm-jobs.tsv").read_bytes() == (on_cluster / "slurm-jobs.tsv").read_bytes()
    subprocess.run([sys.executable, "-m", "collect", "class", str(copy), "--out", str(class_dir)],
                   cwd=PROJECT, check=True, capture_output=True)  # fmt: skip
    runs = pd.read_csv(class_dir / "class-runs.csv")
    assert sorted(runs["flag_set"]) == ["O2", "Os"] and set(runs["status"]) == {"ok"}
