"""The tasks and files of a results directory other than the runs
(docs/results-layout.md): sweep.json, the scripts that ran, builds/, facts/, and the
bandwidth, warm-up and profile tasks of plan.json, each joined with what it left in its
directory. Every reader tolerates a missing or malformed file: the report then says what
is missing instead of failing. Only regular text files inside the results directory are
read (collect/datafiles.py).
"""

import json
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from collect.checks import Check, read_checks
from collect.datafiles import NotRead, read_text
from collect.plan import (
    KIND_BANDWIDTH,
    KIND_PROFILE,
    KIND_WARMUP,
    Plan,
    TaskFiles,
    read_task_files,
)
from collect.profiles import fold_perf_script, format_folded
from collect.roofline import BANDWIDTH_COLUMNS
from collect.runs import (
    SweepFacts,
    collect_task_rows,
    read_sweep_facts,
    runs_table,
    scheduled_status,
    scheduler_facts,
)

# Longest text of one recorded file shown in the report (a plan of 10,000 tasks is not):
# longer files are cut, saying so.
MAX_RECORDED_TEXT = 20_000

# `perf script` output of a profiling run, folded by the collector when the run has no
# profile.folded: the sweep leaves it when FlameGraph could not fold it on the node.
PERF_SCRIPT_FILE = "perf.script"
# What the node's profile selection chose (sweep_rules.py select-profile).
SELECTION_FILE = "selection.json"
_PROFILE_FILES = ("profile.folded", "flamegraph.svg", PERF_SCRIPT_FILE, SELECTION_FILE)

# The profile facts profile.sh adds to execution.txt, beside every task's.
_PROFILE_EXECUTION_FACTS = (
    "host",
    "emulated",  # a node under qemu-user, where perf record samples nothing
    "event",
    "call_graph",
    "frequency",
    "samples",
    "command",
    "duration_s",
    "svg_off_reason",
)
# selection.json's facts shown with a profile.
_SELECTION_FACTS = ("flag_set", "threads", "binary", "median", "runs_considered")


@dataclass
class Profile:
    """One profiling task: its directory, its facts (the record's partition, model,
    selector, steps; selection.json's flag_set, threads, median; execution.txt's
    host, event, call_graph, ...), its status ("ok" or why not) and its outputs."""

    dir: str
    info: dict
    status: str
    folded_text: str | None
    svg_text: str | None

    @property
    def run_name(self) -> str:
        """The name of its directory under profiles/ (readable: nobody decodes it)."""
        return posixpath.basename(self.dir)


@dataclass
class SweepFiles:
    """Everything of a results directory that is not a benchmark run."""

    sweep_json: dict = field(default_factory=dict)
    # partition -> its flag sets without OpenMP, run at 1 thread only (plan.json)
    single_thread_flag_sets: dict[str, list[str]] = field(default_factory=dict)
    # partition -> {flag set: why it was not submitted} (plan.json's dropped_flag_sets)
    dropped_flag_sets: dict[str, dict[str, str]] = field(default_factory=dict)
    facts: dict[str, dict] = field(default_factory=dict)
    bandwidth: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=[*BANDWIDTH_COLUMNS, "file"])
    )
    warmups: pd.DataFrame | None = None
    checks: list[Check] | None = None  # None: the plan holds no check task
    profiles: list[Profile] | None = None  # None: the plan holds no profile task
    recorded: list[tuple[str, str]] = field(default_factory=list)  # (path, text)
    # (partition, flag_set) -> its build record (collect.builds)
    builds: dict[tuple[str, str], dict] = field(default_factory=dict)


def read_sweep_files(
    results_dir: Path, sweep: SweepFacts | None = None, not_read: NotRead | None = None
) -> SweepFiles:
    """Read the non-run tasks and files of a results directory (sweep: its plan.json and
    scheduler view, read when not given; NotASweepError without plan.json); the files not
    read noted in not_read."""
    sweep = sweep or read_sweep_facts(results_dir, not_read)
    return SweepFiles(
        sweep_json=_read_json_object(results_dir / "sweep.json", results_dir, not_read) or {},
        single_thread_flag_sets=sweep.plan.single_thread_flag_sets(),
        dropped_flag_sets=sweep.plan.dropped_flag_sets(),
        facts=read_facts(results_dir, not_read),
        bandwidth=read_bandwidth(results_dir, sweep.plan, not_read),
        warmups=read_warmups(results_dir, sweep, not_read),
        checks=read_checks(results_dir, sweep.plan, not_read),
        profiles=read_profiles(results_dir, sweep, not_read),
        recorded=read_recorded(results_dir, not_read),
        builds=sweep.builds,
    )


def read_facts(results_dir: Path, not_read: NotRead | None = None) -> dict[str, dict]:
    """partition -> facts/<partition>.json (the partition named by the file)."""
    return {
        path.stem: facts
        for path in _sorted_files(results_dir / "facts", ".json")
        if (facts := _read_json_object(path, results_dir, not_read)) is not None
    }


def read_bandwidth(results_dir: Path, plan: Plan, not_read: NotRead | None = None) -> pd.DataFrame:
    """One row per bandwidth task that measured (triad's JSON object in its stdout.txt):
    BANDWIDTH_COLUMNS, then file (its stdout.txt). partition, threads, label and
    working_set_bytes are the record's, host execution.txt's, best_gb_s and trials triad's."""
    records = []
    for task in plan.of_kind(KIND_BANDWIDTH):
        files = read_task_files(results_dir, task, not_read=not_read)
        measurement = _json_object(files.stdout_text)
        if measurement is None or files.exit_status != 0:
            continue
        records.append(
            {column: measurement.get(column) for column in BANDWIDTH_COLUMNS}
            | {key: task[key] for key in ("partition", "threads", "label", "working_set_bytes")}
            | {"host": files.execution.get("host"), "file": f"{task['dir']}/stdout.txt"}
        )
    table = pd.DataFrame.from_records(records, columns=[*BANDWIDTH_COLUMNS, "file"])
    for column in ("threads", "working_set_bytes", "trials"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("Int64")
    table["best_gb_s"] = pd.to_numeric(table["best_gb_s"], errors="coerce").astype("float64")
    return table


def read_warmups(
    results_dir: Path, sweep: SweepFacts, not_read: NotRead | None = None
) -> pd.DataFrame | None:
    """The warm-up tasks as runs rows (with a warmup column); None when the plan holds
    none. They are never rows of runs.csv."""
    if not sweep.plan.of_kind(KIND_WARMUP):
        return None
    return runs_table(collect_task_rows(results_dir, sweep, KIND_WARMUP, not_read))


def read_profiles(
    results_dir: Path, sweep: SweepFacts, not_read: NotRead | None = None
) -> list[Profile] | None:
    """The profile tasks of the plan, in order, whether or not they ran; None when the
    plan holds none."""
    tasks = sweep.plan.of_kind(KIND_PROFILE)
    if not tasks:
        return None
    profiles = []
    for task in tasks:
        files = read_task_files(results_dir, task, _PROFILE_FILES, not_read)
        execution = files.execution
        selection = _json_object(files.extra[SELECTION_FILE]) or {}
        info = {
            "partition": task["partition"],
            "model": task["model"],
            "selector": task["selector"],
            "steps": task["steps"],
            **{key: selection.get(key) for key in _SELECTION_FACTS if key in selection},
            **{key: execution[key] for key in _PROFILE_EXECUTION_FACTS if key in execution},
        }
        profiles.append(
            Profile(
                dir=task["dir"],
                info=info,
                status=_profile_status(task, files, sweep),
                folded_text=_folded_text(files.extra),
                svg_text=files.extra["flamegraph.svg"],
            )
        )
    return profiles


def _profile_status(task: dict, files: TaskFiles, sweep: SweepFacts) -> str:
    """ "ok", or why the profile task failed or did not finish (the scheduler's view on
    Slurm: timeout, cancelled, ...)."""
    if files.exit_status is None:
        scheduled = scheduled_status(files, scheduler_facts(task, sweep))
        if scheduled is not None:
            return scheduled[1]
        if not files.started:
            return "profiling run never started (no directory)"
        return "profiling run did not finish (no status file)"
    failure = (files.execution.get("failure") or "").strip()  # a stderr line's newline: a space
    if files.exit_status != 0 or failure:
        return failure or f"profiling run exited with status {files.exit_status}"
    return "ok"


def _folded_text(outputs: dict[str, str | None]) -> str | None:
    # profile.folded, else the collector folds `perf script` output left as perf.script
    # (for nodes without FlameGraph's stackcollapse-perf.pl).
    if outputs["profile.folded"] is not None:
        return outputs["profile.folded"]
    script = outputs[PERF_SCRIPT_FILE]
    return None if script is None else format_folded(fold_perf_script(script))


# builds/<partition>/: records (*.txt), compiler, build job and probe output (*.log, *.out, *.err).
_BUILD_RECORD_SUFFIXES = (".txt", ".log", ".out", ".err")


def read_recorded(results_dir: Path, not_read: NotRead | None = None) -> list[tuple[str, str]]:
    """(path relative to results_dir, text) of the files that say exactly what ran:
    sweep.json, the rendered scripts (*.sh), the first lines of tasks.tsv, and every
    builds/ record (compile commands, compiler versions, binaries' sha256, compiler
    output; not the bandwidth benchmark's binary beside them). Long files are cut."""
    paths = [results_dir / "sweep.json", *_sorted_files(results_dir, ".sh")]
    paths += sorted(
        path
        for path in (results_dir / "builds").rglob("*")
        if path.suffix in _BUILD_RECORD_SUFFIXES and path.is_file()
    )
    recorded = []
    for path in paths:
        text = read_text(path, results_dir, not_read)
        if text is not None:
            recorded.append((path.relative_to(results_dir).as_posix(), _cut(text)))
    tasks = read_text(results_dir / "tasks.tsv", results_dir, not_read)
    if tasks is not None:
        lines = tasks.splitlines()
        head = "\n".join(lines[:3])
        more = f"\n… ({len(lines)} lines in all, one a task)" if len(lines) > 3 else ""
        recorded.append(("tasks.tsv", head + more))
    return recorded


def _cut(text: str) -> str:
    if len(text) <= MAX_RECORDED_TEXT:
        return text
    return text[:MAX_RECORDED_TEXT] + f"\n… (cut: {len(text):,} characters in all)"


def _sorted_files(directory: Path, suffix: str) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if path.suffix == suffix and path.is_file())


def _read_json_object(path: Path, results_dir: Path, not_read: NotRead | None) -> dict | None:
    return _json_object(read_text(path, results_dir, not_read))


def _json_object(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
