"""The sweep's inputs and every rule they must follow, written once (stdlib only, like
sweep_plan.py, which imports its rules from here).

errors(inputs) checks the role's inputs (those of module_utils/sweep_model.py with a
`check`, by name, as Ansible gives them: `-e` gives text) and returns every problem at once,
each message naming the bad value and what is valid; roles/sweep/tasks/validate.yml calls it
through the sweep_inputs action before anything is cloned, downloaded, compiled or run.
"""

import json
import re

from ansible_collections.llamasweep.sweep.plugins.module_utils.backends import NAMES as BACKENDS
from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_model import INPUTS
from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_rules import RANKED_SELECTORS

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
# Slurm's --time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S.
TIME_LIMIT = re.compile(r"^([0-9]+-)?[0-9]+(:[0-9]+){0,2}$")


def whole_number(value):
    """value as an int when it is a whole number >= 0 written in digits (an int, or `-e`'s
    text), else None (a bool, a float, a sign, anything else)."""
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() else None


def positive(value):
    """Whether value is a whole number above 0 (whole_number)."""
    return (whole_number(value) or 0) > 0


def non_negative(value):
    """Whether value is a whole number >= 0 (whole_number)."""
    return whole_number(value) is not None


DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")


def decimal(value):
    """value as a float when it is a number >= 0 written in digits with an optional decimal
    part (1, 0.5, "2.0"), else None."""
    text = str(value)
    return float(text) if DECIMAL.fullmatch(text) else None


def thread_list(threads):
    """sweep_threads as a list of words: `-e sweep_threads=1,2` gives the text "1,2"; empty
    words are dropped ([] means each partition's default)."""
    words = threads.split(",") if isinstance(threads, str) else threads
    if not isinstance(words, (list, tuple)):
        words = [words]
    return [str(word).strip() for word in words if str(word).strip()]


# A partition's keys, in the order the messages list them.
PARTITION_KEYS = (
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
    "emulator",
    "arch",
    "requires_compiler_support",
)
KNOWN_KEYS = frozenset(PARTITION_KEYS)
EMULATOR_KEYS = frozenset(("command", "cpu", "sysroot"))


def flag_sets_valid(flag_sets):
    """Whether flag_sets maps names (NAME) to CFLAGS strings."""
    return isinstance(flag_sets, dict) and all(
        isinstance(name, str) and NAME.match(name) and isinstance(cflags, str)
        for name, cflags in flag_sets.items()
    )


def partition_errors(partitions, sweep_flag_sets=None):
    """What is wrong with sweep_partitions, one message per problem (empty when valid);
    with sweep_flag_sets, requires_compiler_support's names are checked against them."""
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
        if "cores" in partition and not positive(partition["cores"]):
            errors.append(f"{label}: cores {partition['cores']!r} is not a positive integer")
        flag_sets = partition.get("flag_sets", {})
        if not flag_sets_valid(flag_sets):
            errors.append(
                f"{label}: flag_sets {flag_sets!r} is not a mapping from a name (letters, "
                "digits, '.', '_', '+', '-') to a CFLAGS string"
            )
        threads = partition.get("threads", [])
        if not isinstance(threads, list) or not all(positive(t) for t in threads):
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
            if key in partition and not non_negative(partition[key]):
                errors.append(f"{label}: {key} {partition[key]!r} is not an integer >= 0")
        if (
            "seconds_per_gb_token" in partition
            and not (decimal(partition["seconds_per_gb_token"]) or 0) > 0
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
        if "emulator" in partition:
            errors += [f"{label}: {error}" for error in emulator_errors(partition["emulator"])]
        if "arch" in partition and not (
            isinstance(partition["arch"], str) and NAME.match(partition["arch"])
        ):
            errors.append(
                f"{label}: arch {partition['arch']!r} is not an architecture as uname -m "
                "names it, e.g. riscv64"
            )
        if isinstance(sweep_flag_sets, dict) and isinstance(flag_sets, dict):
            errors += [
                f"{label}: {error}" for error in compiler_support_errors(partition, sweep_flag_sets)
            ]
    duplicates = sorted({n for n in names if isinstance(n, str) and names.count(n) > 1})
    if duplicates:
        errors.append(f"partitions {duplicates} are listed more than once")
    return errors


def compiler_support_errors(partition, flag_sets):
    """What is wrong with a partition's requires_compiler_support (empty when valid): a list
    of its flag sets' names (its own or the sweep's), each with a -march to probe."""
    names = partition.get("requires_compiler_support", [])
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        return [f"requires_compiler_support {names!r} is not a list of flag-set names"]
    merged = {**flag_sets, **(partition.get("flag_sets") or {})}
    errors = []
    for name in names:
        if name not in merged:
            errors.append(
                f"requires_compiler_support names {name!r}, which is not one of its flag sets "
                f"({', '.join(merged)})"
            )
        elif not any(word.startswith("-march=") for word in str(merged[name]).split()):
            errors.append(
                f"requires_compiler_support names {name!r}, whose CFLAGS {merged[name]!r} "
                "have no -march for the setup probe to check"
            )
    return errors


def emulator_errors(emulator):
    """What is wrong with a partition's `emulator` (empty when valid): a mapping of command
    (default qemu-riscv64), cpu (qemu's -cpu, e.g. rv64,v=true,vlen=128) and sysroot (qemu's
    -L, the cross compiler's libraries, e.g. /usr/riscv64-linux-gnu), each one word."""
    example = "{cpu: 'rv64,v=true,vlen=128', sysroot: /usr/riscv64-linux-gnu}"
    if not isinstance(emulator, dict):
        return [f"emulator {emulator!r} is not a mapping, e.g. {example}"]
    errors = []
    unknown = sorted(set(emulator) - EMULATOR_KEYS)
    if unknown:
        errors.append(f"emulator has unknown keys {unknown}; known: {sorted(EMULATOR_KEYS)}")
    for key in sorted(EMULATOR_KEYS & set(emulator)):
        value = emulator[key]
        if not isinstance(value, str) or not value or any(c.isspace() for c in value):
            errors.append(f"emulator {key} {value!r} is not one word without spaces")
    for key in ("cpu", "sysroot"):
        if key not in emulator:
            errors.append(f"emulator has no {key}, e.g. {example}")
    if isinstance(emulator.get("sysroot"), str) and not emulator["sysroot"].startswith("/"):
        errors.append(f"emulator sysroot {emulator['sysroot']!r} is not an absolute path")
    return errors


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


def _words(value):
    """Whether value is a list of strings."""
    return isinstance(value, list) and all(isinstance(word, str) for word in value)


# One perf event, as perf record -e takes it (never an option or a shell word).
PERF_EVENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_:./=,@-]*")
# Each input checked on its own (its model's check is RULES): (whether a value is valid,
# what is valid).
RULES = {
    "sweep_threads": (
        lambda value: all(positive(word) for word in thread_list(value)),
        "give a list of positive integers (OMP_NUM_THREADS values), e.g. [1, 2, 4], or [] for "
        "1, 2, 4, ... up to the cores",
    ),
    "sweep_repetitions": (positive, "give a positive integer"),
    "sweep_steps": (positive, "give a positive integer"),
    "sweep_order_seed": (
        lambda value: value in (None, "") or non_negative(value),
        "give a non-negative integer (the seed of the shuffled run order), or leave it unset "
        "for a fresh one",
    ),
    "sweep_seed": (non_negative, "give a non-negative integer"),
    "sweep_temperature": (lambda value: decimal(value) is not None, "give a number >= 0"),
    "sweep_topp": (
        lambda value: decimal(value) is not None and decimal(value) <= 1,
        "give a number from 0 to 1",
    ),
    "sweep_bandwidth_trials": (
        positive,
        "give a positive integer (trials of each bandwidth measurement)",
    ),
    "sweep_bandwidth_large_bytes": (
        lambda value: (whole_number(value) or 0) >= 24,
        "give a number of bytes of at least 24, e.g. 805306368 (3 x 256 MiB)",
    ),
    "sweep_warmup_runs": (
        non_negative,
        "give an integer >= 0 (warm-up runs per flag set and model; 0 for none)",
    ),
    "sweep_profile_event": (
        lambda value: isinstance(value, str) and bool(PERF_EVENT.fullmatch(value)),
        "give one perf event, e.g. cycles, cpu-clock or cycles:u",
    ),
    "sweep_profile_frequency": (
        positive,
        "give a positive integer (samples per second, perf record -F)",
    ),
    "sweep_profile_stack_bytes": (
        lambda value: (
            positive(value) and whole_number(value) % 8 == 0 and whole_number(value) <= 65528
        ),
        "give a multiple of 8 from 8 to 65528 (bytes of user stack perf copies per sample)",
    ),
    "sweep_prompt": (lambda value: isinstance(value, str), "give a string (empty for none)"),
    "sweep_run_prefix": (
        _words,
        'give a list of words put before the run command, e.g. ["numactl", "--interleave=all"], '
        "or []",
    ),
    "sweep_backend": (lambda value: value in BACKENDS, "give " + " or ".join(BACKENDS)),
    "sweep_validate_riscv": (
        lambda value: str(value).lower() in ("auto", "true", "false"),
        "give auto, true or false",
    ),
    "sweep_validate_riscv_ignore": (
        lambda value: isinstance(value, str) or _words(value),
        "give a list of flag-set names (or comma-separated), e.g. [xtheadvector-openmp]",
    ),
    "sweep_validate_riscv_steps": (positive, "give a positive integer"),
    "sweep_slurm_build_time_limit": (
        lambda value: bool(TIME_LIMIT.match(str(value))),
        "give a Slurm time (minutes, M:S, H:M:S, D-H, D-H:M or D-H:M:S)",
    ),
    "sweep_slurm_array_throttle": (
        non_negative,
        "give an integer >= 0 (0: derived from the partition's nodes and sweep_slurm_node_share)",
    ),
    "sweep_slurm_node_share": (
        lambda value: 0 < (decimal(value) or 0) <= 1,
        "give a number above 0 and at most 1 (the share of a partition's nodes an array may hold "
        "at once; 1 for every node)",
    ),
}
# What errors() reads: every input the model says is checked here.
INPUT_NAMES = tuple(spec.name for spec in INPUTS if spec.check)


def shown(value):
    """A value as the messages show it: JSON, as in a sweep definition's file."""
    return json.dumps(value, default=str)


def input_error(name, value):
    """The message for input name (one of RULES) when value is not valid, else None."""
    valid, what_is_valid = RULES[name]
    return None if valid(value) else f"{name} {shown(value)} is not valid: {what_is_valid}."


def errors(inputs):
    """Every problem of the sweep's inputs ({name: value} of INPUT_NAMES), one message each,
    naming the bad value and what is valid; [] when the sweep can run."""
    catalog = inputs.get("checkpoint_catalog") or {}
    models = inputs.get("sweep_models")
    flag_sets = inputs.get("sweep_flag_sets")
    partitions = inputs.get("sweep_partitions")
    problems = []
    unknown = (
        [model for model in models if not isinstance(model, str) or model not in catalog]
        if isinstance(models, list)
        else None
    )
    if not models or unknown != []:
        problems.append(
            f"sweep_models {shown(models)} is not a non-empty list of known models"
            + (f" (unknown: {', '.join(map(str, unknown))})" if unknown else "")
            + f"; valid names (checkpoint_catalog): {', '.join(catalog)}."
        )
    if not flag_sets or not flag_sets_valid(flag_sets):
        problems.append(
            f"sweep_flag_sets {shown(flag_sets)} is not valid: it must be a non-empty mapping "
            "from a name (letters, digits, '.', '_', '+', '-') to a CFLAGS string, for example "
            '{"O3": "-O3", "O3-openmp": "-O3 -fopenmp"}.'
        )
    problems += [
        message for message in (input_error(name, inputs.get(name)) for name in RULES) if message
    ]
    selector_errors = profile_selector_errors(
        inputs.get("sweep_profile_select"), flag_sets, partitions
    )
    if selector_errors:
        problems.append(
            f"{'; '.join(selector_errors)}: give a list of fastest, slowest or flag-set names, "
            "e.g. [fastest, slowest]."
        )
    if inputs.get("sweep_backend") == "slurm" and partition_errors(partitions, flag_sets):
        problems.append(
            "sweep_partitions (from the inventory) is not valid: "
            f"{'; '.join(partition_errors(partitions, flag_sets))}. Each partition is a mapping "
            f"with a name and optionally {', '.join(PARTITION_KEYS[1:-1])} and "
            f"{PARTITION_KEYS[-1]}."
        )
    emulator = inputs.get("sweep_validate_riscv_emulator")
    if emulator_errors(emulator):
        problems.append(
            f"sweep_validate_riscv_emulator {shown(emulator)} is not valid: "
            f"{'; '.join(emulator_errors(emulator))}."
        )
    return problems
