"""Read a sweep's results directory (docs/results-layout.md) into one table, a row a run."""

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pandas as pd

from collect.datafiles import inside, read_text
from collect.parse import PERF_FIGURES, parse_perf_stat, parse_tok_s, unsupported_events

STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_TIMEOUT = "timeout"  # killed by the Slurm time limit
STATUS_CANCELLED = "cancelled"  # scancel, preemption

# Slurm states (scheduler.json) of a job that ended without its script finishing.
_SLURM_FAILED_STATES = ("FAILED", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE")
_SLURM_CANCELLED_STATES = ("CANCELLED", "PREEMPTED")

# runs.csv columns in order; meta.json keys not listed here are appended after them.
RUN_COLUMNS = (
    "index",
    "sweep_id",
    "partition",
    "host",
    "slurm_job_id",
    "slurm_array_job_id",
    "slurm_array_task_id",
    "cpu_model",
    "nproc",
    "model",
    "flag_set",
    "cflags",
    "threads",
    "repetition",
    "status",
    "reason",
    "tok_s",
    *PERF_FIGURES,
    "exit_status",
    "steps",
    "perf",
    "llama2c_commit",
    "checkpoint_sha256",
    "start_time",
    "end_time",
    "run_dir",
)

_INTEGER_COLUMNS = (
    "index",
    "slurm_job_id",
    "slurm_array_job_id",
    "slurm_array_task_id",
    "nproc",
    "threads",
    "repetition",
    "steps",
    "exit_status",
    "context_switches",
    "cpu_migrations",
    "page_faults",
    "cycles",
    "instructions",
    "branches",
    "branch_misses",
)

_FLOAT_COLUMNS = (
    "tok_s",
    "task_clock_ms",
    "cpus_utilized",
    "ipc",
    "elapsed_s",
    "user_s",
    "sys_s",
)

# run_name = NNNN-<model>-<flag_set>-t<threads>-r<repetition>
_RUN_NAME = re.compile(
    r"^(?P<index>\d+)-(?P<model_and_flag_set>.+)-t(?P<threads>\d+)-r(?P<repetition>\d+)$"
)

# Longest reason text kept from a log line, so one line of runs.csv stays readable.
_MAX_REASON_LINE = 200


@dataclass
class RunFiles:
    """The raw text of one run directory's files; None for a file that is absent."""

    name: str
    meta_text: str | None = None
    status_text: str | None = None
    stderr_text: str | None = None
    perf_text: str | None = None
    started: bool = True  # False for a manifest run that never made its directory
    slurm_text: str | None = None  # slurm.out: Slurm's own output of the array task

    @cached_property
    def meta(self) -> dict | None:
        """meta.json's object; None when absent or not a JSON object (e.g. truncated)."""
        if self.meta_text is None:
            return None
        try:
            meta = json.loads(self.meta_text)
        except json.JSONDecodeError:
            return None
        return meta if isinstance(meta, dict) else None

    @property
    def exit_status(self) -> int | None:
        """The integer in the status file, None when absent or unreadable."""
        try:
            return int(self.status_text)
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True)
class SweepFacts:
    """What the sweep itself records, used to fill in runs that left no meta.json."""

    sweep_id: str
    sweep_json: dict
    planned_runs: dict[str, dict]
    cflags_by_flag_set: dict[str, str]
    # Slurm sweeps: scheduler.json ({"builds": {partition: job}, "runs": {index: job}}) and
    # the first line of each partition's build.err
    scheduler: dict = field(default_factory=dict)
    build_errors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SlurmFacts:
    """What the scheduler last saw of one run's array task and of its partition's build."""

    partition: str = ""
    job: dict = field(default_factory=dict)  # scheduler.json's runs[index]
    build: dict = field(default_factory=dict)  # scheduler.json's builds[partition]
    build_error: str = ""  # first line of builds/<partition>/build.err


def read_run_files(run_dir: Path | str, results_dir: Path | str | None = None) -> RunFiles:
    """Read the files of one run directory (absent files stay None), only regular text
    files inside results_dir (default: the run's grandparent, as for runs/<name>)."""
    # Plain string paths: pathlib's overhead shows at 10,000 runs x 4 files.
    run_dir = os.fspath(run_dir)
    if results_dir is None:
        results_dir = os.path.dirname(os.path.dirname(run_dir))
    name = os.path.basename(run_dir)
    if not inside(run_dir, results_dir):
        return RunFiles(name=name)

    def text(file_name: str) -> str | None:
        return read_text(os.path.join(run_dir, file_name), results_dir, directory_checked=True)

    return RunFiles(
        name=name,
        meta_text=text("meta.json"),
        status_text=text("status"),
        stderr_text=text("stderr.txt"),
        perf_text=text("perf.txt"),
        slurm_text=text("slurm.out"),
    )


def parse_run_files(files: RunFiles) -> dict[str, float | None]:
    """tok_s from stderr.txt and the perf figures from perf.txt, and perf_unsupported:
    the events perf printed as `<not supported>`/`<not counted>`, `;`-joined (None if none).

    Without perf.txt, perf figures are looked for in stderr.txt, where `perf stat`
    writes when it is not given `-o`.
    """
    perf_text = files.perf_text if files.perf_text is not None else files.stderr_text
    return {
        "tok_s": parse_tok_s(files.stderr_text or ""),
        **parse_perf_stat(perf_text or ""),
        "perf_unsupported": ";".join(unsupported_events(perf_text or "")) or None,
    }


def run_status(
    files: RunFiles, tok_s: float | None, slurm: SlurmFacts | None = None
) -> tuple[str, str]:
    """(status, reason) of one run; reason is empty for a run that is ok.

    The single place that decides a run's status. The run's own files are the ground
    truth; for a run that could not write them (killed, cancelled, never started) the
    scheduler's last view (slurm) and Slurm's output of the task (slurm.out) say why:
    timeout, cancelled, or failed (a failed build, OUT_OF_MEMORY, NODE_FAIL, ...).
    """
    if files.meta is None or files.exit_status is None:
        scheduled = slurm_status(files, slurm or SlurmFacts())
        if scheduled is not None:
            return scheduled
    if not files.started:
        return STATUS_FAILED, "run never started (no run directory)"
    if files.meta_text is None:
        return STATUS_FAILED, "run did not finish (no meta.json)"
    if files.meta is None:
        return STATUS_FAILED, "meta.json is not a complete JSON object"
    if files.status_text is None:
        return STATUS_FAILED, "run did not finish (no status file)"
    exit_status = files.exit_status
    if exit_status is None:
        return STATUS_FAILED, f"status file holds no exit status: {files.status_text!r}"
    if exit_status != 0:
        return STATUS_FAILED, f"exit status {exit_status}: {_last_line(files.stderr_text)}"
    if files.stderr_text is None:
        return STATUS_FAILED, "no stderr.txt"
    if tok_s is None:
        return STATUS_FAILED, "no 'achieved tok/s' line in stderr.txt"
    return STATUS_OK, ""


def slurm_status(files: RunFiles, slurm: SlurmFacts) -> tuple[str, str] | None:
    """Status of a run that left no status: from the scheduler's state, None if it says nothing."""
    job, build = slurm.job, slurm.build
    state = job.get("state")
    job_name = f"Slurm job {job.get('job_id') or job.get('array_job_id', '?')}"
    if job.get("array_task_id") is not None and job.get("array_job_id"):
        job_name += f" ({job['array_job_id']}_{job['array_task_id']})"
    slurm_text = files.slurm_text or ""
    build_state = build.get("state")
    if not files.started and build_state not in (
        None,
        "COMPLETED",
        "PENDING",
        "RUNNING",
        "UNKNOWN",
    ):
        error = f": {slurm.build_error}" if slurm.build_error else ""
        return STATUS_FAILED, (
            f"build job {build.get('job_id')} of partition {slurm.partition} ended "
            f"{build_state} (exit {build.get('exit_code')}), so the run never started{error}"
        )
    if state == "TIMEOUT" or "DUE TO TIME LIMIT" in slurm_text:
        return STATUS_TIMEOUT, f"{job_name} reached its time limit (TIMEOUT)"
    if state in _SLURM_CANCELLED_STATES or (state is None and "CANCELLED AT" in slurm_text):
        reason = job.get("reason")
        detail = f", {reason}" if reason and reason != "None" else ""
        return STATUS_CANCELLED, f"{job_name} was cancelled ({state or 'CANCELLED'}{detail})"
    if state in _SLURM_FAILED_STATES:
        return STATUS_FAILED, (
            f"{job_name} ended {state} (exit {job.get('exit_code')}, reason {job.get('reason')})"
        )
    if "oom_kill" in slurm_text or "oom-kill" in slurm_text:
        return STATUS_FAILED, f"{job_name} ran out of memory (OUT_OF_MEMORY)"
    return None


def run_record(files: RunFiles, sweep: SweepFacts) -> dict:
    """One runs.csv row: meta.json's fields, the parsed figures, status and reason.

    meta.json wins; the manifest (or the run directory name) and the sweep's own
    files fill in what a run that did not finish could not write.
    """
    figures = parse_run_files(files)
    planned = sweep.planned_runs.get(files.name) or parse_run_name(
        files.name, sweep.cflags_by_flag_set
    )
    record = {
        "sweep_id": sweep.sweep_id,
        "steps": sweep.sweep_json.get("steps"),
        "llama2c_commit": sweep.sweep_json.get("llama2c_commit"),
        **planned,
        **(files.meta or {}),
    }
    slurm = slurm_facts(record, sweep)
    status, reason = run_status(files, figures["tok_s"], slurm)
    # A run killed before it wrote meta.json: the scheduler knows its job and node.
    for column, key in (
        ("slurm_job_id", "job_id"),
        ("slurm_array_job_id", "array_job_id"),
        ("slurm_array_task_id", "array_task_id"),
        ("host", "node"),
    ):
        if record.get(column) in (None, "") and slurm.job.get(key) not in (None, ""):
            record[column] = slurm.job[key]
    if record.get("cflags") is None:
        record["cflags"] = sweep.cflags_by_flag_set.get(record.get("flag_set"))
    if files.exit_status is not None:
        record["exit_status"] = files.exit_status
    record.update(figures, status=status, reason=reason, run_dir=f"runs/{files.name}")
    return record


def slurm_facts(record: dict, sweep: SweepFacts) -> SlurmFacts:
    """The scheduler's view of a run (empty outside Slurm sweeps)."""
    if not sweep.scheduler:
        return SlurmFacts()
    partition = str(record.get("partition") or "")
    job = (sweep.scheduler.get("runs") or {}).get(str(record.get("index")))
    build = (sweep.scheduler.get("builds") or {}).get(partition)
    return SlurmFacts(
        partition=partition,
        job=job if isinstance(job, dict) else {},
        build=build if isinstance(build, dict) else {},
        build_error=sweep.build_errors.get(partition, ""),
    )


def parse_run_name(run_name: str, flag_sets: Iterable[str] = ()) -> dict:
    """index, model, flag_set, threads, repetition from NNNN-<model>-<flag_set>-tT-rR.

    Model and flag-set names may both hold dashes; a known flag-set name (from
    sweep.json's flag_sets) settles the split, else the model is taken to end at the first dash.
    """
    match = _RUN_NAME.match(run_name)
    if match is None:
        return {}
    model_and_flag_set = match["model_and_flag_set"]
    known = [name for name in flag_sets if model_and_flag_set.endswith(f"-{name}")]
    if known:
        flag_set = max(known, key=len)
        model = model_and_flag_set[: -len(flag_set) - 1]
    else:
        model, _, flag_set = model_and_flag_set.partition("-")
    return {
        "index": int(match["index"]),
        "model": model,
        "flag_set": flag_set or None,
        "threads": int(match["threads"]),
        "repetition": int(match["repetition"]),
    }


def read_manifest_lines(text: str) -> list[tuple[list[str], dict]]:
    """(the fields, the static metadata JSON: {} when it does not parse) of every line of
    manifest.tsv with at least its first six columns, in order."""
    lines = []
    for line in text.splitlines():
        fields = line.split("\t")
        if len(fields) < 6:
            continue
        try:
            static_meta = json.loads(fields[8]) if len(fields) > 8 else {}
        except json.JSONDecodeError:
            static_meta = {}
        lines.append((fields, static_meta if isinstance(static_meta, dict) else {}))
    return lines


def read_manifest(text: str) -> dict[str, dict]:
    """run_name -> planned facts (index, model, flag_set, threads, repetition, and the
    run's static metadata from the last column when it parses).

    manifest.tsv: tab-separated, no header: index, run_name, model, flag_set, threads,
    repetition, binary, checkpoint, static meta JSON. Malformed lines are skipped: the
    manifest only fills in for runs that left no meta.json. Lines whose run_name holds a
    '/' (bandwidth/..., warmup/...) are characterisation, not runs, and are skipped too.
    """
    planned_runs = {}
    for fields, static_meta in read_manifest_lines(text):
        index, run_name, model, flag_set, threads, repetition = fields[:6]
        if "/" in run_name:
            continue
        try:
            planned_runs[run_name] = {
                **static_meta,
                "index": int(index),
                "model": model,
                "flag_set": flag_set,
                "threads": int(threads),
                "repetition": int(repetition),
            }
        except ValueError:
            continue
    return planned_runs


def read_sweep_facts(results_dir: Path) -> SweepFacts:
    """sweep.json and manifest.tsv of a results directory, when present."""
    sweep_json = _read_json_object(results_dir / "sweep.json", results_dir)
    flag_sets = sweep_json.get("flag_sets")
    cflags_by_flag_set = flag_sets if isinstance(flag_sets, dict) else {}
    scheduler = _read_json_object(results_dir / "scheduler.json", results_dir)
    build_errors = {}
    if scheduler:
        for build_err in sorted((results_dir / "builds").glob("*/build.err")):
            lines = [
                line.strip() for line in (read_text(build_err, results_dir) or "").splitlines()
            ]
            message = " ".join(line for line in lines[:2] if line)
            build_errors[build_err.parent.name] = message[: 2 * _MAX_REASON_LINE]
    return SweepFacts(
        sweep_id=sweep_json.get("sweep_id") or results_dir.resolve().name,
        sweep_json=sweep_json,
        planned_runs=read_manifest(read_text(results_dir / "manifest.tsv", results_dir) or ""),
        cflags_by_flag_set=cflags_by_flag_set,
        scheduler=scheduler,
        build_errors=build_errors,
    )


def collect_runs(results_dir: Path) -> pd.DataFrame:
    """The runs table of a results directory: one row per run of the manifest and per
    directory under runs/ (a run that never started still has its row).

    Rows are sorted by index; columns are RUN_COLUMNS then any other meta.json keys.
    """
    sweep = read_sweep_facts(results_dir)
    runs_dir = results_dir / "runs"
    started = (
        {entry.name for entry in os.scandir(runs_dir) if entry.is_dir()}
        if runs_dir.is_dir()
        else set()
    )
    records = [
        run_record(
            read_run_files(runs_dir / name) if name in started else RunFiles(name, started=False),
            sweep,
        )
        for name in sorted(started | sweep.planned_runs.keys())
    ]
    _fill_single_partition(records)
    return runs_table(records)


def runs_table(records: list[dict]) -> pd.DataFrame:
    """The runs DataFrame from run records, with runs.csv's column order and types."""
    extra_columns = sorted({key for record in records for key in record} - set(RUN_COLUMNS))
    table = pd.DataFrame.from_records(records, columns=[*RUN_COLUMNS, *extra_columns])
    for column in _FLOAT_COLUMNS:
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("float64")
    for column in _INTEGER_COLUMNS:
        table[column] = _nullable_integers(table[column])
    table = table.sort_values(["index", "run_dir"], na_position="last", kind="stable")
    return table.reset_index(drop=True)


def _fill_single_partition(records: list[dict]) -> None:
    # A run that left no meta.json has no partition; when the whole sweep ran on one
    # partition it is that one, so the run still counts in that partition's tables.
    partitions = {record.get("partition") for record in records} - {None}
    if len(partitions) == 1:
        (partition,) = partitions
        for record in records:
            if record.get("partition") is None:
                record["partition"] = partition


def _nullable_integers(column: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(column, errors="coerce")
    whole = numbers.dropna() % 1 == 0
    return numbers.astype("Int64") if whole.all() else numbers


def _last_line(text: str | None) -> str:
    if text is None:
        return "(no stderr.txt)"
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        return "(stderr.txt is empty)"
    return lines[-1][:_MAX_REASON_LINE]


def _read_json_object(path: Path, results_dir: Path) -> dict:
    text = read_text(path, results_dir)
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
