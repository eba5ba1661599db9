"""The sections summary.md and report.html share, each built once from a sweep's analysis
as a document-model Section (collect/document.py): collect.summary renders them to
Markdown, collect.report to HTML."""

import pandas as pd

from collect.analysis import Analysis
from collect.checks import CHECKS_METHOD, SUSPECT, Check
from collect.document import Code, Facts, Flagged, Section, Table
from collect.drift import drift_sentence
from collect.formatting import (
    cell_text,
    joined_text,
    percent_text,
    status_counts_text,
    threads_text,
)
from collect.runs import STATUS_OK, stopped_early
from collect.stats import NOISY_CV
from collect.verdicts import method_text


def overview_section(analysis: Analysis) -> Section:
    """What the sweep ran (its runs by status, llama2.c, models, the generation's settings,
    warm-ups, run order, drift, flame graphs) and how every figure is computed."""
    runs = analysis.runs
    sweep = analysis.files.sweep_json
    facts = (
        ("sweep", analysis.sweep_id),
        ("created", cell_text(sweep.get("created"))),
        ("partitions", ", ".join(analysis.partitions)),
        ("runs", _runs_text(runs)),
        ("emulated (qemu) partitions", ", ".join(analysis.emulated_partitions)),
        ("emulated runs", _runs_text(analysis.emulated) if len(analysis.emulated) else ""),
        ("llama2.c", joined_text([sweep.get("llama2c_repo"), *runs["llama2c_commit"].dropna()])),
        ("models", joined_text(runs["model"])),
        ("steps", joined_text(runs["steps"])),
        (
            "seed, temperature, top-p",
            ", ".join(cell_text(sweep.get(key)) or "?" for key in ("seed", "temperature", "topp")),
        ),
        ("repetitions", cell_text(sweep.get("repetitions"))),
        ("warm-up", warmup_text(analysis)),
        ("run order", _order_text(analysis)),
        ("drift over the sweep", _drift_text(analysis)),
        ("flame graphs", analysis.flame_graph_status()),
    )
    blocks = [
        *_no_runs_paragraphs(analysis),
        Facts(tuple((name, value) for name, value in facts if value)),
        *_stopped_early_paragraphs(runs),
        *_method_paragraphs(analysis),
    ]
    return Section("overview", "Overview", None, tuple(blocks))


def warmup_text(analysis: Analysis) -> str:
    """How many warm-up runs were discarded, and how many of them were ok."""
    warmups = analysis.files.warmups
    if warmups is None:
        return "no warm-up runs"
    ok = int((warmups["status"] == STATUS_OK).sum()) if not warmups.empty else 0
    return f"{len(warmups)} warm-up runs ({ok} ok) discarded: logged apart, not rows of runs.csv"


def _runs_text(runs: pd.DataFrame) -> str:
    """`15 (13 ok, 2 failed)`, or `none`."""
    return f"{len(runs)} ({status_counts_text(runs['status'])})" if len(runs) else "none"


def _order_text(analysis: Analysis) -> str:
    seed = analysis.files.sweep_json.get("order_seed")
    if seed is None:
        return ""
    return (
        f"shuffled within each repetition round (seed {seed}: -e sweep_order_seed={seed} "
        "repeats it), rounds in order"
    )


def _drift_text(analysis: Analysis) -> str:
    """The drift's sentence of each partition (collect/drift.py)."""
    return " ".join(
        f"{row.partition}: {drift_sentence(row)}" for row in analysis.drift.itertuples(index=False)
    )


def _no_runs_paragraphs(analysis: Analysis) -> list[str]:
    """Why there is no figure: no run at all, or only runs under qemu."""
    if not analysis.runs.empty:
        return []
    emulated = analysis.emulated
    if emulated.empty:
        return ["No runs: the results directory has no run directory under runs/."]
    ok = int((emulated["status"] == STATUS_OK).sum())
    return [
        f"No run on real hardware: all {len(emulated)} runs ({ok} ok) executed under qemu "
        "(see Emulated below): they show whether each flag set builds, runs and generates "
        "tokens on those nodes, never a speed."
    ]


def _stopped_early_paragraphs(runs: pd.DataFrame) -> list[str]:
    """The runs that stopped before their positions, and which configurations they were."""
    early = runs[stopped_early(runs)]
    if early.empty:
        return []
    configurations = ", ".join(
        dict.fromkeys(
            f"{row.flag_set} at {threads_text(row.threads)}" for row in early.itertuples()
        )
    )
    return [
        f"{len(early)} runs stopped early (run.c sampled BOS: tok/s over fewer tokens and a "
        "shorter context than a full run's, so left out of every statistic and comparison; "
        f"runs.csv stopped_early): {configurations}."
    ]


def _method_paragraphs(analysis: Analysis) -> list[str]:
    return [
        "Every figure is over the runs that are ok: the median, with min, max and CV, the "
        "sample standard deviation (ddof = 1) over the mean of the repetitions. A "
        f"configuration whose CV of tok/s is over {percent_text(NOISY_CV)} is flagged noisy. "
        "With one ok run there is no noise estimate (—).",
        "Speedup (throughput tables) is the median over the median of the partition's first "
        "flag set in the sweep's order at the same thread count; thread scaling compares each "
        "thread count with the fewest threads run (1 unless the sweep skipped it): efficiency "
        "= speedup / (threads / baseline threads). Each speedup carries an interval and a "
        "verdict. " + method_text(analysis.min_effect),
        "Roofline: llama2.c reads every weight once per token, so tok/s ≤ bandwidth / "
        "checkpoint bytes; of bound is the median over that bound. The bandwidth is the "
        "sweep's STREAM-like triad (best of its trials, GB = 10^9 bytes) at the "
        "configuration's thread count (one thread for a binary built without OpenMP), at the "
        "model's own working set when measured (it may fit a large last-level cache), else at "
        "the large working set (DRAM).",
        "perf: GHz = cycles / task-clock; branch-miss rate = branch-misses / branches; "
        "instructions and page faults per token are over the steps, a forward pass each (run.c's "
        "tok/s counts steps − 1: its first pass is not timed; perf also counts loading the "
        "checkpoint).",
    ]


def dropped_flag_sets_section(dropped: dict[str, dict[str, str]]) -> Section | None:
    """The flag sets left out before submitting, with why (plan.json's dropped_flag_sets);
    None when none was."""
    rows = tuple(
        (Code(partition), Code(flag_set), reason)
        for partition, reasons in dropped.items()
        for flag_set, reason in reasons.items()
    )
    if not rows:
        return None
    return Section(
        "dropped",
        "Flag sets not submitted",
        len(rows),
        (
            "Left out before anything was submitted (validation before queueing, or the "
            "partition's compiler refused their -march): no rows of runs.csv.",
            Table(("partition", "flag set", "why"), rows, numeric_from=3),
        ),
    )


def failures_section(analysis: Analysis) -> Section:
    """Every run that is not ok, in run order, the emulated partitions' too (a flag set
    that does not compile for RISC-V is a failure to see)."""
    runs, emulated = analysis.runs, analysis.emulated
    runs = pd.concat([runs, emulated]) if len(emulated) else runs
    failed = runs[runs["status"] != STATUS_OK].sort_values("index", kind="stable")
    if failed.empty:
        return Section("failures", "Failures", None, ("None.",))
    emulated = int(failed["partition"].isin(analysis.emulated_partitions).sum())
    runs_text = "1 failed run" if len(failed) == 1 else f"{len(failed)} failed runs"
    note = f" ({emulated} of emulated partitions)" if emulated else ""
    rows = tuple(
        (Code(row.run_dir), Code(row.partition), row.status, cell_text(row.reason))
        for row in failed.itertuples(index=False)
    )
    return Section(
        "failures",
        "Failures",
        len(failed),
        (
            f"{runs_text}{note}.",
            Table(("run", "partition", "status", "reason"), rows, numeric_from=4),
        ),
    )


def files_not_read_section(files_not_read: dict[str, str]) -> Section | None:
    """The files of the results directory that were not read, with why
    (collect/datafiles.py); None when every one was."""
    if not files_not_read:
        return None
    return Section(
        "not-read",
        "Files not read",
        len(files_not_read),
        (
            "Only regular text files inside the results directory are read, and only the "
            "task records of plan.json that a sweep writes; these were not:",
            Facts(tuple((Code(path), why) for path, why in files_not_read.items())),
        ),
    )


def checks_section(checks: list[Check] | None) -> Section | None:
    """Each build's check run (collect/checks.py): its greedy text against the reference
    build's, a suspect one flagged; None for a sweep without check runs."""
    if checks is None:
        return None
    rows = tuple(
        (
            Code(check.partition),
            check.model,
            Code(check.flag_set),
            Flagged(check.text) if check.verdict == SUSPECT else check.text,
        )
        for check in checks
    )
    table = Table(("partition", "model", "flag set", "check"), rows, numeric_from=4)
    return Section("checks", "Output checks", None, (CHECKS_METHOD, table))
