"""End to end: playbooks/sweep.yml, wait.yml and fetch.yml against the real local Slurm
(scripts/slurm-local, inventory/local-slurm.yml), offline, on the real llama2.c.

The session fixtures start the local clusters when they are not running and stop them at the
end only if they started them. What was submitted is checked from the scheduler itself
(squeue --json --states=all keeps finished jobs for MinJobAge=600 s), not from the
playbook's own output. The fault sweeps run on both releases: this machine's Slurm 22.05
(fixture slurm) and Debian 13's Slurm 24.11 in a root of its own (fixture slurm24).

The fault sweeps (a build that fails on one partition, a run over its time limit, a run
cancelled with scancel) are submitted with sweep_wait=false and overlap: they are not
exclusive and ask for one core each, so the ~70 s TIMEOUT run holds one of the node's cores
while the others use the other one.
"""

import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
from conftest import BIN, LOCAL_SLURM_INVENTORY, PROJECT, run_playbook, slurm_args, summarize

from collect.profiles import parse_folded, top_functions
from collect.sweepfiles import read_sweep_files

INVENTORY = LOCAL_SLURM_INVENTORY
PARTITIONS = ["mcimone-nodes", "mcimone-milkvs"]
FLAG_SETS = ["O3", "O3-openmp", "Ofast-openmp"]
SBIN_PATH = os.environ.get("PATH", "") + ":/usr/sbin:/sbin"

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slurm,
    pytest.mark.skipif(
        shutil.which("slurmctld", path=SBIN_PATH) is None,
        reason="slurmctld not installed (apt-get install -y slurm-wlm munge)",
    ),
]


def run(*args, env=None, check=True, timeout=120):
    return subprocess.run(
        [str(a) for a in args], env=env, capture_output=True, text=True, timeout=timeout,
        check=check,
    )  # fmt: skip


def squeue_jobs(env) -> list[dict]:
    # 23.02+ list finished jobs only with --states=all (22.05 lists every job anyway).
    return json.loads(run("squeue", "--json", "--states=all", env=env).stdout)["jobs"]


def state(job: dict) -> str:
    value = job["job_state"]
    return value if isinstance(value, str) else value[0]


def derived_throttle(env, partition: str) -> int:
    """The default array throttle: half the partition's nodes (sinfo), at least one."""
    lines = run("sinfo", "--noheader", f"--partition={partition}", "--format=%D", env=env)
    return max(1, sum(int(count) for count in lines.stdout.split()) // 2)


def number(value) -> int | None:
    """A job's integer field; 23.02+ give {"set", "infinite", "number"} objects (None: unset)."""
    if isinstance(value, dict):
        return value["number"] if value["set"] else None
    return value


def sweep_jobs(env, sweep_id: str) -> list[dict]:
    """The scheduler's records of a sweep's jobs (their names hold the sweep id)."""
    return [j for j in squeue_jobs(env) if j["name"].startswith(f"llamasweep-{sweep_id}-")]


def runs_csv(results: Path) -> pd.DataFrame:
    summarize(results)
    return pd.read_csv(results / "runs.csv")


def planned_tasks(results: Path, kind: str) -> list[dict]:
    """The plan's records of this kind (plan.json, written before submitting)."""
    tasks = json.loads((results / "plan.json").read_text())["tasks"]
    return [task for task in tasks if task["kind"] == kind]


# --- one sweep over both partitions -----------------------------------------------------


@pytest.fixture(scope="module")
def full_sweep(slurm, workspace, tmp_path_factory):
    """2 models x 3 flag sets x 2 repetitions on each partition, waited for and fetched."""
    results = tmp_path_factory.mktemp("slurm-results")
    started = time.monotonic()
    done = run_playbook(
        "sweep.yml",
        *slurm_args(
            workspace, results, "sweep_steps=12", "sweep_repetitions=2",
            {"sweep_models": ["stories15M", "stories42M"]},
            {"sweep_threads": [os.cpu_count()]}, f"sweep_bandwidth_large_bytes={48 * 2**20}",
            "sweep_bandwidth_trials=2",
        ),
    )  # fmt: skip
    latest = results / "latest"
    return {
        "stdout": done.stdout,
        "results": latest,
        "sweep_id": latest.resolve().name,
        "runs": runs_csv(latest),
        "jobs": sweep_jobs(slurm, latest.resolve().name),
        "seconds": time.monotonic() - started,
    }


# A partition's array: 3 bandwidth measurements (1 thread count x large, stories15M,
# stories42M), 6 warm-up runs (2 models x 3 flag sets), 6 greedy check runs (one a build),
# then its 12 runs; its profiling array: the fastest and the slowest flag set of each model.
TASKS = 3 + 6 + 6 + 12
PROFILE_TASKS = 2 * 2


def test_every_run_is_ok_on_the_right_partition(full_sweep):
    runs = full_sweep["runs"]
    assert len(runs) == 2 * 2 * 3 * 2
    assert (runs["status"] == "ok").all(), runs[["run_dir", "status", "reason"]].to_string()
    assert (runs["tok_s"] > 0).all()
    assert Counter(runs["partition"]) == {partition: 12 for partition in PARTITIONS}
    planned = {run["dir"]: run["partition"] for run in planned_tasks(full_sweep["results"], "run")}
    assert dict(zip(runs["run_dir"], runs["partition"], strict=True)) == planned
    for partition in PARTITIONS:
        rows = runs[runs["partition"] == partition]
        assert Counter(rows["flag_set"]) == {flag_set: 4 for flag_set in FLAG_SETS}
        assert Counter(rows["model"]) == {"stories15M": 6, "stories42M": 6}
    assert "pending" in full_sweep["stdout"] and "finished: " in full_sweep["stdout"]
    assert "of 24 runs" in full_sweep["stdout"]  # bandwidth and warm-ups are not counted


def test_each_partition_has_its_facts_bandwidth_and_warmups(full_sweep):
    results = full_sweep["results"]
    warmups = planned_tasks(results, "warmup")
    bandwidth = planned_tasks(results, "bandwidth")
    for partition in PARTITIONS:
        facts = json.loads((results / "facts" / f"{partition}.json").read_text())
        assert facts["nproc"] >= 1 and facts["hostname"]
        measured = [task for task in bandwidth if task["partition"] == partition]
        assert [task["label"] for task in measured] == ["large", "stories15M", "stories42M"]
        for task in measured:
            assert json.loads((results / task["dir"] / "stdout.txt").read_text())["best_gb_s"] > 0
        assert len([task for task in warmups if task["partition"] == partition]) == 6
    assert sorted(path.name for path in (results / "warmup").iterdir()) == sorted(
        Path(task["dir"]).name for task in warmups
    )
    for task in warmups:
        assert (results / task["dir"] / "status").read_text().strip() == "0"


def test_one_build_job_and_one_array_per_partition_from_the_scheduler(full_sweep, slurm):
    jobs = full_sweep["jobs"]
    sweep_id = full_sweep["sweep_id"]
    for partition in PARTITIONS:
        builds = [j for j in jobs if j["name"] == f"llamasweep-{sweep_id}-build-{partition}"]
        tasks = [j for j in jobs if j["name"] == f"llamasweep-{sweep_id}-{partition}"]
        assert len(builds) == 1, builds
        assert {j["partition"] for j in builds + tasks} == {partition}
        assert state(builds[0]) == "COMPLETED"
        # one array job: every task record has the same array job id, tasks 0..11
        assert len({j["array_job_id"] for j in tasks}) == 1
        assert sorted(j["array_task_id"] for j in tasks) == list(range(TASKS))
        assert {state(j) for j in tasks} == {"COMPLETED"}
        # after the build (afterok)
        assert min(j["start_time"] for j in tasks) >= builds[0]["end_time"]
        # the profiling array: once every task of the runs' array has ended (afterany)
        profiles = [j for j in jobs if j["name"] == f"llamasweep-{sweep_id}-profile-{partition}"]
        assert len({j["array_job_id"] for j in profiles}) == 1
        assert sorted(j["array_task_id"] for j in profiles) == list(range(PROFILE_TASKS))
        assert {state(j) for j in profiles} == {"COMPLETED"}
        assert min(j["start_time"] for j in profiles) >= max(j["end_time"] for j in tasks)
        # The build is not exclusive: it asks for the one CPU it compiles with.
        assert (builds[0]["cpus"], builds[0]["shared"]) == (1, None)
        # Fair share: the default throttle, half the partition's nodes, at least one.
        throttle = derived_throttle(slurm, partition)
        assert {j["array_max_tasks"] for j in tasks + profiles} == {throttle}
    assert len(jobs) == 2 * (1 + TASKS + PROFILE_TASKS)
    # The default policy for a node failure: no requeue (a NODE_FAIL row).
    assert {j["requeue"] for j in jobs} == {False}


def test_runs_are_traced_to_their_jobs(full_sweep):
    runs = full_sweep["runs"]
    tasks = {j["job_id"]: j for j in full_sweep["jobs"] if "-build-" not in j["name"]}
    assert runs["slurm_job_id"].notna().all() and runs["slurm_array_job_id"].notna().all()
    for row in runs.itertuples():
        task = tasks[int(row.slurm_job_id)]
        assert task["array_job_id"] == row.slurm_array_job_id
        assert task["partition"] == row.partition
        assert task["nodes"] == row.host


def test_each_partition_s_array_starts_its_runs_in_the_plan_s_order_round_by_round(full_sweep):
    runs = full_sweep["runs"]
    seed = json.loads((full_sweep["results"] / "plan.json").read_text())["order_seed"]
    assert json.loads((full_sweep["results"] / "sweep.json").read_text())["order_seed"] == seed
    for partition in PARTITIONS:
        rows = runs[runs["partition"] == partition].sort_values("index")
        # execution.txt's start times: Slurm started the array's tasks in ascending id
        started = pd.to_datetime(rows["start_time"], format="ISO8601")
        assert started.is_monotonic_increasing, rows[["index", "start_time"]].to_string()
        by_round = rows.assign(started=started).groupby("repetition")["started"]
        assert by_round.max()[1] < by_round.min()[2]
        # each round holds every configuration once
        rounds = rows.groupby("repetition")["declared_order"].agg(sorted)
        assert rounds[1] == rounds[2] and len(rounds[1]) == len(set(rounds[1]))
    summary = (full_sweep["results"] / "summary.md").read_text()
    drift = summary.split("## Drift over the sweep")[1].split("\n## ")[0]
    assert f"sweep_order_seed={seed}" in drift
    for partition in PARTITIONS:
        assert f"- `{partition}`: " in drift


def test_benchmarks_never_share_the_node(full_sweep):
    # --exclusive: the tasks of both partitions' arrays ran one after the other
    spans = sorted(
        (j["start_time"], j["end_time"]) for j in full_sweep["jobs"] if j["array_job_id"]
    )
    # Every task of both partitions' arrays is there to compare (and the profiles' too).
    assert len(spans) >= len(PARTITIONS) * TASKS, spans
    for (_, end), (next_start, _) in zip(spans, spans[1:], strict=False):
        assert end <= next_start, spans


def test_time_limit_is_derived_and_recorded(full_sweep):
    sweep = json.loads((full_sweep["results"] / "plan.json").read_text())
    for partition in sweep["partitions"]:
        estimates = partition["time_estimates_s"]
        assert estimates["stories42M"] > estimates["stories15M"]
        assert partition["time_limit_source"] == "derived"
        name = f"llamasweep-{full_sweep['sweep_id']}-{partition['name']}"
        array = [j for j in full_sweep["jobs"] if j["name"] == name]
        assert len(array) == TASKS
        assert {j["time_limit"] for j in array} == {int(partition["time_limit"])}
        profile_name = f"llamasweep-{full_sweep['sweep_id']}-profile-{partition['name']}"
        profiles = [j for j in full_sweep["jobs"] if j["name"] == profile_name]
        assert {j["time_limit"] for j in profiles} == {2 * int(partition["time_limit"])}


def test_profiles_of_each_partition_name_matmul_hottest(full_sweep):
    results = full_sweep["results"]
    files = read_sweep_files(results)
    assert sorted(profile.run_name for profile in files.profiles) == sorted(
        f"{partition}-{model}-{selector}"
        for partition in PARTITIONS
        for model in ["stories15M", "stories42M"]
        for selector in ["fastest", "slowest"]
    )
    for profile in files.profiles:
        assert profile.status == "ok", profile.info
        # 12 steps: short enough that libgomp's spinning threads may outweigh matmul; of the
        # functions with names (not [library] frames), matmul is the hottest.
        top = top_functions(parse_folded(profile.folded_text))
        named = top[~top["function"].str.startswith("[")]
        assert named.iloc[0]["function"].startswith("matmul"), top.head().to_string()
        assert (results / "profiles" / profile.run_name / "slurm.out").is_symlink()
        if "LLAMASWEEP_TEST_FLAMEGRAPH" in os.environ:
            assert "matmul" in profile.svg_text
    assert "profiles 8/8" in full_sweep["stdout"]


def test_slurm_sweep_leaves_a_pointer_then_the_fetched_results(full_sweep):
    results = full_sweep["results"]
    remote = json.loads((results / "remote.json").read_text())
    assert remote["host"] == "localhost" and remote["backend"] == "slurm"
    assert Path(remote["remote_dir"]).name == full_sweep["sweep_id"]
    for name in ["sweep.json", "plan.json", "tasks.tsv", "scheduler.json", "slurm-jobs.tsv"]:
        assert (results / name).is_file(), name
    for partition in PARTITIONS:
        assert "built O3" in (results / "builds" / partition / "build.out").read_text() or (
            "reused O3" in (results / "builds" / partition / "build.out").read_text()
        )
    # make collect after a waited sweep: the fetch made once every job had ended is final
    collect = subprocess.run(
        [str(BIN / "python"), "-m", "collect", "fetch", str(results)],
        cwd=PROJECT, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "nothing new to fetch" in collect.stdout
    # fetching again changes nothing and needs no extra argument (results/latest)
    again = run_playbook(
        "fetch.yml", "-i", str(INVENTORY),
        "-e", f"sweep_results_dir={results.parent}",
    )  # fmt: skip
    assert "finished: " in again.stdout


# --- failure states -------------------------------------------------------------------------

ONE_CORE = {"exclusive": False, "cores": 1}


def submit(env, workspace, results, *settings) -> dict:
    """Submit a sweep without waiting; its remote.json."""
    done = run_playbook(
        "sweep.yml",
        *slurm_args(
            workspace, results, "sweep_wait=false", "sweep_bandwidth=false",
            "sweep_warmup_runs=0", *settings,
        ),
        env=env,
    )  # fmt: skip
    assert "not waiting (sweep_wait=false)" in " ".join(done.stdout.split())
    remote = json.loads((results / "latest" / "remote.json").read_text())
    remote["results"] = (results / "latest").resolve()
    return remote


def array_job(remote: dict, partition: str) -> int:
    """The job id of the partition's one array of runs (slurm-jobs.tsv's third column)."""
    jobs = Path(remote["remote_dir"], "slurm-jobs.tsv").read_text().splitlines()
    (line,) = [line for line in jobs if line.split("\t")[0] == partition]
    (array,) = line.split("\t")[2].split(",")
    return int(array)


def run_task_ids(sweep_dir: Path, partition: str) -> list[int]:
    """The array task ids of a partition's runs, in the plan's order: its array also holds
    bandwidth measurements, warm-up runs and each build's greedy check run. sweep_dir: the
    sweep's own directory (a submitted sweep's results hold no plan.json until fetched)."""
    plan = json.loads((sweep_dir / "plan.json").read_text())
    (first,) = [p["first_index"] for p in plan["partitions"] if p["name"] == partition]
    return [t["index"] - first for t in plan["tasks"]
            if t["kind"] == "run" and t["partition"] == partition]  # fmt: skip


def wait_until_running(env, array: int, task: int):
    """Until the scheduler shows task TASK of ARRAY running (it must be pending before)."""
    deadline = time.monotonic() + 240
    while True:
        found = [
            j for j in squeue_jobs(env)
            if number(j["array_job_id"]) == array and number(j["array_task_id"]) == task
        ]  # fmt: skip
        if found and state(found[0]) == "RUNNING":
            return
        assert not found or state(found[0]) == "PENDING", found
        assert time.monotonic() < deadline, f"task {task} of {array} never started"
        time.sleep(0.2)


def wait_and_fetch(env, remote: dict) -> pd.DataFrame:
    run_playbook(
        "wait.yml", "-i", str(INVENTORY), "-e", f"sweep_fetch_results={remote['results']}",
        env=env,
    )  # fmt: skip
    return runs_csv(remote["results"])


@pytest.fixture(scope="module")
def faults(each_slurm, workspace, tmp_path_factory):
    """Three sweeps at once: a TIMEOUT, a failed build, a run cancelled with scancel."""
    cluster = each_slurm
    sleep_then_run = ["sh", "-c", 'sleep 4; exec "$@"', "sleep-then-run"]
    # Far over --time=1, for the measured run only: the build's check run (greedy, its -t 0
    # given last) runs as it is, so that the partition's array (one task at a time on
    # mcimone-milkvs) reaches the time limit once, not twice.
    sleep_long = ["sh", "-c", 'case " $* " in *" -t 0 ") exec "$@";; esac; sleep 600',
                  "sleep-600"]  # fmt: skip
    timeout = submit(
        cluster, workspace, tmp_path_factory.mktemp("timeout"),
        "sweep_repetitions=1", "sweep_steps=8",
        "sweep_profile=false",
        {"sweep_flag_sets": {"O3": "-O3"}, "sweep_run_prefix": sleep_long,
         "sweep_partitions": [{"name": "mcimone-milkvs", "time_limit": "1", **ONE_CORE}]},
    )  # fmt: skip
    # The scheduler's view of the TIMEOUT run the moment its submission returned.
    timeout_array = array_job(timeout, "mcimone-milkvs")
    timeout["states_after_submit"] = {
        state(j) for j in squeue_jobs(cluster) if number(j["array_job_id"]) == timeout_array
    }
    cancel = submit(
        cluster, workspace, tmp_path_factory.mktemp("cancel"),
        "sweep_repetitions=3", "sweep_steps=8",
        "sweep_profile=false",
        {"sweep_flag_sets": {"O3": "-O3"}, "sweep_run_prefix": sleep_then_run,
         "sweep_partitions": [{"name": "mcimone-nodes", **ONE_CORE}]},
    )  # fmt: skip
    # cancel the second run while it runs
    array = array_job(cancel, "mcimone-nodes")
    second_run = run_task_ids(Path(cancel["remote_dir"]), "mcimone-nodes")[1]
    wait_until_running(cluster, array, second_run)
    run("scancel", f"{array}_{second_run}", env=cluster)
    broken = submit(
        cluster, workspace, tmp_path_factory.mktemp("build"),
        "sweep_repetitions=2", "sweep_steps=8",
        {"sweep_flag_sets": {"O3": "-O3"},
         "sweep_partitions": [
             {"name": "mcimone-nodes", "flag_sets": {"nosuch": "-O2 -mno-such-option"},
              **ONE_CORE},
             {"name": "mcimone-milkvs", **ONE_CORE}]},
    )  # fmt: skip
    return {
        "cancel": wait_and_fetch(cluster, cancel),
        "build": wait_and_fetch(cluster, broken),
        "build_results": broken["results"],
        "timeout": wait_and_fetch(cluster, timeout),
        "timeout_remote": timeout,
    }


def test_run_over_its_time_limit_is_a_timeout_row(faults):
    (row,) = faults["timeout"].itertuples()
    assert row.status == "timeout", row.reason
    assert "time limit" in row.reason
    assert row.partition == "mcimone-milkvs" and row.flag_set == "O3"
    assert pd.notna(row.slurm_job_id)


def test_sweep_wait_false_returns_before_the_runs_end(faults):
    # An ordering the scheduler proves, whatever the machine's speed: when the submission
    # returned, the run that ends by TIMEOUT had not ended yet (pending behind its build, or
    # running); it ended TIMEOUT later (test above).
    states = faults["timeout_remote"]["states_after_submit"]
    assert states and states <= {"PENDING", "RUNNING"}, states


def test_cancelled_run_is_a_cancelled_row_and_the_rest_complete(faults):
    runs = faults["cancel"].sort_values("index").reset_index(drop=True)  # the runs in order
    assert list(runs["status"]) == ["ok", "cancelled", "ok"], runs["reason"].to_list()
    assert "cancelled" in runs.loc[1, "reason"]
    assert runs.loc[0, "tok_s"] > 0 and runs.loc[2, "tok_s"] > 0


def test_failed_build_fails_its_partition_only_with_the_reason(faults):
    runs = faults["build"]
    nodes = runs[runs["partition"] == "mcimone-nodes"]
    milkvs = runs[runs["partition"] == "mcimone-milkvs"]
    assert len(nodes) == 2 * 2 and len(milkvs) == 2
    assert (milkvs["status"] == "ok").all(), milkvs["reason"].to_list()
    assert (nodes["status"] == "failed").all()
    for reason in nodes["reason"]:
        assert "build" in reason and "nosuch" in reason and "mno-such-option" in reason
    # The profiling arrays ran after the cancelled and the completed arrays (afterany):
    # nothing to select from on mcimone-nodes, the one flag set profiled once on milkvs.
    profiles = {p.run_name: p for p in read_sweep_files(faults["build_results"]).profiles}
    assert sorted(profiles) == [
        "mcimone-milkvs-stories15M-fastest",
        "mcimone-nodes-stories15M-fastest",
        "mcimone-nodes-stories15M-slowest",
    ]
    assert profiles["mcimone-milkvs-stories15M-fastest"].status == "ok"
    for selector in ["fastest", "slowest"]:
        assert profiles[f"mcimone-nodes-stories15M-{selector}"].status == (
            "no finished run of stories15M on mcimone-nodes to select from"
        )


def test_missing_partition_is_refused_before_anything_is_submitted(slurm, workspace, tmp_path):
    done = run_playbook(
        "sweep.yml",
        *slurm_args(workspace, tmp_path, {"sweep_partitions": [{"name": "mcimone-nodes"},
                                                               {"name": "no-such-partition"}]}),
        check=False,
    )  # fmt: skip
    output = " ".join(done.stdout.split())
    assert done.returncode != 0
    assert "Probing no-such-partition failed" in output
    assert "invalid partition specified" in output and "sweep_partitions" in output
    assert not list(tmp_path.glob("*/remote.json"))


def test_default_thread_counts_come_from_the_partition_s_cores(slurm, workspace, tmp_path):
    # No sweep_threads and no cores in the inventory: sinfo's CPUs of the node, and the
    # thread counts 1, 2, 4, ... up to them.
    run_playbook(
        "sweep.yml",
        *slurm_args(
            workspace, tmp_path, "sweep_repetitions=1", "sweep_steps=8", "sweep_bandwidth=false",
            "sweep_warmup_runs=0", "sweep_profile=false",
            {"sweep_flag_sets": {"O3-openmp": "-O3 -fopenmp"},
             "sweep_partitions": [{"name": "mcimone-milkvs"}]},
        ),
    )  # fmt: skip
    cores = os.cpu_count()
    expected = [1 << power for power in range(cores.bit_length()) if 1 << power < cores] + [cores]
    (partition,) = json.loads((tmp_path / "latest" / "plan.json").read_text())["partitions"]
    assert (partition["cores"], partition["threads"]) == (cores, expected)
    runs = runs_csv(tmp_path / "latest")
    assert sorted(runs["threads"]) == expected
    assert (runs["status"] == "ok").all(), runs["reason"].to_list()


# --- a good citizen of a shared cluster -------------------------------------------------------


@pytest.fixture(scope="module")
def shared_sweep(slurm, workspace, tmp_path_factory):
    """Not exclusive, thread counts 1 and 2, runs requeued on a node failure; waited for."""
    results = tmp_path_factory.mktemp("shared")
    run_playbook(
        "sweep.yml",
        *slurm_args(
            workspace, results, "sweep_repetitions=2", "sweep_steps=8", "sweep_warmup_runs=1",
            f"sweep_bandwidth_large_bytes={2**20}", "sweep_bandwidth_trials=1",
            "sweep_slurm_requeue=true",
            {"sweep_models": ["stories15M"], "sweep_flag_sets": {"O3-openmp": "-O3 -fopenmp"},
             "sweep_threads": [1, 2], "sweep_profile_select": ["fastest"],
             "sweep_partitions": [{"name": "mcimone-nodes", "exclusive": False}]},
        ),
    )  # fmt: skip
    latest = results / "latest"
    (partition,) = json.loads((latest / "plan.json").read_text())["partitions"]
    return {
        "results": latest,
        "partition": partition,
        "jobs": sweep_jobs(slurm, latest.resolve().name),
        "name": f"llamasweep-{latest.resolve().name}-mcimone-nodes",
    }


def planned_threads(results: Path) -> dict[int, int]:
    """Task index -> the thread count of that task (plan.json)."""
    tasks = json.loads((results / "plan.json").read_text())["tasks"]
    return {task["index"]: task["threads"] for task in tasks}


def test_without_exclusivity_each_run_asks_for_its_thread_count(shared_sweep):
    partition, jobs = shared_sweep["partition"], shared_sweep["jobs"]
    counts = partition["task_counts"]
    measured = counts["bandwidth"] + counts["warmup"] + counts["check"] + counts["run"]
    offset, count = partition["first_index"], measured
    threads = planned_threads(shared_sweep["results"])
    arrays = {}
    for task in [j for j in jobs if j["name"] == shared_sweep["name"]]:
        arrays.setdefault(task["array_job_id"], []).append(task)
    # One array per thread count (an array has one --cpus-per-task), on a shared node; its
    # tasks are exactly the partition's lines of that thread count (bandwidth measurements,
    # warm-up runs and runs), and together the arrays cover the block once.
    assert len(arrays) == 2
    for tasks in arrays.values():
        (cpus,) = {task["cpus"] for task in tasks}
        assert {task["shared"] for task in tasks} == {None}
        assert sorted(task["array_task_id"] for task in tasks) == [
            index - offset
            for index in range(offset, offset + count)
            if threads[index] == cpus
        ]  # fmt: skip
    assert sorted(t["array_task_id"] for ts in arrays.values() for t in ts) == list(range(count))
    # One array after the other: the throttle bounds the whole partition.
    first, second = (arrays[array] for array in sorted(arrays))
    assert max(t["end_time"] for t in first) <= min(t["start_time"] for t in second)
    # Profiling runs pick their thread count when they run: they ask for the largest.
    profiles = [j for j in jobs if "-profile-" in j["name"]]
    assert profiles and {j["cpus"] for j in profiles} == {2}
    assert min(j["start_time"] for j in profiles) >= max(t["end_time"] for t in second)
    runs = runs_csv(shared_sweep["results"])
    assert sorted(runs["threads"]) == [1, 1, 2, 2]
    assert (runs["status"] == "ok").all(), runs["reason"].to_list()


def test_default_throttle_and_requeue_policy_reach_the_scheduler(shared_sweep, slurm):
    partition, jobs = shared_sweep["partition"], shared_sweep["jobs"]
    throttle = derived_throttle(slurm, "mcimone-nodes")
    assert (partition["array_throttle"], partition["array_throttle_source"]) == (
        throttle,
        "derived",
    )
    arrays = [j for j in jobs if j["array_job_id"]]
    assert {j["array_max_tasks"] for j in arrays} == {throttle}
    # sweep_slurm_requeue: true -> --requeue on every job of the sweep
    assert {j["requeue"] for j in jobs} == {True}


def node_state(env, node: str) -> str:
    return run("sinfo", "--noheader", "--Node", f"--nodes={node}", "--format=%T", env=env).stdout


def test_node_down_mid_array_is_a_node_fail_row_and_the_rest_complete(slurm, workspace, tmp_path):
    # The only node of the local cluster; the DOWN window is as short as Slurm allows (it
    # ends when the node is seen gone from the running task) and always ends (finally).
    node = socket.gethostname().split(".")[0]
    sleep_then_run = ["sh", "-c", 'sleep 6; exec "$@"', "sleep-then-run"]
    remote = submit(
        slurm, workspace, tmp_path, "sweep_repetitions=3", "sweep_steps=8", "sweep_profile=false",
        {"sweep_flag_sets": {"O3": "-O3"}, "sweep_run_prefix": sleep_then_run,
         "sweep_partitions": [{"name": "mcimone-nodes", **ONE_CORE}]},
    )  # fmt: skip
    array = array_job(remote, "mcimone-nodes")
    second_run = run_task_ids(Path(remote["remote_dir"]), "mcimone-nodes")[1]
    wait_until_running(slurm, array, second_run)
    try:
        run(
            "scontrol", "update", f"nodename={node}", "state=down",
            "reason=llamasweep test: a node set DOWN mid-array", env=slurm,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while True:
            (task,) = [
                j for j in squeue_jobs(slurm)
                if j["array_job_id"] == array and j["array_task_id"] == second_run
            ]  # fmt: skip
            if state(task) != "RUNNING":
                break
            assert time.monotonic() < deadline, task
            time.sleep(0.1)
    finally:
        # Slurm may have returned the node to service itself (ReturnToService=2).
        if "down" in node_state(slurm, node):
            run("scontrol", "update", f"nodename={node}", "state=resume", env=slurm)
    assert state(task) == "NODE_FAIL" and task["requeue"] is False
    assert "down" not in node_state(slurm, node)
    runs = wait_and_fetch(slurm, remote).sort_values("index").reset_index(drop=True)
    assert list(runs["status"]) == ["ok", "failed", "ok"], runs["reason"].to_list()
    assert "NODE_FAIL" in runs.loc[1, "reason"]
    assert runs.loc[0, "tok_s"] > 0 and runs.loc[2, "tok_s"] > 0


# The second sbatch call (the first partition's array) waits until the test releases it: the
# interrupt reaches the submission while that job is being created.
# Every job held: none can end before the interrupt's cancel reaches it (a build job that
# reuses a cached binary completes within a second of its submission).
SLOW_SBATCH = """#!/bin/bash
calls=$(( $(cat {dir}/calls 2>/dev/null || echo 0) + 1 ))
echo "$calls" > {dir}/calls
if (( calls == 2 )); then
  echo "$PPID" > {dir}/submitter.part && mv {dir}/submitter.part {dir}/submitter
  until [[ -e {dir}/release ]]; do sleep 0.1; done
fi
exec {sbatch} --hold "$@"
"""


def interruptible() -> None:
    """In the playbook's process, before it starts: INT and HUP as a login session has them,
    whatever this test run inherited (under nohup, HUP is ignored, and a signal ignored when
    a shell starts cannot be trapped there: the submit script would never see it)."""
    for number in (signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_DFL)


@pytest.mark.parametrize("interrupt", ["SIGINT", "SIGHUP"])
def test_interrupted_submission_leaves_no_job_queued(slurm, workspace, tmp_path, interrupt):
    # SIGINT: Ctrl-C on ansible-playbook (its process group); SIGHUP: the connection to the
    # login node is lost (the submit script's hangup).
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "sbatch").write_text(
        SLOW_SBATCH.format(dir=shlex.quote(str(shim)), sbatch=shutil.which("sbatch"))
    )
    (shim / "sbatch").chmod(0o755)
    results = tmp_path / "results"
    environment = {"SLURM_CONF": slurm["SLURM_CONF"], "PATH": f"{shim}:{os.environ['PATH']}"}
    command = [
        BIN / "ansible-playbook", PROJECT / "playbooks" / "sweep.yml",
        *slurm_args(
            workspace, results, "sweep_wait=false", "sweep_bandwidth=false",
            "sweep_warmup_runs=0", "sweep_repetitions=1", "sweep_steps=8",
            {"sweep_flag_sets": {"O3": "-O3"}, "sweep_slurm_environment": environment,
             "sweep_partitions": [{"name": "mcimone-nodes", **ONE_CORE},
                                  {"name": "mcimone-milkvs", **ONE_CORE}]},
        ),
    ]  # fmt: skip
    playbook = subprocess.Popen(
        [str(part) for part in command], cwd=PROJECT, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"}, preexec_fn=interruptible,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 480
        while not (shim / "submitter").exists():
            assert playbook.poll() is None, playbook.stdout.read()
            assert time.monotonic() < deadline, "the second sbatch call never came"
            time.sleep(0.2)
        if interrupt == "SIGINT":
            os.killpg(playbook.pid, signal.SIGINT)
        else:
            os.kill(int((shim / "submitter").read_text()), signal.SIGHUP)
        (shim / "release").touch()
        output = " ".join(playbook.communicate(timeout=300)[0].split())
    finally:
        (shim / "release").touch()
        if playbook.poll() is None:
            playbook.kill()
    assert playbook.returncode != 0
    # remote.json was written before the first job existed.
    remote = json.loads((results / "latest" / "remote.json").read_text())
    cancelled = Path(remote["remote_dir"], "submit-cancelled.txt")
    deadline = time.monotonic() + 120  # the script outlives a Ctrl-C'd playbook a moment
    while not cancelled.exists():
        assert time.monotonic() < deadline, "the submit script never said what it cancelled"
        time.sleep(0.2)
    message = cancelled.read_text()
    assert f"interrupted by {interrupt}" in message, message
    jobs = sweep_jobs(slurm, remote["sweep_id"])
    # The build job and the array created while the interrupt came: both cancelled, both
    # named; the second partition was never submitted.
    assert (shim / "calls").read_text().strip() == "2"
    assert len(jobs) == 2 and {state(job) for job in jobs} == {"CANCELLED"}, jobs
    assert sorted(message.split(": ")[-1].split()) == sorted(str(j["job_id"]) for j in jobs)
    if interrupt == "SIGHUP":  # the playbook itself saw the script fail
        assert "interrupted by SIGHUP" in output
    waited = run_playbook(
        "wait.yml", "-i", str(INVENTORY), "-e", f"sweep_fetch_results={results / 'latest'}",
        check=False,
    )  # fmt: skip
    assert waited.returncode != 0
    assert f"nothing to wait for: submission of sweep {remote['sweep_id']} interrupted by" in (
        " ".join(waited.stdout.split())
    )


def test_submit_script_with_its_stdout_closed_cancels_what_it_submitted(slurm, workspace, tmp_path):
    # The login node's end of a lost connection: the script's output goes nowhere (SIGPIPE
    # at its first line, after the first job was created). Its rendered script, run again.
    remote = submit(
        slurm, workspace, tmp_path, "sweep_repetitions=1", "sweep_steps=8", "sweep_profile=false",
        {"sweep_flag_sets": {"O3": "-O3"},
         "sweep_partitions": [{"name": "mcimone-milkvs", **ONE_CORE}]},
    )  # fmt: skip
    before = {job["job_id"] for job in sweep_jobs(slurm, remote["sweep_id"])}
    reader, writer = os.pipe()
    os.close(reader)
    try:
        again = subprocess.run(
            ["bash", Path(remote["remote_dir"], "submit-slurm.sh")], stdout=writer,
            stderr=subprocess.PIPE, env=slurm, text=True, timeout=120, check=False,
        )  # fmt: skip
    finally:
        os.close(writer)
    assert again.returncode == 1
    assert "interrupted by SIGPIPE; cancelled every job it had submitted" in again.stderr
    resubmitted = [j for j in sweep_jobs(slurm, remote["sweep_id"]) if j["job_id"] not in before]
    # the build job it had submitted, and nothing after it
    assert [(j["name"], state(j)) for j in resubmitted] == [
        (f"llamasweep-{remote['sweep_id']}-build-mcimone-milkvs", "CANCELLED")
    ]
    message = Path(remote["remote_dir"], "submit-cancelled.txt").read_text()
    assert message.split(": ")[-1].split() == [str(resubmitted[0]["job_id"])]
    # The jobs of the first submission are not its to cancel.
    first = [j for j in sweep_jobs(slurm, remote["sweep_id"]) if j["job_id"] in before]
    assert first and "CANCELLED" not in {state(j) for j in first}, first
