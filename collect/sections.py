"""The sections summary.md and report.html share, each built once from a sweep's analysis
as a document-model Section (collect/document.py): collect.summary renders them to
Markdown, collect.report to HTML."""

import pandas as pd

from collect.analysis import Analysis
from collect.checks import CHECKS_METHOD, SUSPECT, Check
from collect.document import Code, Facts, Flagged, Section, Table
from collect.formatting import cell_text
from collect.runs import STATUS_OK


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
