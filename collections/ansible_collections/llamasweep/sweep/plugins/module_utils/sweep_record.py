"""sweep.json: a sweep's facts as one JSON object, its keys, types and meanings declared once.

roles/sweep/tasks/main.yml gives the values (the role's inputs and what the plan resolved);
sweep_json() types them and refuses a missing or unknown key, so the file has exactly these
keys in this order. docs/results-layout.md's sweep.json table is this module's (tests/
test_docs.py checks it against FIELDS); the collector reads the file as data
(collect/sweepfiles.py).
"""

from collections import namedtuple
from collections.abc import Mapping

from ansible.module_utils.parsing.convert_bool import boolean

Field = namedtuple("Field", "key kind meaning")

FIELDS = (
    Field("sweep_id", "string", "the sweep's id (its directory's name)"),
    Field("created", "string", "when the sweep was planned (ISO 8601)"),
    Field("backend", "string", "local or slurm"),
    Field("partition", "string", "the partitions' names, comma-joined"),
    Field("emulated_partitions", "list", "the partitions whose runs execute under an emulator"),
    Field("llama2c_repo", "string", "where llama2.c was cloned from"),
    Field("llama2c_commit", "string", "llama2.c's commit"),
    Field("checkpoint_source", "string", "download or synthetic"),
    Field("flamegraph_commit", "string", "FlameGraph's commit (empty without it)"),
    Field("flamegraph_off_reason", "string", "why no flame graph is drawn, or empty"),
    Field("profiles_off_reason", "string", "why no profile task was planned, or empty"),
    Field("profile_select", "list", "the profiling selectors (fastest, slowest, flag sets)"),
    Field("profile_event", "string", "perf record's event"),
    Field("profile_call_graph", "string", "perf record's call graph (dwarf or fp)"),
    Field("profile_frequency", "integer", "perf record's sampling frequency (Hz)"),
    Field("checkpoints", "mapping", "each model's checkpoint: path, sha256, size"),
    Field("models", "list", "the models run"),
    Field("flag_sets", "mapping", "flag set name -> CFLAGS"),
    Field("threads", "list", "every thread count of any partition"),
    Field("repetitions", "integer", "runs of each configuration"),
    Field("order_seed", "integer", "the seed of the shuffled run order (plan.json's)"),
    Field("steps", "integer", "tokens each run generates (run.c -n)"),
    Field("seed", "integer", "run.c's random seed (-s)"),
    Field("temperature", "number", "run.c's temperature (-t)"),
    Field("topp", "number", "run.c's top-p (-p)"),
    Field("prompt", "string", "run.c's prompt (-i), or empty"),
    Field("run_prefix", "list", "the words run before each run's command"),
    Field("compiler", "string", "the default compiler"),
    Field("ldflags", "string", "the link flags"),
    Field("debug_info", "boolean", "whether binaries are built with -g"),
    Field("total_runs", "integer", "the sweep's measured runs"),
    Field("bandwidth", "boolean", "whether memory bandwidth is measured"),
    Field("bandwidth_trials", "integer", "trials of each bandwidth measurement"),
    Field("bandwidth_large_bytes", "integer", "the large working set (bytes)"),
    Field("warmup_runs", "integer", "warm-up runs per flag set"),
    Field(
        "slurm",
        "mapping",
        "a Slurm sweep's scheduler, probed once at submit time: version (`sinfo --version`),"
        " query (json, or text where `squeue --json` failed), json_error, query_interval;"
        " {} for a local sweep",
    ),
)


def _of_type(kind, convert):
    def typed(value):
        if not isinstance(value, kind):
            raise ValueError(f"a {type(value).__name__}")
        return convert(value)

    return typed


# How each kind is read from what Ansible gives (a -e value arrives as a string).
_TYPED = {
    "string": lambda value: "" if value is None else str(value),
    "integer": lambda value: int(str(value).strip()),
    "number": lambda value: float(str(value).strip()),
    "boolean": lambda value: boolean(value, strict=True),
    "list": _of_type((list, tuple), list),
    "mapping": _of_type(Mapping, dict),
}


def sweep_json(values):
    """sweep.json's object from values: every key of FIELDS (ValueError naming the missing
    and the unknown ones), each of its kind, in FIELDS' order."""
    keys = [field.key for field in FIELDS]
    missing = [key for key in keys if key not in values]
    unknown = sorted(set(values) - set(keys))
    if missing or unknown:
        raise ValueError(f"sweep.json: missing {missing}, unknown {unknown}")
    record = {}
    for field in FIELDS:
        try:
            record[field.key] = _TYPED[field.kind](values[field.key])
        except (TypeError, ValueError) as error:
            raise ValueError(
                f"sweep.json's {field.key} {values[field.key]!r} is no {field.kind}: {error}"
            ) from error
    return record
