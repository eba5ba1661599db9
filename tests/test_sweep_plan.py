"""Unit tests of the sweep's plan (module_utils/sweep_plan.py): every task a record, counts and
Slurm array lists taken from the task list, tasks.tsv, and no run wasted on thread counts a
binary without OpenMP cannot use."""

import pytest
from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_plan as plan
from test_slurm_progress import make_sweep, progress

PARTITIONS = [
    {"name": "a", "cores": 4},
    {"name": "b", "cores": 2, "exclusive": False, "flag_sets": {"rv": "-O2 -fopenmp"}},
]


@pytest.fixture
def sweep():
    return make_sweep(
        PARTITIONS,
        flag_sets={"O3": "-O3", "omp": "-O3 -fopenmp"},
        warmup_runs=1,
        bandwidth_trials=3,
        profile_selectors=["fastest", "slowest"],
    )


def test_indexes_are_positions_and_kinds_follow_the_block_order(sweep):
    tasks = sweep["tasks"]
    assert [task["index"] for task in tasks] == list(range(len(tasks)))
    order = ["bandwidth", "warmup", "run", "profile"]
    for partition in sweep["partitions"]:
        block = [task for task in tasks if task["partition"] == partition["name"]]
        assert block[0]["index"] == partition["first_index"]
        kinds = [task["kind"] for task in block]
        assert kinds == sorted(kinds, key=order.index)
        # the counts are the block's own
        assert partition["task_counts"] == {kind: kinds.count(kind) for kind in order}
    # the blocks follow one another
    assert [task["partition"] for task in tasks] == sorted(
        (task["partition"] for task in tasks), key=["a", "b"].index
    )


def test_every_task_has_its_own_directory_named_by_kind(sweep):
    tasks = sweep["tasks"]
    assert len({task["dir"] for task in tasks}) == len(tasks)
    prefixes = {
        "bandwidth": "bandwidth/",
        "warmup": "warmup/",
        "run": "runs/",
        "profile": "profiles/",
    }
    assert all(task["dir"].startswith(prefixes[task["kind"]]) for task in tasks)
    run = next(task for task in tasks if task["kind"] == "run")
    assert run["dir"] == (
        f"runs/{run['index']:04d}-{run['model']}-{run['flag_set']}-t{run['threads']}-r1"
    )
    assert run["binary"] == f"/sweeps/sweep/bin/{run['partition']}/{run['flag_set']}/run"
    profile = next(task for task in tasks if task["kind"] == "profile")
    assert profile["threads"] is None and set(profile["binaries"]) == {"O3", "omp"}


def test_array_lists_hold_each_measured_task_once_and_profiles_apart(sweep):
    for partition in sweep["partitions"]:
        first = partition["first_index"]
        covered = sorted(
            first + task
            for array in partition["arrays"]
            for task in progress.array_ids(array["array"])
        )
        measured = [
            task["index"]
            for task in sweep["tasks"]
            if task["partition"] == partition["name"] and task["kind"] != "profile"
        ]
        assert covered == measured
        profiles = partition["profile_array"]
        assert profiles["first_index"] == first + len(measured)
        assert len(progress.array_ids(profiles["array"])) == partition["task_counts"]["profile"]
    # not exclusive: one array per thread count, each task in the array of its own
    b = sweep["partitions"][1]
    for array in b["arrays"]:
        threads = {
            sweep["tasks"][b["first_index"] + task]["threads"]
            for task in progress.array_ids(array["array"])
        }
        assert threads == {array["cpus_per_task"]}


@pytest.mark.parametrize(
    ("ids", "folded"),
    [
        ([0, 1, 2, 3], "0-3"),
        ([0, 3, 6, 9, 12, 15, 18, 22], "0-18:3,22"),
        ([5], "5"),
        ([1, 2, 4, 6, 8], "1-2,4-8:2"),
        ([], ""),
    ],
)
def test_array_list_folds_arithmetic_runs(ids, folded):
    assert plan.array_list(ids) == folded
    if ids:  # the progress report reads the list back
        assert progress.array_ids(folded) == set(ids)


def test_a_flag_set_without_openmp_runs_at_one_thread_only():
    sweep = make_sweep(
        [{"name": "p", "cores": 4, "threads": [1, 2, 4]}],
        flag_sets={"O3": "-O3", "simd": "-O3 -fopenmp-simd", "omp": "-O2 -fopenmp"},
        warmup_runs=1,
    )
    (partition,) = sweep["partitions"]
    assert partition["single_thread_flag_sets"] == ["O3", "simd"]
    assert partition["flag_set_threads"] == {"O3": [1], "simd": [1], "omp": [1, 2, 4]}
    threads = {}
    for task in sweep["tasks"]:
        threads.setdefault((task["kind"], task["flag_set"]), set()).add(task["threads"])
    assert threads[("run", "O3")] == threads[("warmup", "O3")] == {1}
    assert threads[("run", "omp")] == {1, 2, 4} and threads[("warmup", "omp")] == {4}
    assert [task["openmp"] for task in sweep["tasks"] if task["kind"] == "run"].count(
        True
    ) == 2 * 2 * 3
    # tasks.tsv, what the job script runs: O3 lines at 1 thread
    lines = [line.split("\t") for line in plan.tasks_tsv(sweep["tasks"]).splitlines()]
    assert {row[3] for row in lines if "/p/O3/" in row[4]} == {"1"}
    # -fopenmp among the sweep's LDFLAGS makes every flag set an OpenMP one
    (linked,) = make_sweep(
        [{"name": "p", "cores": 4, "threads": [1, 2, 4]}],
        flag_sets={"O3": "-O3"},
        ldflags="-lm -fopenmp",
    )["partitions"]
    assert linked["single_thread_flag_sets"] == [] and linked["flag_set_threads"]["O3"] == [1, 2, 4]


def test_tasks_tsv_has_one_line_a_task_with_a_dash_where_nothing_applies(sweep):
    lines = plan.tasks_tsv(sweep["tasks"]).splitlines()
    assert len(lines) == len(sweep["tasks"])
    fields = [line.split("\t") for line in lines]
    assert all(len(row) == len(plan.TSV_FIELDS) for row in fields)
    by_kind = {}
    for row in fields:
        by_kind.setdefault(row[1], row)  # the first line of each kind
    assert by_kind["profile"][3:5] == ["-", "-"]  # threads and binary: chosen when it runs
    assert by_kind["run"][6:] == ["-", "-", "-", "-", "-"]  # no emulator, perf's default set
    assert by_kind["bandwidth"][5] == "-" and by_kind["bandwidth"][8] == "large"
    bad = [{**sweep["tasks"][0], "label": "two\twords"}]
    with pytest.raises(plan.PlanError, match="label 'two\\\\tword"):
        plan.tasks_tsv(bad)


def test_a_resumed_sweep_submits_arrays_of_its_unfinished_tasks_alone(sweep):
    tasks = sweep["tasks"]
    a, b = sweep["partitions"]
    # two runs of b (other thread counts) and a profile of b; nothing of a
    runs_of_b = [t["index"] for t in tasks if t["partition"] == "b" and t["kind"] == "run"]
    missing = [runs_of_b[0], runs_of_b[-1], b["profile_array"]["first_index"] + 1]
    (resumed,) = plan.resume_partitions(sweep["partitions"], tasks, [str(i) for i in missing])
    assert resumed["name"] == "b" and resumed["first_index"] == b["first_index"]
    covered = sorted(
        array["first_index"] + task
        for array in [*resumed["arrays"], resumed["profile_array"]]
        for task in progress.array_ids(array["array"])
    )
    assert covered == sorted(missing)
    for array in resumed["arrays"]:  # not exclusive: each array at its tasks' thread count
        assert array["first_index"] == b["first_index"]
        assert {
            tasks[b["first_index"] + task]["threads"] for task in progress.array_ids(array["array"])
        } == {array["cpus_per_task"]}
    assert resumed["task_counts"]["run"] == 2 and resumed["task_counts"]["profile"] == 1
    assert plan.resume_partitions(sweep["partitions"], tasks, []) == []


def test_topup_appends_as_many_repetitions_again_of_each_configuration(sweep):
    tasks = sweep["tasks"]
    noisy = [
        {"partition": "a", "model": "stories15M", "flag_set": "omp", "threads": 4},
        {"partition": "b", "model": "stories110M", "flag_set": "O3", "threads": 1},
    ]
    topped = plan.topup_plan(sweep, noisy)
    assert topped["tasks"][: len(tasks)] == tasks
    assert topped["partitions"] == sweep["partitions"]
    added = topped["tasks"][len(tasks) :]
    assert [task["index"] for task in added] == list(range(len(tasks), len(tasks) + 4))
    # the extra repetitions outermost, as in a sweep; each a copy of its configuration's runs
    assert [(task["partition"], task["repetition"]) for task in added] == [
        ("a", 3), ("b", 3), ("a", 4), ("b", 4),
    ]  # fmt: skip
    for task in added:
        (same,) = {
            (t["binary"], t["checkpoint"], t["cflags"])
            for t in tasks
            if t["kind"] == "run" and all(t[key] == task[key] for key in noisy[0])
        }
        assert (task["binary"], task["checkpoint"], task["cflags"]) == same
        assert task["dir"].startswith(f"runs/{task['index']:04d}-")
    assert len({task["dir"] for task in topped["tasks"]}) == len(topped["tasks"])
    plan.tasks_tsv(topped["tasks"])  # every field still a safe word

    with pytest.raises(plan.PlanError, match="no run of the plan"):
        plan.topup_plan(sweep, [{**noisy[0], "threads": 3}])


EMULATED = {
    "name": "riscv64-qemu",
    "cores": 2,
    "compiler": "riscv64-linux-gnu-gcc",
    "emulator": {"cpu": "rv64,v=true,vlen=128", "sysroot": "/usr/riscv64-linux-gnu"},
}


def test_an_emulated_partition_runs_under_its_emulator_without_perf_or_calibration():
    local, emulated = make_sweep(
        [{"name": "local", "cores": 2}, EMULATED],
        flag_sets={"rv64gc": "-O3 -march=rv64gc -fopenmp"},
        warmup_runs=1,
        bandwidth_trials=3,
        profile_selectors=["fastest"],
    )["partitions"]
    assert (local["emulated"], local["emulator"]) == (False, [])
    assert emulated["emulated"] and emulated["emulator"] == [
        "qemu-riscv64", "-L", "/usr/riscv64-linux-gnu", "-cpu", "rv64,v=true,vlen=128"
    ]  # fmt: skip
    # qemu's runs prove that a flag set runs, never how fast: runs only
    assert emulated["task_counts"] == {"bandwidth": 0, "warmup": 0, "run": 2 * 2 * 2, "profile": 0}
    assert local["task_counts"]["profile"] == 2 and local["task_counts"]["bandwidth"] > 0
    sweep = make_sweep([{"name": "local", "cores": 2}, EMULATED], flag_sets={"O3": "-O3"})
    runs = [task for task in sweep["tasks"] if task["kind"] == "run"]
    assert {task["partition"] for task in runs if task["emulated"]} == {"riscv64-qemu"}
    rows = [line.split("\t") for line in plan.tasks_tsv(sweep["tasks"]).splitlines()]
    emulator_column = plan.TSV_FIELDS.index("emulator")
    assert {row[emulator_column] for row in rows if "/riscv64-qemu/" in row[4]} == {
        "qemu-riscv64 -L /usr/riscv64-linux-gnu -cpu rv64,v=true,vlen=128"
    }
    assert {row[emulator_column] for row in rows if "/local/" in row[4]} == {"-"}


@pytest.mark.parametrize(
    ("emulator", "message"),
    [
        ("qemu-riscv64", "emulator 'qemu-riscv64' is not a mapping"),
        ({"sysroot": "/usr/riscv64-linux-gnu"}, "emulator has no cpu"),
        ({"cpu": "rv64", "sysroot": "usr/riscv64"}, "sysroot 'usr/riscv64' is not an absolute"),
        ({"cpu": "rv64 v=true", "sysroot": "/s"}, "emulator cpu 'rv64 v=true' is not one word"),
        ({"cpu": "rv64", "sysroot": "/s", "vlen": 128}, "unknown keys ['vlen']"),
    ],
)
def test_a_bad_emulator_is_named_with_what_is_valid(emulator, message):
    errors = plan.partition_errors([{**EMULATED, "emulator": emulator}])
    assert any(message in error for error in errors), errors
    assert all(error.startswith("partition 'riscv64-qemu': ") for error in errors)


def test_each_task_carries_its_partition_s_perf_events_even_when_appended():
    sweep = make_sweep(
        [{"name": "a", "cores": 2, "perf_events": "task-clock"}, {"name": "b", "cores": 2}],
        flag_sets={"omp": "-O3 -fopenmp"},
    )
    noisy = [{"partition": "a", "model": "stories15M", "flag_set": "omp", "threads": 2}]
    topped = plan.topup_plan(sweep, noisy)
    appended = topped["tasks"][-1]
    assert (appended["partition"], appended["perf_events"]) == ("a", "task-clock")
    column = plan.TSV_FIELDS.index("perf_events")
    rows = [line.split("\t") for line in plan.tasks_tsv(topped["tasks"]).splitlines()]
    by_partition = {}
    for task, row in zip(topped["tasks"], rows, strict=True):
        by_partition.setdefault(task["partition"], set()).add(row[column])
    assert by_partition == {"a": {"task-clock"}, "b": {"-"}}
