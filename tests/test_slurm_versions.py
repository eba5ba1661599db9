"""End to end on the real local Slurm: the sweep without JSON support (squeue and sacct on
PATH fail --json exactly as a Slurm built without json-c does, and pass everything else to
the real commands), and a sweep still pending when sweep_wait_timeout passes (reported with
its pending reasons). The recorded outputs of every release are tests/test_slurm_progress.py's.
"""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_playbook, slurm_args, summarize

SBIN_PATH = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"
ONE_CORE = {"exclusive": False, "cores": 1}
# What 22.05's commands print when Slurm was built without json-c.
NO_JSON_ERROR = "fatal: Unable to find plugin: serializer/json"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slurm,
    pytest.mark.skipif(
        shutil.which("slurmctld", path=SBIN_PATH) is None,
        reason="slurmctld not installed (apt-get install -y slurm-wlm munge)",
    ),
]


def sweep_args(workspace: Path, results: Path, environment: dict, *settings) -> list[str]:
    """A small sweep on the local Slurm: one partition whose build fails, one whose runs
    complete, no bandwidth, warm-up or profiling runs; the same run order every time."""
    return slurm_args(
        workspace,
        results,
        "sweep_order_seed=7",
        "sweep_bandwidth=false",
        "sweep_warmup_runs=0",
        "sweep_profile=false",
        "sweep_steps=8",
        "sweep_repetitions=2",
        {"sweep_models": ["stories15M"], "sweep_threads": [1]},
        {"sweep_slurm_environment": environment},
        *settings,
    )


FAULTY_PARTITIONS = {
    "sweep_flag_sets": {"O3": "-O3"},
    "sweep_partitions": [
        {"name": "mcimone-nodes", "flag_sets": {"nosuch": "-O2 -mno-such-option"}, **ONE_CORE},
        {"name": "mcimone-milkvs", **ONE_CORE},
    ],
}


def no_json_commands(directory: Path, env: dict) -> Path:
    """squeue and sacct that fail --json as a Slurm without json-c does (logging each
    call), and run the real command (the one env's PATH finds) otherwise."""
    directory.mkdir()
    for command in ("squeue", "sacct"):
        real = shutil.which(command, path=env["PATH"])
        script = directory / command
        script.write_text(
            f'#!/bin/sh\necho "{command} $*" >> {directory}/calls\n'
            f'case " $* " in *" --json "*) echo "{command}: {NO_JSON_ERROR}" >&2; exit 1;; esac\n'
            f'exec {real} "$@"\n'
        )
        script.chmod(0o755)
    return directory


def outcome(results: Path) -> pd.DataFrame:
    summarize(results)
    runs = pd.read_csv(results / "runs.csv")
    return runs[["run_dir", "partition", "flag_set", "status"]].sort_values("run_dir")


@pytest.fixture(scope="module")
def json_and_text(each_slurm, workspace, tmp_path_factory):
    """The same sweep twice: with the real commands (JSON), and without JSON support; on
    each release."""
    conf = {"SLURM_CONF": each_slurm["SLURM_CONF"], "PATH": each_slurm["PATH"]}
    with_json = tmp_path_factory.mktemp("with-json")
    run_playbook("sweep.yml", *sweep_args(workspace, with_json, conf, FAULTY_PARTITIONS))
    wrappers = no_json_commands(tmp_path_factory.mktemp("no-json") / "bin", each_slurm)
    without = tmp_path_factory.mktemp("without-json")
    environment = {**conf, "PATH": f"{wrappers}:{each_slurm['PATH']}"}
    done = run_playbook(
        "sweep.yml", *sweep_args(workspace, without, environment, FAULTY_PARTITIONS)
    )
    return {
        "json": with_json / "latest",
        "text": without / "latest",
        "stdout": done.stdout,
        "calls": (wrappers / "calls").read_text().splitlines(),
    }


def test_without_json_the_sweep_ends_with_the_same_results(json_and_text):
    with_json = outcome(json_and_text["json"])
    text = outcome(json_and_text["text"])
    assert text["status"].tolist() == with_json["status"].tolist()
    assert text["run_dir"].tolist() == with_json["run_dir"].tolist()
    assert set(text[text["partition"] == "mcimone-milkvs"]["status"]) == {"ok"}
    assert set(text[text["partition"] == "mcimone-nodes"]["status"]) == {"failed"}
    assert "finished: " in json_and_text["stdout"]


def test_the_way_of_asking_and_the_slurm_version_are_recorded(json_and_text, each_slurm):
    version = subprocess.run(
        ["sinfo", "--version"], env=each_slurm, capture_output=True, text=True, check=True
    ).stdout.strip()
    text = json.loads((json_and_text["text"] / "sweep.json").read_text())["slurm"]
    # query_interval: the tests' sweep_poll_max_interval (conftest's slurm_args)
    assert text == {"version": version, "query": "text", "json_error": f"squeue: {NO_JSON_ERROR}",
                    "query_interval": 2}  # fmt: skip
    with_json = json.loads((json_and_text["json"] / "sweep.json").read_text())["slurm"]
    assert with_json == {"version": version, "query": "json", "json_error": "", "query_interval": 2}


def test_without_json_json_is_tried_once_and_only_the_sweep_s_jobs_are_asked(json_and_text):
    calls = json_and_text["calls"]
    assert [call for call in calls if "--json" in call] == ["squeue --me --json"]
    polls = [call for call in calls if "--json" not in call]
    assert polls and all(call.startswith("squeue --me --states=all --jobs=") for call in polls)
    jobs = (json_and_text["text"] / "slurm-jobs.tsv").read_text().splitlines()
    ids = {int(field) for line in jobs for field in line.split("\t")[1:3]}
    # each poll asks about the sweep's jobs not yet settled (all of them at the first)
    asked = [{int(job) for job in call.split("--jobs=")[1].split()[0].split(",")} for call in polls]
    assert asked[0] == ids and all(jobs and jobs <= ids for jobs in asked), asked
    assert all(" --noheader --array " in call for call in polls)


def test_a_sweep_pending_past_its_wait_timeout_names_the_reasons(slurm, workspace, tmp_path):
    """Held jobs (sbatch --hold) never start: the wait times out naming why the build and
    the runs are pending (JobHeldUser), as the scheduler still says after it."""
    conf = {"SLURM_CONF": slurm["SLURM_CONF"]}
    held = {
        "sweep_flag_sets": {"O3": "-O3"},
        "sweep_partitions": [{"name": "mcimone-nodes", "sbatch_options": ["--hold"], **ONE_CORE}],
    }
    done = run_playbook(
        "sweep.yml",
        *sweep_args(workspace, tmp_path, conf, held, "sweep_wait_timeout=3"),
        check=False,
    )
    remote = json.loads((tmp_path / "latest" / "remote.json").read_text())
    (line,) = Path(remote["remote_dir"], "slurm-jobs.tsv").read_text().splitlines()
    jobs = line.split("\t")[1:3]
    try:
        output = " ".join(done.stdout.split())
        failure = output[output.find("fatal: ") :][:600]
        assert done.returncode != 0
        # still pending after the failure: the reasons the scheduler gives now
        listed = subprocess.run(
            ["squeue", "--noheader", "--format=%A %T %r", f"--jobs={','.join(jobs)}"],
            env=slurm, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        scheduler = {job: rest for job, *rest in map(str.split, listed.splitlines())}
        build, array = scheduler[jobs[0]], scheduler[jobs[1]]
        assert build[0] == "PENDING" and array[0] == "PENDING", scheduler
        build_reason, array_reason = build[1], array[1]
        assert build_reason == "JobHeldUser"
        assert (
            f"still not finished after 3 s (the jobs go on): pending 2 ({array_reason} 2), "
            f"running 0, done 0 (0 failed) of 2 runs; builds: mcimone-nodes PENDING "
            f"({build_reason})"
        ) in failure, failure
    finally:
        subprocess.run(["scancel", *jobs], env=slurm, check=False)
