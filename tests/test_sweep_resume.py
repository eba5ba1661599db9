"""Resume (-e sweep_resume=<id>): only the tasks of an existing sweep without an ok result run
again, by the sweep's own plan and scripts; everything finished is kept. Real playbooks on
localhost and on the local Slurm, offline, with tiny sweeps."""

import json
import shutil
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_plan
from conftest import run_playbook, slurm_args, summarize
from pandas.testing import assert_frame_equal
from test_sweep_slurm import run_task_ids

pytestmark = [pytest.mark.e2e, pytest.mark.slurm]

SBIN_PATH = "/usr/sbin:/sbin"

TINY = {
    "sweep_flag_sets": {"O3": "-O3", "O2": "-O2"},
    "sweep_threads": [1],
    "sweep_repetitions": 2,
    "sweep_steps": 8,
    "sweep_bandwidth": False,
    "sweep_warmup_runs": 0,
    "sweep_profile": False,
}


def executions(sweep_dir: Path) -> dict[str, str]:
    """Each task directory that holds a status: its execution.txt (what ran, where, when)."""
    return {
        str(status.parent.relative_to(sweep_dir)): (status.parent / "execution.txt").read_text()
        for status in sweep_dir.rglob("status")
    }


def runs_table(sweep_dir: Path) -> pd.DataFrame:
    summarize(sweep_dir)
    return pd.read_csv(sweep_dir / "runs.csv").set_index("index")


def compiler_wrapper(tmp_path: Path) -> tuple[Path, Path]:
    """A compiler (sweep_compiler) that fails until the file `repaired` exists, then is gcc."""
    wrapper, repaired = tmp_path / "cc-wrapper", tmp_path / "repaired"
    wrapper.write_text(
        "#!/bin/bash\n"
        f"[[ -e {repaired} ]] || {{ echo 'cc-wrapper: broken on purpose' >&2; exit 1; }}\n"
        'exec gcc "$@"\n'
    )
    wrapper.chmod(0o755)
    return wrapper, repaired


def test_local_resume_after_a_failed_build_runs_only_what_is_missing(sweep_args, tmp_path):
    wrapper, repaired = compiler_wrapper(tmp_path)
    results_file = tmp_path / "sweep-path"
    settings = {
        **TINY, "sweep_compiler": str(wrapper), "sweep_results_path_file": str(results_file),
    }  # fmt: skip
    failed = run_playbook("sweep.yml", *sweep_args, "-e", json.dumps(settings), check=False)
    assert failed.returncode != 0
    assert "broken on purpose" in failed.stdout
    sweep_dir = Path(results_file.read_text().strip())
    assert executions(sweep_dir) == {}

    # Resumed with other settings today: the sweep's own plan decides what runs.
    repaired.touch()
    resume = ["-e", f"sweep_resume={sweep_dir.name}", "-e", "sweep_steps=16",
              "-e", json.dumps({"sweep_flag_sets": {"O1": "-O1"}})]  # fmt: skip
    run_playbook("sweep.yml", *sweep_args, *resume)
    runs = runs_table(sweep_dir)
    assert list(runs["status"]) == ["ok"] * 4, runs["reason"].to_list()
    assert sorted(runs["flag_set"].unique()) == ["O2", "O3"]
    assert set(runs["steps"]) == {8}
    sweeps = [p.name for p in sweep_dir.parent.iterdir() if p.is_dir() and not p.is_symlink()]
    assert sweeps == [sweep_dir.name]  # no new sweep was made
    first = executions(sweep_dir)

    # A run that failed (its status says so) runs again; nothing else does.
    plan = json.loads((sweep_dir / "plan.json").read_text())
    redo = plan["tasks"][2]["dir"]
    (sweep_dir / redo / "status").write_text("1\n")
    (sweep_dir / redo / "leftover.txt").write_text("from the failed try\n")
    run_playbook("sweep.yml", *sweep_args, *resume)
    second = executions(sweep_dir)
    assert set(second) == set(first)
    assert {d for d in first if first[d] != second[d]} == {redo}
    assert not (sweep_dir / redo / "leftover.txt").exists()
    again = runs_table(sweep_dir)
    assert list(again["status"]) == ["ok"] * 4
    finished = [i for i in again.index if again.loc[i, "run_dir"] != redo]
    assert_frame_equal(again.loc[finished], runs.loc[finished], check_dtype=False)
    # make collect twice: the same runs.csv
    before = (sweep_dir / "runs.csv").read_bytes()
    summarize(sweep_dir)
    assert (sweep_dir / "runs.csv").read_bytes() == before

    # Nothing left: nothing runs.
    done = run_playbook("sweep.yml", *sweep_args, *resume)
    assert "nothing to run" in " ".join(done.stdout.split())
    assert executions(sweep_dir) == second


def test_resume_refuses_tasks_and_a_plan_not_as_planned_before_anything_runs(sweep_args, tmp_path):
    """An edited tasks.tsv ran the O2 binary for an O3 row; a truncated one exited 0 with
    runs "never started"; a truncated plan.json stopped on a parser's error naming no file."""
    wrapper, repaired = compiler_wrapper(tmp_path)
    results_file = tmp_path / "sweep-path"
    settings = {
        **TINY, "sweep_compiler": str(wrapper), "sweep_results_path_file": str(results_file),
    }  # fmt: skip
    run_playbook("sweep.yml", *sweep_args, "-e", json.dumps(settings), check=False)
    sweep_dir = Path(results_file.read_text().strip())
    repaired.touch()
    tasks, plan = (sweep_dir / "tasks.tsv").read_text(), (sweep_dir / "plan.json").read_text()
    swapped = tasks.replace("/O3/run", "/O9/run").replace("/O2/run", "/O3/run")
    assert swapped.count("/O3/run") == tasks.count("/O2/run") > 0
    for name, text, refusal in (
        ("tasks.tsv", swapped.replace("/O9/run", "/O2/run"), "tasks.tsv is not the one planned"),
        ("tasks.tsv", tasks.split("\n", 1)[0] + "\n", "tasks.tsv does not match plan.json"),
        ("plan.json", plan[: len(plan) // 2], "plan.json is not the sweep's plan (cut short?)"),
    ):
        (sweep_dir / name).write_text(text)
        resumed = run_playbook(
            "sweep.yml", *sweep_args, "-e", f"sweep_resume={sweep_dir.name}", check=False
        )
        assert resumed.returncode != 0
        assert f"{sweep_dir}/{refusal}" in " ".join(resumed.stdout.split()), resumed.stdout[-3000:]
        assert executions(sweep_dir) == {}  # nothing ran
        (sweep_dir / "tasks.tsv").write_text(tasks)
        (sweep_dir / "plan.json").write_text(plan)


def test_resume_of_an_unknown_sweep_names_the_sweeps_there(sweep_args, tmp_path):
    results = tmp_path / "results"
    for sweep_id, name in [
        ("20990101-000000-abcd", "plan.json"),
        ("20990101-000000-ef01", "remote.json"),
    ]:
        (results / sweep_id).mkdir(parents=True)
        (results / sweep_id / name).write_text("{}\n")
    for sweep_id in ["nosuch", "20990101-000000-ef01"]:  # the second: a Slurm sweep's
        done = run_playbook("sweep.yml", *sweep_args, "-e", f"sweep_resume={sweep_id}", check=False)
        assert done.returncode != 0
        text = " ".join(done.stdout.split())
        assert (
            f'sweep_resume "{sweep_id}" is no local sweep in {results}; its local sweeps are: '
            "20990101-000000-abcd."
        ) in text


def squeue_json(env) -> list[dict]:
    done = subprocess.run(
        ["squeue", "--json", "--states=all"], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)["jobs"]


def number(value):
    if isinstance(value, dict):
        return value["number"] if value["set"] else None
    return value


@pytest.mark.skipif(
    shutil.which("slurmctld", path=SBIN_PATH) is None, reason="slurmctld not installed"
)
def test_slurm_resume_after_scancel_reruns_only_the_cancelled(slurm, workspace, tmp_path):
    results = tmp_path / "results"
    sleep_then_run = ["sh", "-c", 'sleep 4; exec "$@"', "sleep-then-run"]
    settings = [
        "sweep_repetitions=3", "sweep_steps=8", "sweep_profile=false", "sweep_bandwidth=false",
        "sweep_warmup_runs=0",
        {"sweep_flag_sets": {"O3": "-O3"}, "sweep_run_prefix": sleep_then_run,
         "sweep_partitions": [{"name": "mcimone-nodes", "exclusive": False, "cores": 1}]},
    ]  # fmt: skip
    run_playbook("sweep.yml", *slurm_args(workspace, results, "sweep_wait=false", *settings))
    sweep_dir = (results / "latest").resolve()
    remote = json.loads((sweep_dir / "remote.json").read_text())
    remote_dir = Path(remote["remote_dir"])
    (line,) = (remote_dir / "slurm-jobs.tsv").read_text().splitlines()
    array = int(line.split("\t")[2])
    (partition,) = json.loads((remote_dir / "plan.json").read_text())["partitions"]
    run_ids = run_task_ids(remote_dir, "mcimone-nodes")
    cancelled = run_ids[1]
    # Cancel the second run while it runs.
    deadline = time.monotonic() + 240
    while True:
        task = [
            job for job in squeue_json(slurm)
            if number(job["array_job_id"]) == array
            and number(job["array_task_id"]) == cancelled
        ]  # fmt: skip
        if task and str(task[0]["job_state"]) in ("RUNNING", "['RUNNING']"):
            break
        assert time.monotonic() < deadline, "the second run never started"
        time.sleep(0.2)
    subprocess.run(["scancel", f"{array}_{cancelled}"], env=slurm, check=True)
    run_playbook("wait.yml", *slurm_args(workspace, results, f"sweep_fetch_results={sweep_dir}"))
    runs = runs_table(sweep_dir)
    assert list(runs["status"]) == ["ok", "cancelled", "ok"], runs["reason"].to_list()
    first = executions(sweep_dir)

    # Resumed: one build job (a reuse) and an array of the cancelled run alone.
    run_playbook(
        "sweep.yml", *slurm_args(workspace, results, f"sweep_resume={sweep_dir.name}", *settings)
    )
    jobs = (remote_dir / "slurm-jobs.tsv").read_text().splitlines()
    assert jobs[0] == line
    (resumed,) = jobs[1:]
    assert resumed.split("\t")[4] == f"{partition['first_index']}:{cancelled}"
    assert len(json.loads((sweep_dir / "remote.json").read_text())["jobs"]) > len(remote["jobs"])
    again = runs_table(sweep_dir)
    assert list(again["status"]) == ["ok"] * 3, again["reason"].to_list()
    second = executions(sweep_dir)
    redone = [d for d in second if first.get(d) != second[d]]
    # runs.csv's index is the plan's: the three runs, the second one cancelled and redone
    kept_first, redone_run, kept_last = (partition["first_index"] + i for i in run_ids)
    assert redone == [again.loc[redone_run, "run_dir"]]
    # the same values (a column's dtype may change once the cancelled row has figures)
    kept = [kept_first, kept_last]
    assert_frame_equal(again.loc[kept], runs.loc[kept], check_dtype=False)
    assert int(again.loc[redone_run, "slurm_array_job_id"]) == int(resumed.split("\t")[2])
    scheduler = json.loads((remote_dir / "scheduler.json").read_text())
    assert scheduler["runs"][str(redone_run)]["array_job_id"] == int(resumed.split("\t")[2])
    assert scheduler["runs"][str(kept_first)]["array_job_id"] == array
    before = (sweep_dir / "runs.csv").read_bytes()
    summarize(sweep_dir)
    assert (sweep_dir / "runs.csv").read_bytes() == before


def set_tok_s(sweep_dir: Path, task: dict, tok_s: float):
    """Make a finished run's figure this one (its run stays ok): noise, made to order."""
    stderr = sweep_dir / task["dir"] / "stderr.txt"
    lines = [line for line in stderr.read_text().splitlines() if "achieved tok/s" not in line]
    stderr.write_text("\n".join([*lines, f"achieved tok/s: {tok_s}"]) + "\n")


def test_topup_repeats_only_the_noisy_configurations(sweep_args, tmp_path):
    results_file = tmp_path / "sweep-path"
    settings = {**TINY, "sweep_results_path_file": str(results_file)}
    run_playbook("sweep.yml", *sweep_args, "-e", json.dumps(settings))
    sweep_dir = Path(results_file.read_text().strip())
    plan = json.loads((sweep_dir / "plan.json").read_text())
    runs = {(t["flag_set"], t["repetition"]): t for t in plan["tasks"] if t["kind"] == "run"}
    assert sorted(runs) == [("O2", 1), ("O2", 2), ("O3", 1), ("O3", 2)]
    # O3's two runs differ threefold (CV far above the threshold), O2's agree.
    set_tok_s(sweep_dir, runs["O3", 1], 100.0)
    set_tok_s(sweep_dir, runs["O3", 2], 300.0)
    set_tok_s(sweep_dir, runs["O2", 1], 200.0)
    set_tok_s(sweep_dir, runs["O2", 2], 200.0)
    before = executions(sweep_dir)

    run_playbook("sweep.yml", *sweep_args, "-e", f"sweep_topup={sweep_dir.name}")
    topped = json.loads((sweep_dir / "plan.json").read_text())
    assert topped["tasks"][: len(plan["tasks"])] == plan["tasks"]
    added = topped["tasks"][len(plan["tasks"]) :]
    assert [(t["index"], t["flag_set"], t["repetition"]) for t in added] == [
        (len(plan["tasks"]), "O3", 3),
        (len(plan["tasks"]) + 1, "O3", 4),
    ]
    tsv = (sweep_dir / "tasks.tsv").read_text().splitlines()
    assert [line.split("\t")[2] for line in tsv] == [t["dir"] for t in topped["tasks"]]
    after = executions(sweep_dir)
    assert {d: after[d] for d in before} == before
    assert sorted(set(after) - set(before)) == sorted(t["dir"] for t in added)
    table = runs_table(sweep_dir)
    assert list(table["status"]) == ["ok"] * 6, table["reason"].to_list()
    assert sorted(table.loc[table["flag_set"] == "O3", "repetition"]) == [1, 2, 3, 4]


@pytest.mark.skipif(
    shutil.which("slurmctld", path=SBIN_PATH) is None, reason="slurmctld not installed"
)
def test_slurm_topup_adds_an_array_of_the_noisy_configuration_on_its_own_partition(
    slurm, workspace, tmp_path
):
    # Two partitions with their own perf events: the first partition's topped-up runs come
    # after the second's tasks in the plan, and keep the first partition's events.
    results = tmp_path / "results"
    settings = [
        "sweep_repetitions=2", "sweep_steps=8", "sweep_profile=false", "sweep_bandwidth=false",
        "sweep_warmup_runs=0",
        {"sweep_flag_sets": {"O3": "-O3"}, "sweep_threads": [1],
         "sweep_partitions": [
             {"name": "mcimone-nodes", "exclusive": False, "perf_events": "task-clock"},
             {"name": "mcimone-milkvs", "exclusive": False, "perf_events": "page-faults"}]},
    ]  # fmt: skip
    run_playbook("sweep.yml", *slurm_args(workspace, results, *settings))
    sweep_dir = (results / "latest").resolve()
    remote_dir = Path(json.loads((sweep_dir / "remote.json").read_text())["remote_dir"])
    plan = json.loads((remote_dir / "plan.json").read_text())
    runs = {(t["partition"], t["repetition"]): t for t in plan["tasks"] if t["kind"] == "run"}
    set_tok_s(remote_dir, runs["mcimone-nodes", 1], 100.0)
    set_tok_s(remote_dir, runs["mcimone-nodes", 2], 300.0)
    set_tok_s(remote_dir, runs["mcimone-milkvs", 1], 200.0)
    set_tok_s(remote_dir, runs["mcimone-milkvs", 2], 200.0)
    jobs_before = (remote_dir / "slurm-jobs.tsv").read_text().splitlines()
    before = executions(remote_dir)

    run_playbook(
        "sweep.yml", *slurm_args(workspace, results, f"sweep_topup={sweep_dir.name}", *settings)
    )
    topped = json.loads((remote_dir / "plan.json").read_text())
    added = topped["tasks"][len(plan["tasks"]) :]
    assert [(t["partition"], t["repetition"]) for t in added] == [
        ("mcimone-nodes", 3),
        ("mcimone-nodes", 4),
    ]
    # One new array on the noisy configuration's partition, over the added indices alone.
    jobs = (remote_dir / "slurm-jobs.tsv").read_text().splitlines()
    assert jobs[: len(jobs_before)] == jobs_before
    (first,) = [p["first_index"] for p in plan["partitions"] if p["name"] == "mcimone-nodes"]
    added_ids = sweep_plan.array_list(task["index"] - first for task in added)
    assert [line.split("\t")[::4] for line in jobs[len(jobs_before) :]] == [
        ["mcimone-nodes", f"{first}:{added_ids}"]
    ]
    after = executions(remote_dir)
    assert {d: after[d] for d in before} == before
    for task in added:
        perf = (remote_dir / task["dir"] / "perf.txt").read_text()
        assert "task-clock" in perf and "page-faults" not in perf, perf
    table = runs_table(sweep_dir)
    assert list(table["status"]) == ["ok"] * 6, table["reason"].to_list()
    assert sorted(table.loc[table["partition"] == "mcimone-nodes", "repetition"]) == [1, 2, 3, 4]
