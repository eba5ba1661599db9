"""Unit tests of the Slurm backend's pieces that need no cluster: the partition plan
(time limits, defaults, validation) and the progress report against recorded scheduler JSON
(fake squeue/sacct on PATH), for Slurm 22.05's JSON and the newer shapes."""

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT, run_playbook

PROGRESS = PROJECT / "roles" / "sweep" / "files" / "slurm_progress.py"
PLAN = PROJECT / "collections/ansible_collections/llamasweep/sweep/plugins/filter/plan.py"
CATALOG = {
    "stories15M": {"size": 60816028, "config": {"seq_len": 256}},
    "stories110M": {"size": 438381596, "config": {"seq_len": 1024}},
}


def load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


plan = load(PLAN, "llamasweep_plan")
progress = load(PROGRESS, "llamasweep_progress")


# --- the partition plan --------------------------------------------------------------------


def make_plan(partitions, **overrides):
    arguments = {
        "flag_sets": {"O3": "-O3", "O3-openmp": "-O3 -fopenmp"},
        "models": ["stories15M", "stories110M"],
        "catalog": CATALOG,
        "steps": 256,
        "repetitions": 2,
        **overrides,
    }
    return plan.partition_plan(partitions, **arguments)


def test_plan_merges_flag_sets_numbers_runs_and_fills_defaults():
    nodes, milkvs = make_plan(
        [
            {"name": "mcimone-nodes", "cores": 4, "flag_sets": {"rv64gc": "-O3 -march=rv64gc"}},
            {"name": "mcimone-milkvs", "threads": [1, 64], "sbatch_options": ["--qos=x"]},
        ],
        node_cores={"mcimone-milkvs": "64"},
    )
    assert list(nodes["flag_sets"]) == ["O3", "O3-openmp", "rv64gc"]
    assert nodes["threads"] == [1, 2, 4] and milkvs["threads"] == [1, 64]
    assert milkvs["cores"] == 64 and milkvs["sbatch_options"] == ["--qos=x"]
    assert (nodes["offset"], nodes["runs"], nodes["tasks"]) == (0, 2 * 2 * 3 * 3, 36)
    assert (milkvs["offset"], milkvs["runs"]) == (36, 2 * 2 * 2 * 2)
    assert nodes["exclusive"] is True and nodes["array_throttle"] == 0


@pytest.mark.parametrize(
    ("cores", "threads"),
    [(1, [1]), (2, [1, 2]), (4, [1, 2, 4]), (6, [1, 2, 4, 6]), (64, [1, 2, 4, 8, 16, 32, 64])],
)
def test_default_threads_double_up_to_the_cores(cores, threads):
    (partition,) = make_plan([{"name": "p", "cores": cores}])
    assert partition["threads"] == threads


def test_bandwidth_measurements_and_warmups_come_first_in_each_block():
    first, second = make_plan(
        [{"name": "a", "cores": 2}, {"name": "b", "cores": 4, "threads": [4]}],
        bandwidth_labels=3,
        warmup_runs=1,
    )
    # a: 2 thread counts x 3 labels, 2 models x 2 flag sets warm-ups, 2 x 2 x 2 x 2 runs
    assert (first["bandwidth_runs"], first["warmup_runs"], first["runs"]) == (6, 4, 16)
    assert first["tasks"] == 26 and second["offset"] == 26
    assert (second["bandwidth_runs"], second["warmup_runs"], second["tasks"]) == (3, 4, 3 + 4 + 8)


def test_profiling_runs_end_each_block_one_per_model_and_selector():
    first, second = make_plan(
        [
            {"name": "a", "cores": 2, "perf_events": "task-clock"},
            {"name": "b", "cores": 4, "threads": [4], "flag_sets": {"rv": "-O2"}},
        ],
        profile_selectors=["fastest", "slowest", "rv"],
        perf_events="cycles",
    )
    # "rv" is a flag set of b only: a profiles fastest and slowest, b all three.
    assert first["profile_selectors"] == ["fastest", "slowest"]
    assert second["profile_selectors"] == ["fastest", "slowest", "rv"]
    assert (first["tasks"], first["profile_tasks"]) == (16, 2 * 2)
    assert second["offset"] == 16 + 4  # after a's runs and its profiling runs
    assert second["profile_tasks"] == 2 * 3
    assert (first["perf_events"], second["perf_events"]) == ("task-clock", "cycles")
    # A profiling run selects from finished runs and then runs perf script: twice the limit.
    assert int(first["profile_time_limit"]) == 2 * int(first["time_limit"])
    (fixed,) = make_plan(
        [{"name": "p", "cores": 1, "time_limit": "45"}], profile_selectors=["fastest"]
    )
    assert fixed["profile_time_limit"] == "45"


def test_one_flag_set_is_profiled_once_and_no_selectors_means_no_profiles():
    (single,) = make_plan(
        [{"name": "p", "cores": 1}],
        flag_sets={"O3": "-O3"},
        profile_selectors=["fastest", "slowest"],
    )
    assert single["profile_selectors"] == ["fastest"] and single["profile_tasks"] == 2
    (off,) = make_plan([{"name": "p", "cores": 1}])
    assert (off["profile_selectors"], off["profile_tasks"]) == ([], 0)


@pytest.mark.parametrize(
    ("selectors", "named"),
    [
        (
            ["fastest", "quickest"],
            "names 'quickest', which is neither fastest, slowest nor a flag set (O3, rv)",
        ),
        ("fastest", "is not a list of selectors"),
    ],
)
def test_profile_selector_errors_name_the_selector(selectors, named):
    errors = plan.profile_selector_errors(
        selectors, {"O3": "-O3"}, [{"name": "p", "flag_sets": {"rv": ""}}]
    )
    assert any(named in error for error in errors), errors
    assert not plan.profile_selector_errors(
        ["slowest", "rv", "O3"], {"O3": "-O3"}, [{"flag_sets": {"rv": ""}}]
    )


def test_explicit_sweep_threads_apply_to_every_partition():
    (partition,) = make_plan([{"name": "p", "cores": 4, "threads": [1, 2, 4]}], threads=["2"])
    assert partition["threads"] == [2]


def test_time_limit_grows_with_the_model_and_the_partition_guess():
    (slow,) = make_plan([{"name": "slow", "cores": 4, "seconds_per_gb_token": 4}])
    (fast,) = make_plan([{"name": "fast", "cores": 4, "seconds_per_gb_token": 0.5}])
    # stories110M: 60 s + 2 x 256 tokens x 0.438 GB x 4 s = 958 s -> 16 minutes
    assert slow["time_estimates_s"]["stories110M"] == 958
    assert slow["time_limit"] == "16" and slow["time_limit_source"] == "derived"
    assert slow["time_estimates_s"]["stories15M"] < slow["time_estimates_s"]["stories110M"]
    assert fast["time_limit"] == "5"  # the floor: 300 s
    # longer than the seed's fixed `-t 00:05:00` on a 4-core node
    assert int(slow["time_limit"]) > 5


def test_time_limit_caps_tokens_at_seq_len_and_can_be_overridden():
    (capped,) = make_plan(
        [{"name": "p", "cores": 1}], models=["stories15M"], steps=100000, time_floor=0
    )
    # stories15M's seq_len is 256: run.c generates at most 256 tokens
    assert capped["time_estimates_s"]["stories15M"] == math.ceil(60 + 2 * 256 * 0.060816028 * 2)
    (fixed,) = make_plan([{"name": "p", "cores": 1, "time_limit": "1-00:00:00"}])
    assert (fixed["time_limit"], fixed["time_limit_source"]) == ("1-00:00:00", "inventory")


def test_unknown_cores_is_an_error():
    with pytest.raises(Exception, match="cores per node unknown"):
        make_plan([{"name": "p"}], node_cores={})


@pytest.mark.parametrize(
    ("partitions", "named"),
    [
        ([], "not a non-empty list"),
        ([{"cores": 4}], "name must be"),
        ([{"name": "a b"}], "name must be"),
        ([{"name": "p", "time_limt": "5"}], "unknown keys ['time_limt']"),
        ([{"name": "p", "time_limit": "5 minutes"}], "is not a Slurm time"),
        ([{"name": "p", "threads": [0]}], "threads [0]"),
        ([{"name": "p", "cores": "four"}], "cores 'four'"),
        ([{"name": "p", "flag_sets": {"bad name": "-O3"}}], "flag_sets"),
        ([{"name": "p", "sbatch_options": "--qos=x"}], "sbatch_options"),
        ([{"name": "p"}, {"name": "p"}], "more than once"),
        ([{"name": "p", "perf_events": ["cycles"]}], "perf_events ['cycles'] is not a perf stat"),
    ],
)
def test_partition_errors_name_the_problem(partitions, named):
    errors = plan.partition_errors(partitions)
    assert any(named in error for error in errors), errors


def test_valid_partitions_have_no_errors():
    assert not plan.partition_errors(
        [
            {"name": "mcimone-nodes", "cores": 4, "time_limit": "30", "threads": [1, 4]},
            {"name": "mcimone-milkvs", "sbatch_options": ["--account=a"], "exclusive": False},
        ]
    )


def test_bad_partition_data_fails_before_anything_is_provisioned(tmp_path):
    partitions = [{"name": "mcimone-nodes", "time_limit": "soon"}]
    run = run_playbook(
        "sweep.yml", "-i", str(PROJECT / "inventory" / "local-slurm.yml"),
        "-e", f"llamasweep_workspace={tmp_path / 'ws'}",
        "-e", json.dumps({"sweep_partitions": partitions}), check=False,
    )  # fmt: skip
    output = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert "time_limit 'soon' is not a Slurm time" in output
    assert not (tmp_path / "ws" / "llama2.c").exists()


# --- the progress report -------------------------------------------------------------------


def job(job_id, state, array_job_id=0, task=None, tasks="", reason="None", exit_code=0):
    return {
        "job_id": job_id, "array_job_id": array_job_id, "array_task_id": task,
        "array_task_string": tasks, "job_state": state, "state_reason": reason,
        "exit_code": exit_code, "nodes": "node1" if state != "PENDING" else "", "name": "x",
    }  # fmt: skip


@pytest.fixture
def sweep(tmp_path):
    """A submitted sweep: partition p1 (build 10, array 11, 3 runs), p2 (build 20, array 21,
    2 runs); fake squeue/sacct print what the test puts in squeue.json/sacct.json."""
    sweep_dir = tmp_path / "sweep"
    (sweep_dir / "runs").mkdir(parents=True)
    (sweep_dir / "slurm-jobs.tsv").write_text("p1\t10\t11\t0\t3\np2\t20\t21\t3\t2\n")
    (sweep_dir / "manifest.tsv").write_text(
        "".join(f"{i}\t{i:04d}-m-O3-t1-r1\tm\tO3\t1\t1\tbin\tckpt\t{{}}\n" for i in range(5))
    )
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for command in ("squeue", "sacct"):
        # Prints what the test recorded: COMMAND.json for --json, COMMAND.txt otherwise.
        script = bin_dir / command
        script.write_text(
            f'#!/bin/sh\necho "$0 $* SLURM_BITSTR_LEN=$SLURM_BITSTR_LEN" >> {tmp_path}/calls\n'
            f'case " $* " in *" --json "*) out={tmp_path}/{command}.json;; '
            f"*) out={tmp_path}/{command}.txt;; esac\n"
            f"[ -f $out ] || {{ echo '{command}: disabled' >&2; exit 1; }}\n"
            "cat $out\n"
        )
        script.chmod(0o755)

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

        def jobs(self, tsv, runs):
            """slurm-jobs.tsv and a manifest of `runs` runs."""
            (sweep_dir / "slurm-jobs.tsv").write_text(tsv)
            (sweep_dir / "manifest.tsv").write_text(
                "".join(
                    f"{i}\t{i:04d}-m-O3-t1-r1\tm\tO3\t1\t1\tbin\tckpt\t{{}}\n" for i in range(runs)
                )
            )

        def query_way(self, way):
            (sweep_dir / "sweep.json").write_text(json.dumps({"slurm": {"query": way}}))

        def status(self, index, value):
            run = sweep_dir / "runs" / f"{index:04d}-m-O3-t1-r1"
            run.mkdir(exist_ok=True)
            (run / "status").write_text(f"{value}\n")

        def report(self):
            env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
            done = subprocess.run(
                [sys.executable, str(PROGRESS), str(sweep_dir)],
                env=env, capture_output=True, text=True, check=True,
            )  # fmt: skip
            return done.stdout.strip()

        def state(self):
            return json.loads((sweep_dir / "scheduler.json").read_text())

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


def test_states_outlive_squeue_and_sacct_fills_in_when_accounting_exists(sweep):
    sweep.sacct([])
    sweep.squeue([job(10, "COMPLETED"), job(11, "RUNNING", 11, task=0), job(20, "RUNNING")])
    assert not sweep.report().startswith("finished")
    # MinJobAge later: squeue has forgotten the sweep; accounting knows how it ended
    sweep.squeue([])
    sweep.sacct(
        [
            {"job_id": 11, "array": {"job_id": 11, "task_id": 0}, "nodes": "node1",
             "state": {"current": "OUT_OF_MEMORY", "reason": "None"},
             "exit_code": {"status": "FAILED", "return_code": 0, "signal": {"signal_id": 9}}},
        ]
    )  # fmt: skip
    line = sweep.report()
    assert line.startswith("finished: ")
    state = sweep.state()
    assert state["accounting"] is True
    assert state["builds"]["p1"]["state"] == "COMPLETED"  # kept from the earlier call
    assert state["runs"]["0"]["state"] == "OUT_OF_MEMORY"
    assert state["runs"]["0"]["exit_code"] == "0:9"
    assert state["builds"]["p2"]["state"] == "UNKNOWN"  # last seen running: never seen to end


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
    assert sweep.report() == (
        "pending 2, running 1, done 2 (2 failed) of 5 runs; builds: p2 CANCELLED"
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
    (sweep.dir / "slurm-jobs.tsv").write_text("p1\t10\t11\t0\t3\t12\t2\np2\t20\t21\t5\t2\t-\t0\n")
    lines = [f"{i}\t{i:04d}-m-O3-t1-r1\tm\tO3\t1\t1\tbin\tckpt\t{{}}\n" for i in (0, 1, 2, 5, 6)]
    lines[3:3] = [
        f"{i}\tprofile/p1-m-{selector}\tm\t{selector}\t0\t0\t-\tckpt\t{{}}\n"
        for i, selector in [(3, "fastest"), (4, "slowest")]
    ]
    (sweep.dir / "manifest.tsv").write_text("".join(lines))
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
    (sweep.dir / "profiles" / "p1-m-fastest").mkdir(parents=True)
    (sweep.dir / "profiles" / "p1-m-fastest" / "profile.json").write_text("{}")
    sweep.squeue([job(13, "COMPLETED", 12, task=0), job(14, "COMPLETED", 12, task=1)])
    line = sweep.report()
    assert line.startswith("finished: ") and line.endswith("; profiles 1/2")


# --- recordings of every Slurm release (tests/data/slurm, see its README) ----------------

SLURM_DATA = PROJECT / "tests" / "data" / "slurm"
RECORDED_SWEEP = "p1\t100\t101\t0\t4\np2\t110\t111\t4\t2\n"


@pytest.mark.parametrize("version", ["23.02", "23.11", "24.05", "25.05", "25.11"])
def test_array_task_running_before_its_files_exist_counts_as_running(sweep, version):
    """The array's tasks have job ids of their own (23.02+: array_job_id is an object); task
    101_2 runs, but the login node cannot see its run directory yet."""
    sweep.jobs(RECORDED_SWEEP, 6)
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
    assert (
        "--me --states=all --jobs=100,101,110,111 --json" in call and "SLURM_BITSTR_LEN=0" in call
    )


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
    sweep.jobs(RECORDED_SWEEP, 6)
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
    assert len(sacct_calls) == 1 and "--jobs=100,101,110,111 " in sacct_calls[0]


def test_sacct_is_asked_only_about_jobs_not_yet_seen_final(sweep):
    sweep.jobs(RECORDED_SWEEP, 6)
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
CAPTURED_SWEEP = "p1\t19\t21\t0\t3\np2\t22\t20\t3\t4\n"


def test_slurm_22_05_capture(sweep):
    sweep.jobs(CAPTURED_SWEEP, 7)
    for index, status in enumerate([0, 1, 2]):
        sweep.status(index, status)
    sweep.record("squeue.json", SLURM_22_05 / "squeue-mid-bitstr0.json")
    assert sweep.report() == (
        "pending 4 (Dependency 4), running 0, done 3 (2 failed) of 7 runs; "
        "builds: p1 RUNNING, p2 RUNNING"
    )
    state = sweep.state()
    assert [state["runs"][str(i)]["exit_code"] for i in range(3)] == ["0:0", "1:0", "2:0"]
    assert [state["runs"][str(i)]["job_id"] for i in range(3)] == [25, 26, 21]
    for index in range(3, 7):
        sweep.status(index, 0)
    sweep.record("squeue.json", SLURM_22_05 / "squeue-final.json")
    assert sweep.report().startswith("finished: pending 0, running 0, done 7 (2 failed) of 7")
    state = sweep.state()
    assert state["builds"]["p2"] == {
        "job_id": 22, "array_job_id": None, "state": "TIMEOUT", "reason": "TimeLimit",
        "exit_code": "0:15", "node": "vm",
    }  # fmt: skip
    assert [state["runs"][str(i)]["job_id"] for i in range(3, 7)] == [28, 29, 30, 20]


def test_slurm_22_05_text_capture(sweep):
    """The same jobs through `squeue --format` (no JSON), every job final: sacct is never
    asked (this cluster has no accounting)."""
    sweep.jobs(CAPTURED_SWEEP, 7)
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


def test_array_task_string_is_asked_for_whole(sweep):
    """Slurm cuts array_task_string at 64 characters unless SLURM_BITSTR_LEN=0; both
    recorded on 22.05 for a held array of the primes below 200."""
    cut = json.loads((SLURM_22_05 / "squeue-mid.json").read_text())
    whole = json.loads((SLURM_22_05 / "squeue-mid-bitstr0.json").read_text())
    (cut_text,) = [j["array_task_string"] for j in cut["jobs"] if j["job_id"] == 27]
    (whole_text,) = [j["array_task_string"] for j in whole["jobs"] if j["job_id"] == 27]
    assert cut_text.endswith("...") and len(progress.task_ids(cut_text, 200)) < 46
    assert progress.task_ids(whole_text, 200)[-3:] == [191, 193, 197, 199][-3:]
    assert len(progress.task_ids(whole_text, 200)) == 46
    assert progress.QUERY_ENVIRONMENT["SLURM_BITSTR_LEN"] == "0"


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
