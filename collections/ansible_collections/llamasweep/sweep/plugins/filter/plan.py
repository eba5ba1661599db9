"""partition_plan: resolve the sweep's partitions (inventory data) into what is submitted.

Each partition of the inventory is a mapping: name, and optionally cores, compiler,
flag_sets (merged over the sweep's), threads, time_limit, sbatch_options, exclusive,
array_throttle, seconds_per_gb_token, perf_events. The plan fills in every default,
numbers the runs (offset and count of each partition's block in the one manifest:
bandwidth measurements, warm-up runs, runs, then profiling runs), derives each
partition's Slurm time limit from the models' sizes (see derive_time_limit), its array
throttle from its node count (see derive_array_throttle) and the CPUs each job asks for
(see cpus_per_task).
"""

import math
import re

from ansible.errors import AnsibleFilterError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
# Slurm's --time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S.
TIME_LIMIT = re.compile(r"^([0-9]+-)?[0-9]+(:[0-9]+){0,2}$")

DOCUMENTATION = r"""
name: partition_plan
short_description: Resolve the sweep's partitions into what is compiled and submitted
description:
  - Fills in each partition's defaults (compiler, flag sets merged over the sweep's, thread
    counts, cores), numbers its runs in the manifest and derives its Slurm time limit.
positional: _input
options:
  _input:
    description: The partitions, a list of mappings with at least C(name).
    type: list
    required: true
"""

EXAMPLES = r"""
plan: "{{ sweep_partitions | llamasweep.sweep.partition_plan(flag_sets=sweep_flag_sets, ...) }}"
"""

RETURN = r"""
_value:
  description: One mapping per partition, in the given order.
  type: list
"""

KNOWN_KEYS = frozenset(
    (
        "name",
        "cores",
        "compiler",
        "flag_sets",
        "threads",
        "time_limit",
        "sbatch_options",
        "exclusive",
        "array_throttle",
        "seconds_per_gb_token",
        "perf_events",
    )
)
# Profile selectors that are not flag-set names.
RANKED_SELECTORS = ("fastest", "slowest")


def partition_errors(partitions):
    """What is wrong with sweep_partitions, one message per problem (empty when valid)."""
    if not isinstance(partitions, list) or not partitions:
        return [f"sweep_partitions {partitions!r} is not a non-empty list of partitions"]
    errors = []
    names = []
    for position, partition in enumerate(partitions, 1):
        if not isinstance(partition, dict):
            errors.append(f"partition {position} ({partition!r}) is not a mapping")
            continue
        name = partition.get("name")
        label = f"partition {name!r}" if name else f"partition {position}"
        names.append(name)
        if not isinstance(name, str) or not NAME.match(name):
            errors.append(f"{label}: name must be letters, digits, '.', '_', '+', '-'")
        unknown = sorted(set(partition) - KNOWN_KEYS)
        if unknown:
            errors.append(f"{label}: unknown keys {unknown}; known: {sorted(KNOWN_KEYS)}")
        if "cores" in partition and not _positive_int(partition["cores"]):
            errors.append(f"{label}: cores {partition['cores']!r} is not a positive integer")
        flag_sets = partition.get("flag_sets", {})
        if not isinstance(flag_sets, dict) or not all(
            isinstance(key, str) and NAME.match(key) and isinstance(value, str)
            for key, value in flag_sets.items()
        ):
            errors.append(
                f"{label}: flag_sets {flag_sets!r} is not a mapping from a name (letters, "
                "digits, '.', '_', '+', '-') to a CFLAGS string"
            )
        threads = partition.get("threads", [])
        if not isinstance(threads, list) or not all(_positive_int(t) for t in threads):
            errors.append(f"{label}: threads {threads!r} is not a list of positive integers")
        time_limit = partition.get("time_limit")
        if time_limit is not None and not TIME_LIMIT.match(str(time_limit)):
            errors.append(
                f"{label}: time_limit {time_limit!r} is not a Slurm time (minutes, M:S, H:M:S, "
                "D-H, D-H:M or D-H:M:S)"
            )
        options = partition.get("sbatch_options", [])
        if not isinstance(options, list) or not all(
            isinstance(o, str) and o.startswith("-") for o in options
        ):
            errors.append(
                f"{label}: sbatch_options {options!r} is not a list of sbatch options, "
                "e.g. ['--account=myproject', '--qos=normal']"
            )
        for key in ("array_throttle",):
            if key in partition and not _positive_int(partition[key], zero=True):
                errors.append(f"{label}: {key} {partition[key]!r} is not an integer >= 0")
        if "seconds_per_gb_token" in partition and not _positive_number(
            partition["seconds_per_gb_token"]
        ):
            errors.append(
                f"{label}: seconds_per_gb_token {partition['seconds_per_gb_token']!r} is not a "
                "positive number"
            )
        if "perf_events" in partition and not isinstance(partition["perf_events"], str):
            errors.append(
                f"{label}: perf_events {partition['perf_events']!r} is not a perf stat -e "
                "event list, e.g. 'task-clock,page-faults' ('' for perf's default set)"
            )
        if "exclusive" in partition and not isinstance(partition["exclusive"], bool):
            errors.append(f"{label}: exclusive {partition['exclusive']!r} is not true or false")
    duplicates = sorted({n for n in names if isinstance(n, str) and names.count(n) > 1})
    if duplicates:
        errors.append(f"partitions {duplicates} are listed more than once")
    return errors


def _positive_int(value, zero=False):
    if isinstance(value, bool):
        return False
    try:
        number = int(str(value))
    except ValueError:
        return False
    return number >= 0 if zero else number > 0


def _positive_number(value):
    if isinstance(value, bool):
        return False
    try:
        return float(str(value)) > 0
    except ValueError:
        return False


def default_threads(cores):
    """1, 2, 4, ... up to cores, and cores itself when it is not a power of two."""
    counts = []
    count = 1
    while count < cores:
        counts.append(count)
        count *= 2
    return [*counts, cores]


def sinfo_partitions(lines):
    """{"cores": {partition: CPUs per node}, "nodes": {partition: node count}} from the lines
    of `sinfo --noheader --format='%R %c %D'`. sinfo gives a partition one line per group of
    nodes (of one state and configuration; "64+" is the least of a group): a partition's
    nodes are the sum of its lines, its CPUs per node the least, so that a task fits on
    any of its nodes."""
    cores, nodes = {}, {}
    for line in lines:
        name, cpus, count = line.split()
        cpus = int(cpus.rstrip("+"))
        cores[name] = min(cpus, cores.get(name, cpus))
        nodes[name] = nodes.get(name, 0) + int(count)
    return {"cores": cores, "nodes": nodes}


def derive_array_throttle(nodes, node_share):
    """The default %N of a partition's arrays: at most node_share of its nodes at once (an
    exclusive task holds a whole node), at least 1, so that one student's sweep leaves the
    rest of a shared partition to the others. 0 (no limit) when the node count is unknown."""
    if not nodes:
        return 0
    return max(1, math.floor(int(nodes) * float(node_share)))


def cpus_per_task(partition):
    """--cpus-per-task of each job array of the runs, in submission order, and of the
    profiling array. Exclusive: the node's cores, one array (the task has the node anyway).
    Not exclusive: a run asks for its thread count, so the runs are one array per thread
    count (an array has one --cpus-per-task); profiling runs pick their thread count when
    they run, so they ask for the largest."""
    if partition["exclusive"]:
        return [partition["cores"]], partition["cores"]
    return sorted(set(partition["threads"])), max(partition["threads"])


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
        tokens = min(int(steps), int(entry.get("config", {}).get("seq_len", steps)))
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
    repetitions,
    threads=(),
    compiler="gcc",
    node_cores=None,
    node_counts=None,
    node_share=0.5,
    exclusive=True,
    array_throttle=0,
    seconds_per_gb_token=2.0,
    time_safety=2.0,
    startup_seconds=60,
    time_floor=300,
    bandwidth_labels=0,
    warmup_runs=0,
    perf_events="",
    profile_selectors=(),
):
    """The partitions with every default filled in; see the module docstring.

    A partition's block of the manifest holds, in this order, bandwidth_labels bandwidth
    measurements per thread count, warmup_runs warm-up runs per model and flag set, its
    runs (tasks counts these three: the size of its job array), then one profiling run per
    model and selector of profile_selectors (profile_tasks: a second array, started once the
    first has ended). Selectors that pick the same flag set are profiled once.

    array_throttle (a partition's own, else the sweep's) caps each array at that many tasks
    at once; 0 derives it from the partition's node count (node_counts, from sinfo) and
    node_share."""
    node_cores = node_cores or {}
    node_counts = node_counts or {}
    plan = []
    offset = 0
    for partition in partitions:
        if not isinstance(partition, dict) or not partition.get("name"):
            raise AnsibleFilterError(f"partition {partition!r} has no name")
        name = str(partition["name"])
        unknown = sorted(set(partition) - KNOWN_KEYS)
        if unknown:
            raise AnsibleFilterError(
                f"partition {name} has unknown keys {unknown}; known: {sorted(KNOWN_KEYS)}"
            )
        cores = partition.get("cores") or str(node_cores.get(name, "")).rstrip("+")
        if not str(cores).isdigit() or int(cores) < 1:
            raise AnsibleFilterError(
                f"partition {name}: cores per node unknown (give `cores` in the inventory; "
                f"the scheduler reported {node_cores.get(name)!r})"
            )
        cores = int(cores)
        merged_flag_sets = {**flag_sets, **(partition.get("flag_sets") or {})}
        thread_counts = [int(t) for t in threads] or [
            int(t) for t in partition.get("threads") or default_threads(cores)
        ]
        runs = int(repetitions) * len(models) * len(merged_flag_sets) * len(thread_counts)
        bandwidth_runs = int(bandwidth_labels) * len(thread_counts)
        warmups = int(warmup_runs) * len(models) * len(merged_flag_sets)
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
        selectors = partition_selectors(profile_selectors, merged_flag_sets)
        profile_tasks = len(models) * len(selectors)
        throttle = int(partition.get("array_throttle") or array_throttle or 0)
        nodes = node_counts.get(name)
        resolved = {
            "name": name,
            "cores": cores,
            "threads": thread_counts,
            "exclusive": bool(partition.get("exclusive", exclusive)),
        }
        run_cpus, profile_cpus = cpus_per_task(resolved)
        plan.append(
            {
                **resolved,
                "compiler": partition.get("compiler") or compiler,
                "flag_sets": merged_flag_sets,
                "sbatch_options": [str(o) for o in partition.get("sbatch_options") or []],
                "nodes": nodes,
                "array_throttle": throttle or derive_array_throttle(nodes, node_share),
                "array_throttle_source": "given" if throttle else "derived",
                "cpus_per_task": run_cpus,
                "profile_cpus_per_task": profile_cpus,
                "time_limit": str(time_limit) if time_limit else str(minutes),
                "time_limit_source": "inventory" if time_limit else "derived",
                # perf record of a run, then perf script on the node: twice a run's limit.
                "profile_time_limit": str(time_limit) if time_limit else str(2 * minutes),
                "perf_events": str(partition.get("perf_events", perf_events) or ""),
                "time_estimates_s": estimates,
                "offset": offset,
                "runs": runs,
                "bandwidth_runs": bandwidth_runs,
                "warmup_runs": warmups,
                "tasks": bandwidth_runs + warmups + runs,
                "profile_selectors": selectors,
                "profile_tasks": profile_tasks,
            }
        )
        offset += bandwidth_runs + warmups + runs + profile_tasks
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


def profile_selector_errors(selectors, flag_sets, partitions=()):
    """What is wrong with sweep_profile_select (empty when valid): each selector is fastest,
    slowest or a flag-set name of the sweep or of a partition."""
    known = set(flag_sets) if isinstance(flag_sets, dict) else set()
    for partition in partitions or []:
        if isinstance(partition, dict) and isinstance(partition.get("flag_sets"), dict):
            known |= set(partition["flag_sets"])
    if not isinstance(selectors, list) or not all(isinstance(s, str) for s in selectors):
        return [f"sweep_profile_select {selectors!r} is not a list of selectors"]
    return [
        f"sweep_profile_select names {selector!r}, which is neither fastest, slowest nor a "
        f"flag set ({', '.join(sorted(known))})"
        for selector in selectors
        if selector not in RANKED_SELECTORS and selector not in known
    ]


class FilterModule:
    def filters(self):
        return {
            "partition_plan": partition_plan,
            "partition_errors": partition_errors,
            "sinfo_partitions": sinfo_partitions,
            "profile_selector_errors": profile_selector_errors,
        }
