"""Unit tests of the sweep's plan (module_utils/sweep_plan.py): every task a record, counts and
Slurm array lists taken from the task list, tasks.tsv, no run wasted on thread counts a
binary without OpenMP cannot use, and the partition plan (time limits, defaults, validation)."""

import json
import math
import re

import pytest
from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_inputs as inputs
from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_plan as plan
from builders import make_plan, make_sweep
from test_slurm_progress import progress

from collect.datafiles import NotRead
from collect.plan import (
    KIND_BANDWIDTH,
    KIND_CHECK,
    KIND_PROFILE,
    KIND_RUN,
    KIND_WARMUP,
    read_plan,
)

pytestmark = pytest.mark.unit

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
    order = ["bandwidth", "warmup", "check", "run", "profile"]
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
        "check": "checks/",
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
    # no emulator, perf's default set, the sweep's steps and temperature
    assert by_kind["run"][6:] == ["-", "-", "-", "-", "-", "256", "-"]
    assert by_kind["check"][3] == "1" and by_kind["check"][-2:] == ["32", "0"]  # greedy, short
    assert by_kind["bandwidth"][5] == "-" and by_kind["bandwidth"][8] == "large"
    bad = [{**sweep["tasks"][0], "label": "two\twords"}]
    with pytest.raises(plan.PlanError, match="label 'two\\\\tword"):
        plan.tasks_tsv(bad)


def planned(sweep) -> dict[str, str]:
    return {file["path"]: file["content"] for file in plan.plan_files(sweep)}


def test_the_plan_files_are_what_resume_finds_as_planned(sweep):
    files = planned(sweep)
    assert list(files) == ["tasks.tsv", "plan.json", plan.DIGEST_FILE]
    assert files["tasks.tsv"] == plan.tasks_tsv(sweep["tasks"])
    assert json.loads(files["plan.json"]) == sweep
    assert plan.resume_problems("/s", files) == []
    del files[plan.DIGEST_FILE]  # a sweep planned before the digests were written
    assert plan.resume_problems("/s", files) == []


def test_resume_refuses_tasks_or_a_plan_that_are_not_as_planned(sweep):
    files = planned(sweep)
    lines = files["tasks.tsv"].splitlines(keepends=True)
    run = next(number for number, line in enumerate(lines) if "\trun\t" in line)
    # Another flag set's binary for this row (an O2 binary for an O3 row): what the job
    # script runs is not what plan.json says.
    binary = lines[run].split("\t")[4]
    other = next(task["binary"] for task in sweep["tasks"] if task.get("binary", binary) != binary)
    edited = lines[run].replace(binary, other)
    for tasks, problem in (
        ("".join([*lines[:run], edited, *lines[run + 1 :]]), f"from line {run + 1}"),
        ("".join(lines[:run]), f"from line {run + 1} (it has {run} tasks"),
    ):
        problems = plan.resume_problems("/s", {**files, "tasks.tsv": tasks})
        assert problems == [
            "/s/tasks.tsv is not the one planned (its sha256 is not the one plan.sha256 recorded)",
            f"/s/tasks.tsv does not match plan.json {problem}"
            + ("" if "tasks" in problem else f" (it has {len(lines)} tasks")
            + f", the plan {len(lines)})",
        ]
        del_digest = {**files, "tasks.tsv": tasks, plan.DIGEST_FILE: None}
        assert plan.resume_problems("/s", del_digest) == problems[1:]
    # A plan edited along with its tasks: only the digests tell.
    sweep["tasks"][run]["binary"] = other
    edited_both = {**planned(sweep), plan.DIGEST_FILE: files[plan.DIGEST_FILE]}
    assert [problem.split(" is not")[0] for problem in plan.resume_problems("/s", edited_both)] == [
        "/s/tasks.tsv",
        "/s/plan.json",
    ]


def test_a_plan_cut_short_is_named(sweep):
    files = planned(sweep)
    cut = {**files, "plan.json": files["plan.json"][:100]}
    (problem,) = plan.resume_problems("/s", cut)
    assert problem.startswith("/s/plan.json is not the sweep's plan (cut short?): ")


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
    # the extra repetitions in rounds, as in a sweep; each a copy of its configuration's runs
    assert [task["repetition"] for task in added] == [3, 3, 4, 4]
    assert {task["partition"] for task in added[:2]} == {task["partition"] for task in added[2:]}
    assert plan.topup_plan(sweep, noisy) == topped  # its order is the plan's seed's
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
    # qemu's runs prove that a flag set runs (and its check run what it computes), never how
    # fast: runs and check runs only
    assert emulated["task_counts"] == {
        "bandwidth": 0, "warmup": 0, "check": 2, "run": 2 * 2 * 2, "profile": 0
    }  # fmt: skip
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
    errors = inputs.partition_errors([{**EMULATED, "emulator": emulator}])
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


def run_tasks(sweep, partition):
    return [t for t in sweep["tasks"] if t["kind"] == "run" and t["partition"] == partition]


def configuration(task):
    return (task["model"], task["flag_set"], task["threads"])


def test_each_round_runs_every_configuration_in_an_order_shuffled_by_the_recorded_seed():
    partitions = [{"name": "a", "cores": 4}, {"name": "b", "cores": 2}]
    flag_sets = {"O3": "-O3", "omp": "-O3 -fopenmp", "fast": "-Ofast -fopenmp"}
    sweep = make_sweep(partitions, repetitions=3, flag_sets=flag_sets, order_seed=7)
    assert sweep["order_seed"] == 7
    declared = [
        (model, flag_set, threads)
        for model in ("stories15M", "stories110M")
        for flag_set, threads_of in (("O3", [1]), ("omp", [1, 2, 4]), ("fast", [1, 2, 4]))
        for threads in threads_of
    ]
    orders = []
    for name in ("a", "b"):
        runs = run_tasks(sweep, name)
        # rounds one after another, each holding every configuration once
        assert [t["repetition"] for t in runs] == sorted(t["repetition"] for t in runs)
        for repetition in (1, 2, 3):
            round_order = [configuration(t) for t in runs if t["repetition"] == repetition]
            orders.append(round_order)
            if name == "a":
                assert sorted(round_order) == sorted(declared)
        # declared_order: the configuration's place as listed, the same in every round
        by_configuration = {}
        for task in runs:
            by_configuration.setdefault(configuration(task), set()).add(task["declared_order"])
        assert all(len(orders_of) == 1 for orders_of in by_configuration.values())
        if name == "a":
            assert sorted(by_configuration, key=lambda key: min(by_configuration[key])) == declared
    # shuffled: no two rounds (of either partition) in the same order, none as declared
    assert len({tuple(order) for order in orders}) == len(orders)
    assert declared not in orders
    # a's configurations are declared before b's
    assert max(t["declared_order"] for t in run_tasks(sweep, "a")) < min(
        t["declared_order"] for t in run_tasks(sweep, "b")
    )
    # the same seed gives the same plan, another seed another order of the same runs
    assert make_sweep(partitions, repetitions=3, flag_sets=flag_sets, order_seed=7) == sweep
    other = make_sweep(partitions, repetitions=3, flag_sets=flag_sets, order_seed=8)
    assert [configuration(t) for t in other["tasks"] if t["kind"] == "run"] != [
        configuration(t) for t in sweep["tasks"] if t["kind"] == "run"
    ]
    assert sorted(map(configuration, run_tasks(other, "a"))) == sorted(
        map(configuration, run_tasks(sweep, "a"))
    )


def test_without_a_seed_a_fresh_one_is_drawn_and_recorded_so_the_order_can_be_repeated():
    partitions = [{"name": "a", "cores": 4}]
    sweep = make_sweep(partitions, order_seed=None)
    seed = sweep["order_seed"]
    assert isinstance(seed, int) and 0 <= seed < plan.ORDER_SEED_LIMIT
    assert make_sweep(partitions, order_seed=seed) == sweep
    assert make_sweep(partitions, order_seed=str(seed)) == sweep  # -e gives a string


@pytest.mark.parametrize("seed", [-1, "x", 1.5, True, "1e3"])
def test_a_bad_order_seed_is_named_with_what_is_valid(seed):
    message = f"sweep_order_seed {json.dumps(seed)} is not valid: give a"
    with pytest.raises(plan.PlanError, match=re.escape(message)):
        make_sweep([{"name": "a", "cores": 2}], order_seed=seed)


def test_warmups_bandwidth_and_profiles_keep_their_places_around_the_shuffled_runs(sweep):
    for partition in sweep["partitions"]:
        block = [t for t in sweep["tasks"] if t["partition"] == partition["name"]]
        warmups = [(t["model"], t["flag_set"]) for t in block if t["kind"] == "warmup"]
        declared = [
            (model, flag_set) for model in ("stories15M", "stories110M")
            for flag_set in partition["flag_sets"]
        ]  # fmt: skip
        assert warmups == declared  # not measured: in the declared order, before every run
        kinds = [t["kind"] for t in block]
        assert kinds.index("run") > max(
            i for i, kind in enumerate(kinds) if kind != "run" and kind != "profile"
        )
        assert (
            kinds[-partition["task_counts"]["profile"] :]
            == ["profile"] * partition["task_counts"]["profile"]
        )


def test_slurm_arrays_start_their_tasks_in_the_run_order_round_by_round(sweep):
    tasks = sweep["tasks"]
    for partition in sweep["partitions"]:
        first = partition["first_index"]
        for array in partition["arrays"]:
            # Slurm starts an array's tasks in ascending task id: the plan's index order
            ids = sorted(progress.array_ids(array["array"]))
            repetitions = [
                tasks[first + i]["repetition"] for i in ids if tasks[first + i]["kind"] == "run"
            ]
            assert repetitions == sorted(repetitions) and repetitions


# --- the partition plan (time limits, defaults, validation) ---------------------------------


def counted(partition):
    """(first_index, bandwidth, warmup, check, run, profile tasks) of a partition of a sweep
    plan."""
    return (partition["first_index"], *partition["task_counts"].values())


def test_plan_merges_flag_sets_numbers_runs_and_fills_defaults():
    nodes, milkvs = make_sweep(
        [
            {"name": "mcimone-nodes", "cores": 4, "flag_sets": {"rv64gc": "-O3 -march=rv64gc"}},
            {"name": "mcimone-milkvs", "threads": [1, 64], "sbatch_options": ["--qos=x"]},
        ],
        node_cores={"mcimone-milkvs": "64"},
    )["partitions"]
    assert list(nodes["flag_sets"]) == ["O3", "O3-openmp", "rv64gc"]
    assert nodes["threads"] == [1, 2, 4] and milkvs["threads"] == [1, 64]
    assert milkvs["cores"] == 64 and milkvs["sbatch_options"] == ["--qos=x"]
    # a check run per model and flag set; 2 repetitions x 2 models x (O3 and rv64gc at 1
    # thread, O3-openmp at each thread count)
    assert counted(nodes) == (0, 0, 0, 2 * 3, 2 * 2 * (1 + 3 + 1), 0)
    assert counted(milkvs) == (26, 0, 0, 2 * 2, 2 * 2 * (1 + 2), 0)
    assert nodes["exclusive"] is True and nodes["array_throttle"] == 0


@pytest.mark.parametrize(
    ("cores", "threads"),
    [(1, [1]), (2, [1, 2]), (4, [1, 2, 4]), (6, [1, 2, 4, 6]), (64, [1, 2, 4, 8, 16, 32, 64])],
)
def test_default_threads_double_up_to_the_cores(cores, threads):
    (partition,) = make_plan([{"name": "p", "cores": cores}])
    assert partition["threads"] == threads


def test_bandwidth_measurements_and_warmups_come_first_in_each_block():
    sweep = make_sweep(
        [{"name": "a", "cores": 2}, {"name": "b", "cores": 4, "threads": [4]}],
        bandwidth_trials=3,
        warmup_runs=1,
    )
    first, second = sweep["partitions"]
    # a: 2 thread counts x 3 labels (large and 2 models), 2 models x 2 flag sets warm-ups,
    # 2 repetitions x 2 models x (O3 at 1 thread, O3-openmp at 2)
    assert counted(first) == (0, 6, 4, 4, 2 * 2 * 3, 0)
    assert counted(second) == (26, 3, 4, 4, 2 * 2 * 2, 0)
    kinds = [task["kind"] for task in sweep["tasks"]]
    assert kinds == 2 * ["bandwidth"] * 3 + ["warmup"] * 4 + ["check"] * 4 + ["run"] * 12 + (
        ["bandwidth"] * 3 + ["warmup"] * 4 + ["check"] * 4 + ["run"] * 8
    )


def test_profiling_runs_end_each_block_one_per_model_and_selector():
    sweep = make_sweep(
        [
            {"name": "a", "cores": 2, "perf_events": "task-clock"},
            {"name": "b", "cores": 4, "threads": [4], "flag_sets": {"rv": "-O2"}},
        ],
        profile_selectors=["fastest", "slowest", "rv"],
        perf_events="cycles",
    )
    first, second = sweep["partitions"]
    # "rv" is a flag set of b only: a profiles fastest and slowest, b all three.
    assert first["profile_selectors"] == ["fastest", "slowest"]
    assert second["profile_selectors"] == ["fastest", "slowest", "rv"]
    assert counted(first) == (0, 0, 0, 4, 12, 2 * 2)
    assert counted(second)[0] == 4 + 12 + 4  # after a's check runs, runs and profiling runs
    assert counted(second)[5] == 2 * 3
    assert [task["kind"] for task in sweep["tasks"][16:20]] == ["profile"] * 4
    assert first["profile_array"] == {"cpus_per_task": 2, "first_index": 16, "array": "0-3"}
    assert (first["perf_events"], second["perf_events"]) == ("task-clock", "cycles")
    # A profiling run selects from finished runs and then runs perf script: twice the limit.
    assert int(first["profile_time_limit"]) == 2 * int(first["time_limit"])
    (fixed,) = make_plan(
        [{"name": "p", "cores": 1, "time_limit": "45"}], profile_selectors=["fastest"]
    )
    assert fixed["profile_time_limit"] == "45"


def test_one_flag_set_is_profiled_once_and_no_selectors_means_no_profiles():
    (single,) = make_sweep(
        [{"name": "p", "cores": 1}],
        flag_sets={"O3": "-O3"},
        profile_selectors=["fastest", "slowest"],
    )["partitions"]
    assert single["profile_selectors"] == ["fastest"] and counted(single)[5] == 2
    (off,) = make_sweep([{"name": "p", "cores": 1}])["partitions"]
    assert (off["profile_selectors"], counted(off)[5], off["profile_array"]) == ([], 0, None)


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
    errors = inputs.profile_selector_errors(
        selectors, {"O3": "-O3"}, [{"name": "p", "flag_sets": {"rv": ""}}]
    )
    assert any(named in error for error in errors), errors
    assert not inputs.profile_selector_errors(
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
    errors = inputs.partition_errors(partitions)
    assert any(named in error for error in errors), errors


def test_valid_partitions_have_no_errors():
    assert not inputs.partition_errors(
        [
            {"name": "mcimone-nodes", "cores": 4, "time_limit": "30", "threads": [1, 4]},
            {"name": "mcimone-milkvs", "sbatch_options": ["--account=a"], "exclusive": False},
        ]
    )


# --- the contract between the plan's writer and the collector's reader -----------------------


def test_every_task_the_plan_writes_the_collector_reads_back_whole(tmp_path):
    # sweep_plan.py writes plan.json; collect/plan.py reads it as data, skipping any record
    # that is not what a sweep writes. Every kind of task, on a real and an emulated
    # partition, must come back unskipped and unchanged.
    document = make_sweep(
        [{"name": "nodes", "cores": 4}, EMULATED],
        flag_sets={"O3": "-O3", "omp": "-O3 -fopenmp"},
        warmup_runs=1,
        bandwidth_trials=2,
        profile_selectors=["fastest", "slowest"],
    )
    results = tmp_path / document["sweep_id"]
    results.mkdir()
    (results / "plan.json").write_text(json.dumps(document))
    not_read = NotRead()
    read = read_plan(results, not_read)
    assert not_read.listed() == {}
    assert read.tasks == document["tasks"]
    assert [partition["name"] for partition in read.partitions] == ["nodes", EMULATED["name"]]
    kinds = {task["kind"] for task in read.tasks}
    assert kinds == {KIND_BANDWIDTH, KIND_WARMUP, KIND_CHECK, KIND_RUN, KIND_PROFILE}


def test_each_build_is_named_once_with_its_frame_pointer_twin_where_fp_profiles():
    # build.sh compiles plan.json's builds; the profiling tasks name the same binaries.
    fp = make_sweep(
        [{"name": "a", "cores": 2}, EMULATED],
        flag_sets={"O3": "-O3", "omp": "-O3 -fopenmp"},
        profile_selectors=["fastest"],
        profile_call_graph="fp",
    )
    nodes, emulated = fp["partitions"]
    assert nodes["builds"] == [
        {"name": "O3", "flags": ["-O3"]},
        {"name": "O3+fp", "flags": ["-O3", "-fno-omit-frame-pointer"]},
        {"name": "omp", "flags": ["-O3", "-fopenmp"]},
        {"name": "omp+fp", "flags": ["-O3", "-fopenmp", "-fno-omit-frame-pointer"]},
    ]
    profiles = [task for task in fp["tasks"] if task["kind"] == "profile"]
    built = {build["name"] for build in nodes["builds"]}
    named = {binary.split("/")[-2] for task in profiles for binary in task["binaries"].values()}
    assert profiles and named == {"O3+fp", "omp+fp"} <= built
    # no profiles under qemu, so no frame-pointer builds there; dwarf needs none anywhere
    assert [build["name"] for build in emulated["builds"]] == ["O3", "omp"]
    (dwarf, _) = make_sweep([{"name": "a", "cores": 2}, EMULATED], profile_selectors=["fastest"])[
        "partitions"
    ]
    assert [build["name"] for build in dwarf["builds"]] == ["O3", "O3-openmp"]


def test_the_announcement_multiplies_out_each_partition_s_runs():
    sweep = make_sweep(
        [{"name": "nodes", "cores": 2}],
        flag_sets={"O3": "-O3", "O3-openmp": "-O3 -fopenmp"},
        models=["stories15M"],
    )
    text = plan.announcement(sweep, ["stories15M"], 2, time_limits=False)
    runs = sum(task["kind"] == "run" for task in sweep["tasks"])
    assert text.startswith(f"Sweep {sweep['sweep_id']}: {runs} runs. nodes: 1 models x 2 ")
    assert "(O3: 1; O3-openmp: 1, 2) = 6 runs" in text
    assert text.endswith("O3: no OpenMP, run at 1 thread only.")
    assert "time limit" not in text
