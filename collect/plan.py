"""A sweep's plan.json, read as data (docs/results-layout.md), and the raw files a task
leaves in its directory.

plan.json comes from a results directory, possibly someone else's: every task record is
checked against what a sweep writes (its kind's keys, each of its type) and one that is
not is skipped with a note (summary.md lists it under "Files not read"); a kind this
collector does not know is skipped the same way. The collector never executes anything
from it: it only joins each record with what the task left in its directory.
"""

import json
import os
import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from collect.datafiles import NotRead, inside, note, read_text

PLAN_FILE = "plan.json"
EXECUTION_FILE = "execution.txt"

KIND_BANDWIDTH = "bandwidth"
KIND_WARMUP = "warmup"
KIND_CHECK = "check"
KIND_RUN = "run"
KIND_PROFILE = "profile"

_OPTIONAL_TEXT = (str, type(None))
_INTEGER = (int,)  # bool is an int to Python, never to a plan: see _has_type
_TEXT = (str,)

# Every record's keys, then each kind's (contract: issue 11, section 2). Keys beyond these
# are allowed and ignored: a newer sweep may record more.
_COMMON_KEYS = {"index": _INTEGER, "kind": _TEXT, "dir": _TEXT, "partition": _TEXT}
_BENCHMARK_KEYS = {
    "threads": _INTEGER,
    "model": _TEXT,
    "flag_set": _TEXT,
    "cflags": _TEXT,
    "openmp": (bool,),
    "binary": _TEXT,
    "checkpoint": _TEXT,
    "checkpoint_sha256": _OPTIONAL_TEXT,
    "checkpoint_bytes": (int, type(None)),
    "steps": _INTEGER,
    "llama2c_commit": _OPTIONAL_TEXT,
}
_KIND_KEYS = {
    KIND_RUN: {**_BENCHMARK_KEYS, "repetition": _INTEGER},
    KIND_WARMUP: {**_BENCHMARK_KEYS, "warmup": _INTEGER},
    KIND_CHECK: {**_BENCHMARK_KEYS, "temperature": (int, float)},
    KIND_BANDWIDTH: {
        "threads": _INTEGER,
        "label": _TEXT,
        "working_set_bytes": _INTEGER,
        "trials": _INTEGER,
        "binary": _TEXT,
    },
    KIND_PROFILE: {
        "threads": (type(None),),
        "model": _TEXT,
        "selector": _TEXT,
        "checkpoint": _TEXT,
        "checkpoint_sha256": _OPTIONAL_TEXT,
        "steps": _INTEGER,
        "llama2c_commit": _OPTIONAL_TEXT,
        "binaries": (dict,),
    },
}

# execution.txt values that are numbers or booleans; every other value is text ("" -> None).
_EXECUTION_INTEGERS = (
    "nproc",
    "exit_status",
    "slurm_job_id",
    "slurm_array_job_id",
    "slurm_array_task_id",
    "frequency",
    "samples",
)
_EXECUTION_FLOATS = ("duration_s",)
_EXECUTION_BOOLEANS = ("perf", "emulated")


class NotASweepError(FileNotFoundError):
    """A results directory without plan.json (an older sweep's, or no sweep's)."""


@dataclass(frozen=True)
class Plan:
    """plan.json: the sweep id, the partition plans and the valid task records by kind."""

    sweep_id: str
    partitions: list[dict]
    tasks: list[dict]

    def of_kind(self, kind: str) -> list[dict]:
        """The task records of one kind, in index order."""
        return [task for task in self.tasks if task["kind"] == kind]

    def single_thread_flag_sets(self) -> dict[str, list[str]]:
        """partition -> its flag sets without OpenMP (run at 1 thread only)."""
        return {
            partition["name"]: partition["single_thread_flag_sets"] for partition in self.partitions
        }

    def dropped_flag_sets(self) -> dict[str, dict[str, str]]:
        """partition -> {flag set: why it was not submitted} (validation before queueing,
        the compiler probe); partitions that dropped none are left out."""
        dropped = {}
        for partition in self.partitions:
            reasons = partition.get("dropped_flag_sets")
            if isinstance(reasons, dict) and reasons:
                dropped[partition["name"]] = {str(k): str(v) for k, v in reasons.items()}
        return dropped


@dataclass
class TaskFiles:
    """The raw text of one task directory's files; None for a file that is absent."""

    dir: str  # relative to the results directory, the record's dir
    started: bool = False  # whether the task made its directory
    execution_text: str | None = None
    status_text: str | None = None
    stderr_text: str | None = None
    stdout_text: str | None = None
    perf_text: str | None = None
    slurm_text: str | None = None  # slurm.out: Slurm's own output of the array task
    extra: dict[str, str | None] = field(default_factory=dict)  # other files asked for

    @property
    def execution(self) -> dict:
        """execution.txt's facts, typed (see parse_execution)."""
        return parse_execution(self.execution_text or "")

    @property
    def exit_status(self) -> int | None:
        """The integer in the status file, None when absent or unreadable."""
        try:
            return int(self.status_text)
        except (TypeError, ValueError):
            return None


def read_plan(results_dir: Path, not_read: NotRead | None = None) -> Plan:
    """plan.json of results_dir, its records checked; NotASweepError without one.

    A malformed top level (not an object with a sweep_id, a partitions list and a tasks
    list) is a ValueError naming what is wrong; a malformed record is skipped with a note
    in not_read.
    """
    path = results_dir / PLAN_FILE
    text = read_text(path, results_dir, not_read)
    if text is None:
        raise NotASweepError(f"{results_dir} has no {PLAN_FILE}: not a sweep of this version")
    try:
        plan = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"{path} is not JSON: {error}") from None
    if not isinstance(plan, dict):
        raise ValueError(f"{path} is not a JSON object: {type(plan).__name__}")
    sweep_id, partitions, tasks = plan.get("sweep_id"), plan.get("partitions"), plan.get("tasks")
    if not isinstance(sweep_id, str) or not sweep_id:
        raise ValueError(f"{path}: sweep_id is {sweep_id!r}, not a sweep id")
    if not isinstance(partitions, list) or not isinstance(tasks, list):
        raise ValueError(f"{path}: partitions and tasks must be lists")
    return Plan(
        sweep_id=sweep_id,
        partitions=[
            partition
            for position, partition in enumerate(partitions)
            if _valid_partition(partition, position, results_dir, not_read)
        ],
        tasks=[
            task
            for position, task in enumerate(tasks)
            if _valid_task(task, position, results_dir, not_read)
        ],
    )


def record_errors(task: object, position: int) -> list[str]:
    """Why task, at position in plan.json's tasks, is not a record a sweep writes ([] if it is)."""
    if not isinstance(task, dict):
        return [f"a {type(task).__name__}, not an object"]
    kind = task.get("kind")
    if not isinstance(kind, str) or kind not in _KIND_KEYS:
        return [f"kind {kind!r} is none of {', '.join(_KIND_KEYS)}"]
    errors = [
        f"{key} is missing"
        if key not in task
        else f"{key} is {task[key]!r}, not {' or '.join(expected.__name__ for expected in types)}"
        for key, types in (_COMMON_KEYS | _KIND_KEYS[kind]).items()
        if key not in task or not _has_type(task[key], types)
    ]
    if errors:
        return errors
    if task["index"] != position:
        errors.append(f"index {task['index']} is not its position {position}")
    directory = task["dir"]
    if posixpath.isabs(directory) or ".." in directory.split("/") or not directory.strip("/."):
        errors.append(f"dir {directory!r} is not a path inside the results directory")
    if kind == KIND_PROFILE and not all(
        isinstance(name, str) and isinstance(binary, str)
        for name, binary in task["binaries"].items()
    ):
        errors.append("binaries is not an object of flag set -> binary path")
    return errors


def parse_execution(text: str) -> dict:
    """execution.txt's key=value lines as a dict: the value is the rest of the line, raw;
    numbers and booleans typed (None when empty or unreadable), other empty values None."""
    facts: dict = {}
    for line in text.splitlines():
        key, separator, value = line.partition("=")
        if not separator or not key:
            continue
        if key in _EXECUTION_INTEGERS:
            facts[key] = _number(value, int)
        elif key in _EXECUTION_FLOATS:
            facts[key] = _number(value, float)
        elif key in _EXECUTION_BOOLEANS:
            facts[key] = {"true": True, "false": False}.get(value)
        else:
            facts[key] = value or None
    return facts


def read_task_files(
    results_dir: Path,
    task: dict,
    extra: tuple[str, ...] = (),
    not_read: NotRead | None = None,
) -> TaskFiles:
    """The files of the record's directory (absent ones None), only regular text files
    inside results_dir (the others noted in not_read); extra: other file names to read
    into TaskFiles.extra."""
    # Plain string paths: pathlib's overhead shows at 10,000 runs x 6 files.
    directory = os.path.join(os.fspath(results_dir), task["dir"])
    return read_task_dir(directory, results_dir, task["dir"], extra, not_read)


def read_task_dir(
    directory: str | os.PathLike,
    results_dir: str | os.PathLike,
    name: str | None = None,
    extra: tuple[str, ...] = (),
    not_read: NotRead | None = None,
) -> TaskFiles:
    """The files of a task directory inside results_dir (name: its dir, default directory;
    the files not read noted in not_read)."""
    directory, name = os.fspath(directory), name or os.fspath(directory)
    if not os.path.isdir(directory) or not inside(directory, results_dir, not_read):
        return TaskFiles(name, extra=dict.fromkeys(extra))

    def text(file_name: str) -> str | None:
        path = os.path.join(directory, file_name)
        return read_text(path, results_dir, not_read, directory_checked=True)

    return TaskFiles(
        dir=name,
        started=True,
        execution_text=text(EXECUTION_FILE),
        status_text=text("status"),
        stderr_text=text("stderr.txt"),
        stdout_text=text("stdout.txt"),
        perf_text=text("perf.txt"),
        slurm_text=text("slurm.out"),
        extra={name: text(name) for name in extra},
    )


def _valid_task(task: object, position: int, results_dir: Path, not_read: NotRead | None) -> bool:
    errors = record_errors(task, position)
    if errors:
        why = "not a task record a sweep writes, skipped: " + "; ".join(errors)
        note(not_read, results_dir / f"{PLAN_FILE} tasks[{position}]", results_dir, why)
    return not errors


def _valid_partition(
    partition: object, position: int, results_dir: Path, not_read: NotRead | None
) -> bool:
    valid = (
        isinstance(partition, dict)
        and isinstance(partition.get("name"), str)
        and isinstance(partition.get("single_thread_flag_sets"), list)
        and all(isinstance(name, str) for name in partition["single_thread_flag_sets"])
    )
    if not valid:
        why = "not a partition plan a sweep writes (name, single_thread_flag_sets), skipped"
        note(not_read, results_dir / f"{PLAN_FILE} partitions[{position}]", results_dir, why)
    return valid


def _has_type(value: object, types: tuple[type, ...]) -> bool:
    if isinstance(value, bool):
        return bool in types
    return isinstance(value, types)


def _number(text: str, kind: type) -> int | float | None:
    try:
        return kind(text)
    except ValueError:
        return None
