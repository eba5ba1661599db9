"""Read a sweep's results directory (docs/results-layout.md) into one table, a row a run:
each run task of plan.json joined with what it left in its directory."""

import json
import re
import signal
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from ansible_collections.llamasweep.sweep.plugins.module_utils import backends, sweep_rules

from collect.builds import read_build_records, rejection
from collect.datafiles import NotRead, read_text
from collect.parse import generated_tokens, parse_perf_stat, unsupported_events
from collect.perf_metrics import FIGURE_COLUMNS, PERF_FIGURES
from collect.plan import KIND_RUN, Plan, TaskFiles, read_plan, read_task_files

STATUS_OK = sweep_rules.STATUS_OK
STATUS_FAILED = sweep_rules.STATUS_FAILED
STATUS_TIMEOUT = sweep_rules.STATUS_TIMEOUT
STATUS_CANCELLED = sweep_rules.STATUS_CANCELLED


def comparable(runs: pd.DataFrame) -> pd.Series:
    """Which runs' tok/s enter the statistics and comparisons: ok, with a figure, and not
    stopped early (run.c sampled BOS: its tok/s is over fewer tokens and a shorter context
    than a full run's, so it is not a sample of the same thing)."""
    return (runs["status"] == STATUS_OK) & runs["tok_s"].notna() & ~stopped_early(runs)


def stopped_early(runs: pd.DataFrame) -> pd.Series:
    """Which runs are known to have stopped early (stopped_early true; not when it is
    unknown, or in a table of runs from before the collector counted tokens)."""
    if "stopped_early" not in runs:
        return pd.Series(False, index=runs.index)
    return runs["stopped_early"].map(lambda value: value is True).astype(bool)


# Where a task ran (execution.txt's facts; runs.csv's columns after the partition).
_WHERE_IT_RAN = (
    "host",
    "slurm_job_id",
    "slurm_array_job_id",
    "slurm_array_task_id",
    "cpu_model",
    "nproc",
)

# runs.csv columns in order; then EXTRA_COLUMNS, then any other column of the records.
RUN_COLUMNS = (
    "index",
    "sweep_id",
    "partition",
    *_WHERE_IT_RAN,
    "model",
    "flag_set",
    "cflags",
    "threads",
    "repetition",
    "status",
    "reason",
    "tok_s",
    *FIGURE_COLUMNS,
    "exit_status",
    "steps",
    "tokens",
    "stopped_early",
    "perf",
    "llama2c_commit",
    "checkpoint_sha256",
    "start_time",
    "end_time",
    "binary_sha256",
    "openmp",
    "run_dir",
)

# Facts a row carries beyond RUN_COLUMNS (warm-up rows add "warmup").
# emulated: a run of an emulated partition (under qemu), or of a node whose binaries run under
# qemu-user (execution.txt's emulated), kept out of every performance figure.
# signal: the signal that killed the run (ILL, SEGV, ...), empty when none did.
# declared_order: its configuration's place in the sweep's declared order (index is its
# place in the run order, shuffled within each repetition round).
EXTRA_COLUMNS = (
    "checkpoint_bytes",
    "duration_s",
    "perf_unsupported",
    "emulated",
    "signal",
    "declared_order",
)

# The record's facts a row takes (the plan's), and execution.txt's (the node's).
_RECORD_FACTS = (
    "index",
    "partition",
    "model",
    "flag_set",
    "cflags",
    "openmp",
    "threads",
    "repetition",
    "warmup",
    "steps",
    "llama2c_commit",
    "checkpoint_sha256",
    "checkpoint_bytes",
    "declared_order",
)
_EXECUTION_FACTS = (
    *_WHERE_IT_RAN,
    "exit_status",
    "perf",
    "start_time",
    "end_time",
    "duration_s",
    "binary_sha256",
)

_INTEGER_COLUMNS = (
    "index",
    "slurm_job_id",
    "slurm_array_job_id",
    "slurm_array_task_id",
    "nproc",
    "threads",
    "repetition",
    "warmup",
    "checkpoint_bytes",
    "declared_order",
    "steps",
    "tokens",
    "exit_status",
    *(figure.column for figure in PERF_FIGURES if figure.integer),
)

_FLOAT_COLUMNS = (
    "tok_s",
    "duration_s",
    *(figure.column for figure in PERF_FIGURES if not figure.integer),
)

# Longest reason text kept from a log line, so one line of runs.csv stays readable.
_MAX_REASON_LINE = 200


@dataclass(frozen=True)
class SweepFacts:
    """What the sweep records beside its tasks' directories: the plan, and on Slurm
    scheduler.json ({"builds": {partition: job}, "runs": {index: job}}) and the first
    line of each partition's build.err."""

    plan: Plan
    scheduler: dict = field(default_factory=dict)
    build_errors: dict[str, str] = field(default_factory=dict)
    # (partition, flag_set) -> builds/<partition>/<flag_set>.txt's keys (collect.builds)
    builds: dict[tuple[str, str], dict] = field(default_factory=dict)


@dataclass(frozen=True)
class SchedulerFacts:
    """What the scheduler (backend: the one that wrote scheduler.json) last saw of one task's
    job and of its partition's build."""

    backend: str = "local"
    partition: str = ""
    job: dict = field(default_factory=dict)  # scheduler.json's runs[index]
    build: dict = field(default_factory=dict)  # scheduler.json's builds[partition]
    build_error: str = ""  # first line of builds/<partition>/build.err


def parse_run_files(files: TaskFiles) -> dict[str, float | None]:
    """tok_s from stderr.txt and the perf figures from perf.txt, and perf_unsupported:
    the events perf printed as `<not supported>`/`<not counted>`, `;`-joined (None if none).

    Without perf.txt, perf figures are looked for in stderr.txt, where `perf stat`
    writes when it is not given `-o`.
    """
    perf_text = files.perf_text if files.perf_text is not None else files.stderr_text
    return {
        "tok_s": sweep_rules.parse_tok_s(files.stderr_text or ""),
        **parse_perf_stat(perf_text or ""),
        "perf_unsupported": ";".join(unsupported_events(perf_text or "")) or None,
    }


def run_status(files: TaskFiles, scheduler: SchedulerFacts | None = None) -> tuple[str, str]:
    """(status, reason) of one run; reason is empty for a run that is ok.

    The single place that decides a run's status: ok by sweep_rules.run_ok (the rule the
    profile selection uses), else why not. The run's own files are the ground truth; for
    a run that could not write them (killed, cancelled, never started) the scheduler's
    last view and its output of the task (slurm.out) say why, by the backend's rule
    (scheduled_status): timeout, cancelled, or failed (a failed build, OUT_OF_MEMORY,
    NODE_FAIL, ...).
    """
    if sweep_rules.run_ok(files.status_text, files.stderr_text):
        return STATUS_OK, ""
    if files.execution_text is None or files.exit_status is None:
        scheduled = scheduled_status(files, scheduler or SchedulerFacts())
        if scheduled is not None:
            return scheduled
    if not files.started:
        return STATUS_FAILED, "run never started (no run directory)"
    if files.execution_text is None:
        return STATUS_FAILED, "run did not finish (no execution.txt)"
    if files.status_text is None:
        return STATUS_FAILED, "run did not finish (no status file)"
    exit_status = files.exit_status
    if exit_status is None:
        return STATUS_FAILED, f"status file holds no exit status: {files.status_text!r}"
    killed_by = run_signal(files.execution.get("signal"), exit_status)
    if killed_by:
        return STATUS_FAILED, f"killed by {signal_text(killed_by)}, exit status {exit_status}"
    if exit_status != 0:
        return STATUS_FAILED, f"exit status {exit_status}: {_last_line(files.stderr_text)}"
    if files.stderr_text is None:
        return STATUS_FAILED, "no stderr.txt"
    return STATUS_FAILED, "no complete 'achieved tok/s' line with a finite figure in stderr.txt"


def run_signal(recorded: object, exit_status: int | None) -> str:
    """The name (ILL, SEGV, ...) of the signal that killed a run: execution.txt's signal,
    else the one an exit status above 128 stands for (the shell's 128+N); "" for none."""
    if isinstance(recorded, str) and recorded:
        return recorded.removeprefix("SIG")
    if exit_status is not None and 128 < exit_status < 128 + signal.NSIG:
        try:
            return signal.Signals(exit_status - 128).name.removeprefix("SIG")
        except ValueError:
            return ""
    return ""


def signal_text(name: str) -> str:
    """`SIGILL (Illegal instruction)` from ILL."""
    try:
        description = signal.strsignal(signal.Signals["SIG" + name])
    except (KeyError, ValueError):
        description = None
    return f"SIG{name}" + (f" ({description})" if description else "")


def illegal_instruction_note(cflags: object, cpu_model: object) -> str:
    """Why a run dies of SIGILL: its flag set's -march asks for an extension the node's CPU
    lacks (an RVV binary on a U740, an AVX-512 one on an older x86)."""
    march = re.findall(r"-march=(\S+)", cflags if isinstance(cflags, str) else "")
    asks = f"-march={march[-1]}" if march else "the compiler's default -march"
    node = cpu_model if isinstance(cpu_model, str) and cpu_model else "unknown"
    return f"this node's CPU lacks an extension the flag set asks for ({asks}; node's ISA: {node})"


def scheduled_status(files: TaskFiles, scheduler: SchedulerFacts) -> tuple[str, str] | None:
    """Status of a task that left no status: from the scheduler's view, by its backend's
    rule; None if it says nothing."""
    return backends.backend(scheduler.backend).scheduled_status(
        files.started,
        files.slurm_text or "",
        scheduler.job,
        scheduler.build,
        scheduler.build_error,
        scheduler.partition,
    )


def run_record(task: dict, files: TaskFiles, sweep: SweepFacts) -> dict:
    """One runs.csv row of a run (or warm-up) task: the record's facts, execution.txt's,
    the parsed figures, status and reason; run_dir is the record's dir."""
    figures = parse_run_files(files)
    execution = files.execution
    row = {
        "sweep_id": sweep.plan.sweep_id,
        **{key: task[key] for key in _RECORD_FACTS if key in task},
        **{key: execution.get(key) for key in _EXECUTION_FACTS},
    }
    scheduler = scheduler_facts(task, sweep)
    status, reason = run_status(files, scheduler)
    # A run killed before it wrote execution.txt: the scheduler knows its job and node.
    for column, key in (
        ("slurm_job_id", "job_id"),
        ("slurm_array_job_id", "array_job_id"),
        ("slurm_array_task_id", "array_task_id"),
        ("host", "node"),
    ):
        if row[column] in (None, "") and scheduler.job.get(key) not in (None, ""):
            row[column] = scheduler.job[key]
    if files.exit_status is not None:
        row["exit_status"] = files.exit_status
    row["signal"] = run_signal(execution.get("signal"), files.exit_status) or None
    if row["signal"] == "ILL" and status != STATUS_OK:
        reason += ": " + illegal_instruction_note(task.get("cflags"), row.get("cpu_model"))
    # A flag set the compiler rejected left no binary: its compiler's message says why.
    flag_set = task.get("flag_set")
    rejected = rejection(flag_set, sweep.builds.get((task["partition"], flag_set)))
    if status != STATUS_OK and rejected:
        reason = rejected
    tokens, stopped_early = generated_tokens(figures["tok_s"], task.get("positions"))
    row.update(figures, status=status, reason=reason, run_dir=task["dir"])
    row.update(tokens=tokens, stopped_early=stopped_early)
    row["emulated"] = task.get("emulated") is True or execution.get("emulated") is True
    return row


def emulated_rows(runs: pd.DataFrame) -> pd.Series:
    """Which rows are of emulated partitions (qemu): they prove a flag set compiles, runs
    and generates tokens, and are kept out of every performance table and comparison."""
    if "emulated" not in runs:
        return pd.Series(False, index=runs.index, dtype=bool)
    return runs["emulated"].map(lambda value: value is True or value == 1).astype(bool)


def scheduler_facts(task: dict, sweep: SweepFacts) -> SchedulerFacts:
    """The scheduler's view of a task (empty where no scheduler.json was written). A
    scheduler.json names the backend whose states it holds; one that names none is from
    before it did, when only Slurm's progress report wrote one; one that names a backend
    this project lacks says nothing (a results directory is data)."""
    if not sweep.scheduler:
        return SchedulerFacts()
    partition = task["partition"]
    job = (sweep.scheduler.get("runs") or {}).get(str(task["index"]))
    build = (sweep.scheduler.get("builds") or {}).get(partition)
    backend = sweep.scheduler.get("backend", backends.backend_slurm.NAME)
    return SchedulerFacts(
        backend=backend if backend in backends.NAMES else backends.backend_local.NAME,
        partition=partition,
        job=job if isinstance(job, dict) else {},
        build=build if isinstance(build, dict) else {},
        build_error=sweep.build_errors.get(partition, ""),
    )


def read_sweep_facts(results_dir: Path, not_read: NotRead | None = None) -> SweepFacts:
    """plan.json (NotASweepError without it) and, on Slurm, scheduler.json and build.err;
    the files not read noted in not_read."""
    plan = read_plan(results_dir, not_read)
    scheduler = _read_json_object(results_dir / "scheduler.json", results_dir, not_read)
    build_errors = {}
    if scheduler:
        for build_err in sorted((results_dir / "builds").glob("*/build.err")):
            lines = [
                line.strip()
                for line in (read_text(build_err, results_dir, not_read) or "").splitlines()
            ]
            message = " ".join(line for line in lines[:2] if line)
            build_errors[build_err.parent.name] = message[: 2 * _MAX_REASON_LINE]
    return SweepFacts(
        plan=plan,
        scheduler=scheduler,
        build_errors=build_errors,
        builds=read_build_records(results_dir, not_read),
    )


def collect_task_rows(
    results_dir: Path, sweep: SweepFacts, kind: str, not_read: NotRead | None = None
) -> list[dict]:
    """The rows of every task of kind (run or warmup), whether or not it started; the files
    not read noted in not_read."""
    return [
        run_record(task, read_task_files(results_dir, task, not_read=not_read), sweep)
        for task in sweep.plan.of_kind(kind)
    ]


def collect_runs(
    results_dir: Path, sweep: SweepFacts | None = None, not_read: NotRead | None = None
) -> pd.DataFrame:
    """The runs table of a results directory: one row per run task of plan.json (a run
    that never started still has its row), sorted by index; columns RUN_COLUMNS, then
    EXTRA_COLUMNS. NotASweepError when results_dir has no plan.json. The files not read
    are noted in not_read."""
    sweep = sweep or read_sweep_facts(results_dir, not_read)
    return runs_table(collect_task_rows(results_dir, sweep, KIND_RUN, not_read))


def runs_table(records: list[dict]) -> pd.DataFrame:
    """The runs DataFrame from run records, with runs.csv's column order and types."""
    others = {key for record in records for key in record} - {*RUN_COLUMNS, *EXTRA_COLUMNS}
    extra_columns = [*EXTRA_COLUMNS, *sorted(others)]
    table = pd.DataFrame.from_records(records, columns=[*RUN_COLUMNS, *extra_columns])
    for column in [column for column in _FLOAT_COLUMNS if column in table]:
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("float64")
    for column in [column for column in _INTEGER_COLUMNS if column in table]:
        table[column] = _nullable_integers(table[column])
    table = table.sort_values(["index", "run_dir"], na_position="last", kind="stable")
    return table.reset_index(drop=True)


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


def _read_json_object(path: Path, results_dir: Path, not_read: NotRead | None) -> dict:
    text = read_text(path, results_dir, not_read)
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
