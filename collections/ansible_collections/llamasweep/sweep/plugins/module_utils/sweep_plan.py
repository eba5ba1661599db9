"""The sweep's plan, the one place that decides what a sweep runs (stdlib only: imported by
the filter plugins, the collector and the nodes' tools).

partition_plan resolves the sweep's partitions (inventory data, checked by
sweep_inputs.partition_errors): each is a mapping with a name and optionally cores, compiler,
flag_sets (merged over the sweep's), threads, time_limit, sbatch_options, exclusive,
array_throttle, seconds_per_gb_token, perf_events, emulator (an emulated partition: its runs
execute under qemu-user), arch (the nodes' `uname -m`: riscv64 partitions are validated before
queueing) and requires_compiler_support (flag sets kept only where the partition's compiler
accepts their -march; riscv_checks.py).
It fills in every default, derives each partition's Slurm time limit from the models' sizes
(derive_time_limit), its array throttle from its node count (derive_array_throttle) and each
flag set's thread counts (one thread without OpenMP: is_openmp). sweep_plan then lists every
task of the sweep as a record (plan.json: bandwidth measurements, warm-up runs, runs,
profiling runs) and each partition's job arrays; tasks_tsv is the text of tasks.tsv, which
the job script reads. Counts, offsets and array lists are lengths and contents of the task
list, never computed beside it.

The run order is decided here and nowhere else: a task's index is its place in the order
(run-local.sh runs the indices in turn, a Slurm array its task ids in ascending order).
Repetition rounds run one after another; within a round the partition's configurations run
in an order shuffled by the sweep's order seed (run_order), so that drift over time
(thermal, other load) spreads over every configuration instead of biasing some.
"""

import base64
import hashlib
import itertools
import json
import math
import random
import secrets
from dataclasses import dataclass

from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_inputs import (
    input_error,
    partition_errors,
    positive,
    thread_list,
)
from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_rules import RANKED_SELECTORS


class PlanError(ValueError):
    """A sweep definition the plan cannot resolve (the message says what and why)."""


# An emulated partition (a partition with `emulator`): its flag sets are cross-compiled by
# the partition's compiler and its runs execute under qemu-user, which proves that a flag
# set compiles, runs and generates tokens, never how fast: no perf, no bandwidth, no
# warm-up, no profile, and the collector keeps its rows out of every performance table.
EMULATOR_COMMAND = "qemu-riscv64"

# Compiler switches that link an OpenMP runtime (GCC/clang, Intel's two).
OPENMP_FLAGS = frozenset(("-fopenmp", "-qopenmp", "-fiopenmp"))
TASK_KINDS = ("bandwidth", "warmup", "check", "run", "profile")
# A check run's most steps: at temperature 0 (greedy) its text is the build's answer, which
# the collector compares with the reference build's (collect/checks.py); a few dozen tokens
# show a broken build or a changed rounding without adding much to the sweep.
CHECK_STEPS = 32
# The columns of tasks.tsv (run-task.sh.j2 reads them in this order).
TSV_FIELDS = (
    "index",
    "kind",
    "dir",
    "threads",
    "binary",
    "checkpoint",
    "working_set_bytes",
    "trials",
    "label",
    "emulator",
    "perf_events",
    "steps",
    "temperature",  # a check run's own (0); "-": the sweep's sweep_temperature
)


def emulator_words(emulator):
    """The words put before an emulated partition's run command ([] for a real one)."""
    if not emulator:
        return []
    return [
        emulator.get("command", EMULATOR_COMMAND),
        "-L",
        emulator["sysroot"],
        "-cpu",
        emulator["cpu"],
    ]


def default_threads(cores):
    """1, 2, 4, ... up to cores, and cores itself when it is not a power of two."""
    counts = []
    count = 1
    while count < cores:
        counts.append(count)
        count *= 2
    return [*counts, cores]


def derive_array_throttle(nodes, node_share):
    """The default %N of a partition's arrays: at most node_share of its nodes at once (an
    exclusive task holds a whole node), at least 1, so that one student's sweep leaves the
    rest of a shared partition to the others. 0 (no limit) when the node count is unknown."""
    if not nodes:
        return 0
    return max(1, math.floor(int(nodes) * float(node_share)))


def array_cpus(partition, threads):
    """--cpus-per-task of a job array whose tasks run at these thread counts. Exclusive: the
    node's cores (the task has the node anyway). Not exclusive: the largest thread count (an
    array of runs holds one thread count; profiling runs pick theirs when they run)."""
    return partition["cores"] if partition["exclusive"] else max(threads)


def is_openmp(cflags, ldflags=""):
    """Whether a binary built with these flags runs OpenMP threads: an OpenMP switch among
    the words of its CFLAGS or of the sweep's LDFLAGS (-fopenmp-simd is no runtime)."""
    return any(
        word in OPENMP_FLAGS or word.startswith("-fopenmp=")
        for word in f"{cflags} {ldflags}".split()
    )


def run_positions(steps, entry):
    """The positions run.c goes through for -n steps on a catalog model: steps capped at the
    model's seq_len (run.c caps it), fewer only when it samples BOS and stops early."""
    return min(int(steps), int(entry.get("config", {}).get("seq_len", steps)))


def derive_time_limit(
    models,
    catalog,
    steps,
    seconds_per_gb_token,
    safety,
    startup_seconds,
    floor_seconds,
):
    """(minutes, estimates): the time limit of an array of runs of these models.

    A run reads every weight once per token, so its time grows with the checkpoint's size:
    seconds = startup + safety * tokens * size_in_GB * seconds_per_gb_token, where tokens
    is steps capped at the model's seq_len (run.c caps it too). Each model gets its own
    estimate; an array shares one --time, so the array gets the largest, never below the
    floor, rounded up to whole minutes.
    """
    estimates = {}
    for model in models:
        entry = catalog[model]
        tokens = run_positions(steps, entry)
        gigabytes = int(entry["size"]) / 1e9
        seconds = startup_seconds + safety * tokens * gigabytes * seconds_per_gb_token
        estimates[model] = math.ceil(seconds)
    longest = max([floor_seconds, *estimates.values()])
    return math.ceil(longest / 60), estimates


def partition_plan(
    partitions,
    flag_sets,
    models,
    catalog,
    steps,
    threads=(),
    compiler="gcc",
    ldflags="",
    node_cores=None,
    node_counts=None,
    node_share=0.5,
    exclusive=True,
    array_throttle=0,
    seconds_per_gb_token=2.0,
    time_safety=2.0,
    startup_seconds=60,
    time_floor=300,
    perf_events="",
    profile_selectors=(),
    dropped_flag_sets=None,
):
    """The partitions with every default filled in; see the module docstring. What each
    partition runs, and how many, is sweep_plan's (from its task list).

    flag_set_threads gives each flag set its thread counts: the partition's, or [1] for a
    flag set built without OpenMP (single_thread_flag_sets), whose threads would only
    repeat its one-thread run. array_throttle (a partition's own, else the sweep's) caps
    each array at that many tasks at once; 0 derives it from the partition's node count
    (node_counts, from sinfo) and node_share. dropped_flag_sets ({partition: {flag_set:
    reason}}, riscv_checks.py) leaves those flag sets out of their partition, recorded with
    their reasons; a partition left with none is an error."""
    node_cores = node_cores or {}
    dropped_flag_sets = dropped_flag_sets or {}
    node_counts = node_counts or {}
    problems = partition_errors(partitions)
    if problems:
        raise PlanError("; ".join(problems))
    plan = []
    for partition in partitions:
        name = partition["name"]
        cores = partition.get("cores") or str(node_cores.get(name, "")).rstrip("+")
        if not positive(cores):
            raise PlanError(
                f"partition {name}: cores per node unknown (give `cores` in the inventory; "
                f"the scheduler reported {node_cores.get(name)!r})"
            )
        cores = int(cores)
        dropped = dropped_flag_sets.get(name) or {}
        merged_flag_sets = {
            flag_set: cflags
            for flag_set, cflags in {**flag_sets, **(partition.get("flag_sets") or {})}.items()
            if flag_set not in dropped
        }
        if not merged_flag_sets:
            raise PlanError(
                f"partition {name} has no flag set left to submit: {'; '.join(dropped.values())}"
            )
        thread_counts = [int(t) for t in thread_list(threads)] or [
            int(t) for t in partition.get("threads") or default_threads(cores)
        ]
        flag_set_threads = {
            flag_set: thread_counts if is_openmp(cflags, ldflags) else [1]
            for flag_set, cflags in merged_flag_sets.items()
        }
        minutes, estimates = derive_time_limit(
            models,
            catalog,
            steps,
            float(partition.get("seconds_per_gb_token", seconds_per_gb_token)),
            float(time_safety),
            float(startup_seconds),
            float(time_floor),
        )
        time_limit = partition.get("time_limit")
        emulator = emulator_words(partition.get("emulator"))
        throttle = int(partition.get("array_throttle") or array_throttle or 0)
        nodes = node_counts.get(name)
        resolved = {
            "name": name,
            "cores": cores,
            "threads": thread_counts,
            "exclusive": bool(partition.get("exclusive", exclusive)),
        }
        plan.append(
            {
                **resolved,
                "compiler": partition.get("compiler") or compiler,
                "flag_sets": merged_flag_sets,
                "dropped_flag_sets": dict(dropped),
                "flag_set_threads": flag_set_threads,
                "single_thread_flag_sets": [
                    flag_set
                    for flag_set, cflags in merged_flag_sets.items()
                    if not is_openmp(cflags, ldflags)
                ],
                "sbatch_options": [str(o) for o in partition.get("sbatch_options") or []],
                "nodes": nodes,
                "array_throttle": throttle or derive_array_throttle(nodes, node_share),
                "array_throttle_source": "given" if throttle else "derived",
                "time_limit": str(time_limit) if time_limit else str(minutes),
                "time_limit_source": "inventory" if time_limit else "derived",
                # perf record of a run, then perf script on the node: twice a run's limit.
                "profile_time_limit": str(time_limit) if time_limit else str(2 * minutes),
                "perf_events": str(partition.get("perf_events", perf_events) or ""),
                "time_estimates_s": estimates,
                "emulated": bool(emulator),
                "emulator": emulator,
                # perf record does not work under qemu-user
                "profile_selectors": []
                if emulator
                else partition_selectors(profile_selectors, merged_flag_sets),
            }
        )
    return plan


def partition_selectors(selectors, flag_sets):
    """The profile selectors of a partition, without those that must pick a flag set already
    picked: with one flag set, fastest, slowest and its name are the same configuration."""
    chosen = []
    for selector in selectors:
        if selector in chosen or (len(flag_sets) == 1 and chosen):
            continue
        if selector in RANKED_SELECTORS or selector in flag_sets:
            chosen.append(selector)
    return chosen


@dataclass(frozen=True)
class SweepSettings:
    """What every partition's block of tasks is made from (sweep_plan's arguments)."""

    sweep_dir: str
    models: list
    catalog: dict
    checkpoints: dict  # {model: {"path", "sha256"}} as provisioned
    steps: int
    repetitions: int
    llama2c_commit: str
    warmup_runs: int
    bandwidth_trials: int
    bandwidth_large_bytes: int
    profile_call_graph: str
    order_seed: int


# A fresh order seed is drawn below this (it fits any JSON reader's integers).
ORDER_SEED_LIMIT = 2**32


def order_seed_value(order_seed):
    """The sweep's order seed: order_seed as an int (a non-negative integer, or its digits),
    or a fresh random one when it is None or empty (sweep_order_seed unset)."""
    if order_seed is None or order_seed == "":
        return secrets.randbelow(ORDER_SEED_LIMIT)
    problem = input_error("sweep_order_seed", order_seed)
    if problem:
        raise PlanError(problem)
    return int(order_seed)


def run_order(configurations, order_seed, *round_key):
    """configurations (a list) in the order one round runs them: shuffled by a generator
    seeded from the order seed and the round's key (partition and repetition), so that the
    same seed gives the same order, whatever else the sweep holds, and each round its own."""
    shuffled = list(configurations)
    random.Random(":".join(map(str, (order_seed, *round_key)))).shuffle(shuffled)
    return shuffled


def sweep_plan(
    partitions,
    sweep_id,
    sweep_dir,
    models,
    catalog,
    checkpoints,
    steps,
    repetitions,
    llama2c_commit,
    warmup_runs=0,
    bandwidth_trials=0,
    bandwidth_large_bytes=0,
    profile_call_graph="dwarf",
    order_seed=None,
):
    """plan.json: {"sweep_id", "order_seed", "tsv_fields" (tasks.tsv's columns, which
    run-task.sh reads), "partitions", "tasks"}, see
    docs/results-layout.md.

    partitions: partition_plan's. checkpoints: {model: {"path", "sha256"}} as provisioned.
    order_seed: the seed of the run order (order_seed_value: None draws a fresh one, which
    plan.json records). Each partition's block of tasks holds, in this order: with
    bandwidth_trials > 0, one bandwidth measurement per thread count and label (large, then
    each model); warmup_runs warm-up runs per model and flag set, at the flag set's largest
    thread count; one check run per model and flag set (greedy, at 1 thread, at most
    CHECK_STEPS steps: the text its build generates, never measured); the runs, repetition
    rounds one after another, each round's configurations in a shuffled order (run_order);
    then one profiling run per model and profile selector (the configuration is chosen from
    the finished runs when it runs, so these come after every run of the partition). Each
    partition record gains first_index, its task counts by kind, arrays (the job arrays of
    its bandwidth, warm-up, check and run tasks: task id i runs task first_index + i; one
    array when exclusive, else one per thread count), profile_array (or None) and builds
    (partition_builds: what its build.sh compiles)."""
    settings = SweepSettings(
        sweep_dir=sweep_dir,
        models=list(models),
        catalog=catalog,
        checkpoints=checkpoints,
        steps=int(steps),
        repetitions=int(repetitions),
        llama2c_commit=llama2c_commit,
        warmup_runs=int(warmup_runs),
        bandwidth_trials=int(bandwidth_trials),
        bandwidth_large_bytes=int(bandwidth_large_bytes),
        profile_call_graph=profile_call_graph,
        order_seed=order_seed_value(order_seed),
    )
    tasks = []
    resolved = []
    configurations_before = 0
    for partition in partitions:
        first_index = len(tasks)
        block = partition_tasks(partition, settings, configurations_before)
        block = [{"index": index, **task} for index, task in enumerate(block, first_index)]
        for task in block:
            if task["kind"] == "run":
                task["dir"] = run_dir(task)
                configurations_before = max(configurations_before, task["declared_order"] + 1)
        tasks += block
        resolved.append(
            {
                **partition,
                **partition_arrays(partition, block, first_index),
                "builds": partition_builds(partition, settings.profile_call_graph),
            }
        )
    return {
        "sweep_id": sweep_id,
        "order_seed": settings.order_seed,
        "tsv_fields": list(TSV_FIELDS),
        "partitions": resolved,
        "tasks": tasks,
    }


# fp call graphs (sweep_profile_call_graph fp) profile each flag set's frame-pointer build.
FRAME_POINTER_SUFFIX = "+fp"
FRAME_POINTER_FLAGS = ("-fno-omit-frame-pointer",)


def partition_builds(partition, profile_call_graph):
    """What a partition's build.sh compiles, in order: each flag set's binary (name, its
    CFLAGS words) and, where fp call graphs profile the partition, right after it the
    flag set's frame-pointer build (name + FRAME_POINTER_SUFFIX)."""
    builds = []
    frame_pointers = bool(partition["profile_selectors"]) and profile_call_graph == "fp"
    for name, cflags in partition["flag_sets"].items():
        builds.append({"name": name, "flags": cflags.split()})
        if frame_pointers:
            builds.append(
                {
                    "name": name + FRAME_POINTER_SUFFIX,
                    "flags": [*cflags.split(), *FRAME_POINTER_FLAGS],
                }
            )
    return builds


def run_dir(task):
    """A run task's directory; its index makes the name unique across partitions."""
    return (
        f"runs/{task['index']:04d}-{task['model']}-{task['flag_set']}"
        f"-t{task['threads']}-r{task['repetition']}"
    )


def topup_plan(plan, configurations):
    """plan.json topped up (-e sweep_topup): each configuration (a mapping of partition, model,
    flag_set and threads: sweep_rules.noisy_configurations) gets as many more repetitions as
    it has, appended as run tasks at the end (new indices, repetitions numbered on, the
    configuration's own record otherwise), the extra repetitions in rounds as in a sweep,
    each round shuffled by the plan's order seed (a plan without one keeps the order of
    configurations). Nothing else of the plan changes."""
    tasks = list(plan["tasks"])
    repetitions = []
    for configuration in configurations:
        runs = [
            task
            for task in plan["tasks"]
            if task["kind"] == "run"
            and all(task[key] == value for key, value in configuration.items())
        ]
        if not runs:
            raise PlanError(f"no run of the plan has {configuration}")
        repetitions.append(runs)
    for extra in range(1, max(map(len, repetitions), default=0) + 1):
        round_runs = [runs for runs in repetitions if extra <= len(runs)]
        if plan.get("order_seed") is not None:
            round_runs = run_order(round_runs, plan["order_seed"], "topup", len(tasks))
        for runs in round_runs:
            last = max(task["repetition"] for task in runs)
            task = {**runs[-1], "index": len(tasks), "repetition": last + extra}
            tasks.append({**task, "dir": run_dir(task)})
    return {**plan, "tasks": tasks}


def partition_tasks(partition, settings, configurations_before):
    """The task records of one partition, in order, without index (see sweep_plan); its
    runs' declared_order counts on from configurations_before (the configurations of the
    partitions before it)."""
    name = partition["name"]
    models, catalog, checkpoints = settings.models, settings.catalog, settings.checkpoints

    def binary(flag_set):
        return f"{settings.sweep_dir}/bin/{name}/{flag_set}/run"

    def execution(model, flag_set, threads):
        checkpoint = checkpoints[model]
        return {
            "partition": name,
            "threads": threads,
            "model": model,
            "flag_set": flag_set,
            "cflags": partition["flag_sets"][flag_set],
            "openmp": flag_set not in partition["single_thread_flag_sets"],
            "binary": binary(flag_set),
            "checkpoint": checkpoint["path"],
            "checkpoint_sha256": checkpoint["sha256"],
            "checkpoint_bytes": int(catalog[model]["size"]),
            "steps": settings.steps,
            "positions": run_positions(settings.steps, catalog[model]),
            "llama2c_commit": settings.llama2c_commit,
            "emulated": partition["emulated"],
            "emulator": partition["emulator"],
            # perf stat -e list (None: perf's default set); a field of the task, so that a
            # task appended by a top-up keeps its own partition's.
            "perf_events": partition["perf_events"] or None,
        }

    bandwidth_trials, warmup_runs = settings.bandwidth_trials, settings.warmup_runs
    if partition["emulated"]:  # its runs measure qemu, not the chip: nothing to calibrate
        bandwidth_trials, warmup_runs = 0, 0
    tasks = []
    if bandwidth_trials > 0:
        for threads in partition["threads"]:
            for label in ["large", *models]:
                tasks.append(
                    {
                        "kind": "bandwidth",
                        "dir": f"bandwidth/{name}-t{threads}-{label}",
                        "partition": name,
                        "threads": threads,
                        "label": label,
                        "working_set_bytes": int(
                            settings.bandwidth_large_bytes
                            if label == "large"
                            else catalog[label]["size"]
                        ),
                        "trials": bandwidth_trials,
                        "binary": f"{settings.sweep_dir}/builds/{name}/triad",
                    }
                )
    thread_lists = partition["flag_set_threads"]
    # Warm-ups are not measured: they run first, in the declared order.
    for warmup in range(1, warmup_runs + 1):
        for model in models:
            for flag_set in partition["flag_sets"]:
                tasks.append(
                    {
                        "kind": "warmup",
                        "dir": f"warmup/{name}-{model}-{flag_set}-w{warmup}",
                        **execution(model, flag_set, max(thread_lists[flag_set])),
                        "warmup": warmup,
                    }
                )
    # Greedy (temperature 0) and short: its text depends on the build alone, not on a seed.
    for model in models:
        for flag_set in partition["flag_sets"]:
            tasks.append(
                {
                    "kind": "check",
                    "dir": f"checks/{name}-{model}-{flag_set}",
                    **execution(model, flag_set, 1),
                    "steps": min(settings.steps, CHECK_STEPS),
                    "positions": run_positions(min(settings.steps, CHECK_STEPS), catalog[model]),
                    "temperature": 0,
                }
            )
    # The configurations in the declared order (models, flag sets, thread counts as
    # listed): declared_order is the position the collector's tables keep.
    configurations = list(
        enumerate(
            (
                (model, flag_set, threads)
                for model in models
                for flag_set in partition["flag_sets"]
                for threads in thread_lists[flag_set]
            ),
            configurations_before,
        )
    )
    for repetition in range(1, settings.repetitions + 1):
        for declared_order, (model, flag_set, threads) in run_order(
            configurations, settings.order_seed, name, repetition
        ):
            tasks.append(
                {
                    "kind": "run",
                    "dir": None,  # named by sweep_plan, from its index
                    **execution(model, flag_set, threads),
                    "repetition": repetition,
                    "declared_order": declared_order,
                }
            )
    # fp call graphs profile build.sh's frame-pointer build of each flag set.
    suffix = FRAME_POINTER_SUFFIX if settings.profile_call_graph == "fp" else ""
    for model in models:
        for selector in partition["profile_selectors"]:
            tasks.append(
                {
                    "kind": "profile",
                    "dir": f"profiles/{name}-{model}-{selector}",
                    "partition": name,
                    "threads": None,
                    "model": model,
                    "selector": selector,
                    "checkpoint": checkpoints[model]["path"],
                    "checkpoint_sha256": checkpoints[model]["sha256"],
                    "steps": settings.steps,
                    "llama2c_commit": settings.llama2c_commit,
                    "binaries": {
                        flag_set: binary(flag_set + suffix) for flag_set in partition["flag_sets"]
                    },
                }
            )
    return tasks


def partition_arrays(partition, block, first_index):
    """A partition's first_index, task counts by kind, arrays and profile_array: what its
    block of tasks holds, counted from the block itself."""
    measured = [task for task in block if task["kind"] != "profile"]
    profiles = [task for task in block if task["kind"] == "profile"]
    groups = {}
    for task in measured:
        key = partition["cores"] if partition["exclusive"] else task["threads"]
        groups.setdefault(key, []).append(task["index"] - first_index)
    arrays = [
        {"cpus_per_task": cpus, "first_index": first_index, "array": array_list(ids)}
        for cpus, ids in sorted(groups.items())
    ]
    profile_array = None
    if profiles:
        profile_first = profiles[0]["index"]
        profile_array = {
            "cpus_per_task": array_cpus(partition, partition["threads"]),
            "first_index": profile_first,
            "array": array_list([task["index"] - profile_first for task in profiles]),
        }
    counts = {kind: 0 for kind in TASK_KINDS}
    for task in block:
        counts[task["kind"]] += 1
    return {
        "first_index": first_index,
        "task_counts": counts,
        "arrays": arrays,
        "profile_array": profile_array,
    }


def resume_partitions(partitions, tasks, indices):
    """A resumed sweep's submission: the plan's partitions (plan.json's) that hold any of
    these task indices (its unfinished tasks), each with the arrays and profile_array of
    those tasks alone (partition_arrays; task ids still relative to the partition's
    first_index, so one array per thread count when not exclusive), in plan order."""
    wanted = {int(index) for index in indices}
    resumed = []
    for partition in partitions:
        block = [
            task
            for task in tasks
            if task["partition"] == partition["name"] and task["index"] in wanted
        ]
        if block:
            arrays = partition_arrays(partition, block, partition["first_index"])
            resumed.append({**partition, **arrays})
    return resumed


def array_list(task_ids):
    """Slurm's --array list of these task ids (ascending), arithmetic runs folded into
    FIRST-LAST:STEP: [0, 3, ..., 20, 22] -> "0-20:3,22"."""
    ids = sorted(task_ids)
    parts = []
    start = 0
    while start < len(ids):
        step = ids[start + 1] - ids[start] if start + 1 < len(ids) else 1
        end = start
        while end + 1 < len(ids) and ids[end + 1] - ids[end] == step:
            end += 1
        if end == start:
            parts.append(str(ids[start]))
        else:
            parts.append(f"{ids[start]}-{ids[end]}" + (f":{step}" if step != 1 else ""))
        start = end + 1
    return ",".join(parts)


def tasks_tsv(tasks):
    """tasks.tsv, what the job script reads: one line a task in index order, tab-separated,
    "-" where a field does not apply (TSV_FIELDS)."""
    lines = []
    for task in tasks:
        fields = []
        for field in TSV_FIELDS:
            value = task.get(field)
            if isinstance(value, list):  # the emulator's words, checked one word each
                value = " ".join(value) or None
            # a profile's binary is chosen when it runs
            text = (
                "-"
                if value is None or field == "binary" and task["kind"] == "profile"
                else str(value)
            )
            if not text or any(c in text for c in "\t\n\r"):
                raise PlanError(
                    f"task {task['index']}: {field} {text!r} is empty or holds a tab or newline"
                )
            fields.append(text)
        lines.append("\t".join(fields) + "\n")
    return "".join(lines)


# What resume checks before anything runs: the sha256 of tasks.tsv and plan.json as planned,
# in sha256sum's format. The job script runs tasks.tsv's lines, the collector reads
# plan.json: an edited tasks.tsv ran an O2 binary for an O3 row, a truncated one left runs
# "never started", a truncated plan.json stopped the playbook on a parser's error.
DIGEST_FILE = "plan.sha256"


def plan_files(plan):
    """The files of a sweep's plan as written (the sweep_files action's {path, content}):
    tasks.tsv first (a reader of plan.json finds every task's line), plan.json, and their
    digests (DIGEST_FILE)."""
    texts = {
        "tasks.tsv": tasks_tsv(plan["tasks"]),
        "plan.json": json.dumps(plan, indent=4, sort_keys=True) + "\n",
    }
    digests = "".join(f"{_sha256(text)}  {name}\n" for name, text in texts.items())
    return [{"path": name, "content": text} for name, text in texts.items()] + [
        {"path": DIGEST_FILE, "content": digests}
    ]


def resume_problems(sweep_dir, texts):
    """Why the sweep in sweep_dir cannot be resumed as planned, from texts: {file name: its
    text} of plan.json, tasks.tsv and DIGEST_FILE (None or absent: a sweep planned before it
    was written); [] when tasks.tsv and plan.json are as planned and match each other."""
    plan_text, tasks_text = texts.get("plan.json"), texts.get("tasks.tsv")
    digests_text = texts.get(DIGEST_FILE)
    try:
        plan = json.loads(plan_text)
        tasks = tasks_tsv(plan["tasks"])
    except (ValueError, TypeError, KeyError, AttributeError) as error:  # PlanError among them
        return [f"{sweep_dir}/plan.json is not the sweep's plan (cut short?): {error}"]
    if tasks_text is None:
        return [f"{sweep_dir}/tasks.tsv is missing"]
    problems = []
    if digests_text is not None:
        planned = {
            name: digest
            for digest, _, name in (line.partition("  ") for line in digests_text.splitlines())
        }
        for name, text in (("tasks.tsv", tasks_text), ("plan.json", plan_text)):
            if planned.get(name) != _sha256(text):
                problems.append(
                    f"{sweep_dir}/{name} is not the one planned (its sha256 is not the one "
                    f"{DIGEST_FILE} recorded)"
                )
    if tasks_text != tasks:
        lines, planned_lines = tasks_text.splitlines(), tasks.splitlines()
        pairs = enumerate(itertools.zip_longest(lines, planned_lines), start=1)
        differs = next((number for number, (line, planned) in pairs if line != planned), len(lines))
        problems.append(
            f"{sweep_dir}/tasks.tsv does not match plan.json from line {differs} (it has "
            f"{len(lines)} tasks, the plan {len(planned_lines)})"
        )
    return problems


def slurped_texts(results):
    """{file name: text, None where it could not be read} of a looped slurp's results."""
    return {
        result["item"]: base64.b64decode(result["content"]).decode(errors="replace")
        if "content" in result
        else None
        for result in results
    }


def _sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


def announcement(plan, models, repetitions, time_limits):
    """What the sweep says before it runs: its runs, and per partition how they multiply out
    (models x repetitions x flag sets at their thread counts), its profiling runs and (where
    the backend enforces time limits) its time limit, and each flag set run at one thread for
    want of OpenMP."""
    runs = sum(task["kind"] == "run" for task in plan["tasks"])
    lines = [f"Sweep {plan['sweep_id']}: {runs} runs."]
    for partition in plan["partitions"]:
        threads = "; ".join(
            f"{flag_set}: {', '.join(map(str, counts))}"
            for flag_set, counts in partition["flag_set_threads"].items()
        )
        counts = partition["task_counts"]
        line = (
            f"{partition['name']}: {len(models)} models x {repetitions} repetitions x flag sets"
            f" at their thread counts ({threads}) = {counts['run']} runs"
        )
        if counts["profile"]:
            selectors = ", ".join(partition["profile_selectors"])
            line += f", then {counts['profile']} profiling runs ({selectors})"
        if time_limits:
            limit = f"{partition['time_limit']} min ({partition['time_limit_source']})"
            line += f", time limit {limit}"
        lines.append(line + ".")
        lines += [
            f"{flag_set}: no OpenMP, run at 1 thread only."
            for flag_set in partition["single_thread_flag_sets"]
        ]
    return " ".join(lines)
