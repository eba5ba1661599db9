"""summary.md: a sweep's analysis rendered as Markdown (collect.pipeline writes it).

summary.md is what `make sweep` prints at the end: the essentials (tok/s with its
spread, the fraction of the bandwidth bound, the best thread count, unsupported perf
counters, whether flame graphs were recorded) and a pointer to report.html, which holds
every table.
"""

import math
import re
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from collect.analysis import Analysis, analyse
from collect.checks import flag_set_label
from collect.document import Cell, Code, Facts, Flagged, Section, Table
from collect.drift import drift_sentence
from collect.findings import Finding
from collect.formatting import (
    cell_text,
    cv_text,
    decimal_text,
    joined_text,
    known_text,
    percent_text,
    ratio_text,
    runs_ok_text,
    thread_count_text,
    threads_text,
)
from collect.perf_metrics import PERF_FIGURES
from collect.report import REPORT_FILE
from collect.riscv import emulated_outcomes, riscv_builds
from collect.sections import (
    checks_section,
    dropped_flag_sets_section,
    failures_section,
    files_not_read_section,
    overview_section,
)
from collect.stats import add_derived_metrics, noise_band_text
from collect.verdicts import interval_text

# Marks a fraction of the bound computed from the large working set's bandwidth.
LARGE_MARK = "†"

# What the summary quotes (names, flags, hosts, reasons from run outputs) is data: Markdown
# and HTML in it must show as text. These are CommonMark's characters that can start markup
# mid-line (a quoted value is never at the start of a line: newlines become spaces); "!"
# starts an image only before "[", which is escaped, and "_" inside a word (sweep_profile)
# is never emphasis.
_MARKDOWN_MARKUP = re.compile(r"([\\`*\[\]<>&~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")


def render_summary(
    analysis: Analysis | pd.DataFrame,
    plot_files: Sequence[Path] = (),
    files_not_read: dict[str, str] | None = None,
) -> str:
    """summary.md: an overview, per partition and model a table of tok/s by flag set
    (and thread count when several were run) with its spread and the fraction of the
    bandwidth bound, the best thread counts, the perf counters the partition did not
    support, the plots, flame graphs on or off, every failed run, and the files of the
    results directory that were not read (files_not_read: path -> why). A bare runs table
    is analysed without the sweep's other files. Every quoted value is escaped."""
    if isinstance(analysis, pd.DataFrame):
        analysis = analyse(add_derived_metrics(analysis))
    runs = analysis.runs
    lines = [f"# llamasweep summary: sweep {markdown_text(analysis.sweep_id)}", ""]
    lines += _findings_section(analysis.findings)
    lines += markdown_section(overview_section(analysis))
    lines += [
        f"Every table, the perf counters, flame graphs and hardware facts: "
        f"[{REPORT_FILE}]({REPORT_FILE}).",
        "",
    ]
    roofline = _roofline_cells(analysis.roofline)
    for partition, partition_rows in analysis.table.groupby("partition", sort=False):
        lines += [f"## Partition {markdown_code(partition)}", ""]
        lines += [_node_facts(runs[runs["partition"] == partition]), ""]
        lines += [noise_band_text(analysis.noise, partition), ""]
        for model, model_rows in partition_rows.groupby("model", sort=False):
            lines += _model_section(model, model_rows, roofline, analysis.suspect)
        single_thread = analysis.files.single_thread_flag_sets.get(partition, [])
        notes = analysis.single_thread_notes(partition)
        lines += [*(f"- {markdown_text(note)}" for note in notes), *([""] if notes else [])]
        scaling = analysis.scaling
        lines += _scaling_lines(
            scaling[(scaling["partition"] == partition) & ~scaling["flag_set"].isin(single_thread)]
        )
        lines += _perf_support_lines(analysis.perf_support, partition)
    checks = checks_section(analysis.files.checks)
    lines += markdown_section(checks) if checks else []
    lines += _drift_section(analysis)
    if plot_files:
        lines += ["## Plots", ""]
        lines += [f"- [{path.stem}]({path.as_posix()})" for path in plot_files]
        lines += [""]
    lines += _emulated_section(analysis)
    lines += _riscv_builds_section(analysis)
    lines += ["## Flame graphs", "", markdown_text(analysis.flame_graph_status()), ""]
    lines += _hottest_frame_lines(analysis)
    dropped = dropped_flag_sets_section(analysis.files.dropped_flag_sets)
    lines += markdown_section(dropped) if dropped else []
    lines += markdown_section(failures_section(analysis))
    not_read = files_not_read_section(files_not_read or {})
    lines += markdown_section(not_read) if not_read else []
    # each section ends with a blank line: the file ends with one newline
    return "\n".join(lines).rstrip("\n") + "\n"


def _drift_section(analysis: Analysis) -> list[str]:
    """How much tok/s drifted over the sweep, a line per partition (collect/drift.py)."""
    if analysis.drift.empty:
        return []
    seed = analysis.files.sweep_json.get("order_seed")
    order = (
        "Within each repetition round the configurations ran in a shuffled order "
        f"({markdown_code(f'-e sweep_order_seed={seed}')} repeats it), so drift spreads "
        "over every configuration. "
        if seed is not None
        else ""
    )
    lines = [
        "## Drift over the sweep",
        "",
        f"{order}Each ok run's tok/s over its configuration's median, against its start "
        "time: the median of the configurations' Theil-Sen slopes times the sweep's span, "
        "with the order-statistic interval of that median over the configurations, at the "
        "level it reaches (collect/drift.py).",
        "",
    ]
    lines += [
        f"- {markdown_code(row.partition)}: {markdown_text(drift_sentence(row))}"
        for row in analysis.drift.itertuples(index=False)
    ]
    return [*lines, ""]


def _hottest_frame_lines(analysis: Analysis) -> list[str]:
    """One line per profile with folded stacks: the function with the most self samples."""
    lines = []
    for item in analysis.profiles or []:
        if item.top is None or item.top.empty:
            continue
        hottest = item.top.iloc[0]
        selector = item.profile.info.get("selector")
        chosen = f" ({markdown_text(selector)})" if selector else ""
        lines.append(
            f"- {markdown_text(item.label)}{chosen}: hottest frame "
            f"{markdown_code(hottest.function)}, "
            f"{hottest.self_pct:.1f} % of samples"
        )
    return [*lines, ""] if lines else []


def _node_facts(partition_runs: pd.DataFrame) -> str:
    return (
        f"Hosts: {joined_text(partition_runs['host'], markdown_text)}; "
        f"CPU: {joined_text(partition_runs['cpu_model'], markdown_text)}; "
        f"nproc: {joined_text(partition_runs['nproc'], markdown_text)}."
    )


def _roofline_cells(roofline: pd.DataFrame) -> dict[tuple, str]:
    cells = {}
    for row in roofline.itertuples(index=False):
        if math.isnan(row.fraction):
            continue
        mark = LARGE_MARK if row.working_set == "large" else ""
        cells[(row.partition, row.model, row.threads, row.flag_set)] = (
            percent_text(row.fraction) + mark
        )
    return cells


def _model_section(
    model: str, rows: pd.DataFrame, roofline: dict[tuple, str], suspect: dict
) -> list[str]:
    several_thread_counts = rows["threads"].nunique(dropna=False) > 1
    heading = f"### {markdown_text(model)}"
    if not several_thread_counts:
        heading += f" ({joined_text(rows['threads'], markdown_text)} threads)"
    keys = [(row.partition, row.model, row.threads, row.flag_set) for row in rows.itertuples()]
    with_bound = any(key in roofline for key in keys)
    header = ["flag set", "cflags"]
    header += ["threads"] if several_thread_counts else []
    header += ["runs ok", "median tok/s", "min", "max", "CV", "speedup", "interval", "verdict"]
    header += ["of bound"] if with_bound else []
    body = []
    for key, row in zip(keys, rows.itertuples(index=False), strict=True):
        cells = [
            markdown_text(flag_set_label(row.flag_set, row.partition, row.model, suspect)),
            markdown_code(row.cflags) if cell_text(row.cflags) else "",
        ]
        cells += [thread_count_text(row.threads)] if several_thread_counts else []
        cells += [
            runs_ok_text(row.runs_ok, row.runs_total),
            decimal_text(row.median),
            decimal_text(row.min),
            decimal_text(row.max),
            cv_text(row.cv, row.noisy),
            ratio_text(row.speedup),
            interval_text(row.speedup_low, row.speedup_high),
            row.speedup_verdict_text,
        ]
        cells += [roofline.get(key, "—")] if with_bound else []
        body.append(cells)
    lines = [heading, "", *markdown_table(header, body, right_aligned_from=2), ""]
    if with_bound and any(roofline.get(key, "").endswith(LARGE_MARK) for key in keys):
        lines += [
            f"{LARGE_MARK} bound from the large working set: no bandwidth measurement at "
            "the checkpoint's size.",
            "",
        ]
    return lines


def _findings_section(findings: Sequence[Finding]) -> list[str]:
    if not findings:
        return []
    items = []
    for finding in findings:
        support = "; ".join(part for part in (finding.evidence, finding.confidence) if part)
        items.append(
            f"- **{markdown_text(finding.conclusion)}** {markdown_text(finding.text)}"
            + (f" ({markdown_text(support)})" if support else "")
        )
    return ["## Findings", "", *items, ""]


def _scaling_lines(scaling: pd.DataFrame) -> list[str]:
    best = scaling[scaling["best"]]
    if best.empty:
        return []
    items = [
        f"{markdown_text(row.model)} {markdown_text(row.flag_set)}: {threads_text(row.threads)}, "
        f"{ratio_text(row.speedup)} over {thread_count_text(row.baseline_threads)} "
        f"({interval_text(row.speedup_low, row.speedup_high)}, {row.speedup_verdict_text}), "
        f"efficiency {percent_text(row.efficiency)}"
        for row in best.itertuples(index=False)
    ]
    return ["Best thread count: " + "; ".join(items) + ".", ""]


def _perf_support_lines(support: pd.DataFrame, partition: str) -> list[str]:
    rows = support[support["partition"] == partition]
    if rows.empty:
        return []
    row = rows.iloc[0]
    if row["perf_runs"] == 0:
        return ["perf stat: no run of this partition has perf stat figures.", ""]
    parts = []
    if row["not_supported"]:
        parts.append(f"not supported: {markdown_text(', '.join(row['not_supported']))}")
    if row["never_measured"]:
        parts.append(f"not measured: {markdown_text(', '.join(row['never_measured']))}")
    text = "; ".join(parts) if parts else "every counter of the event list was counted"
    return [f"perf stat counters: {text}.", ""]


def _emulated_section(analysis: Analysis) -> list[str]:
    """Per emulated partition and flag set (riscv.emulated_outcomes): whether it compiled,
    its runs ran and generated tokens. Never a performance figure."""
    outcomes = emulated_outcomes(analysis.emulated, analysis.files.builds)
    if outcomes.empty:
        return []
    body = [
        [markdown_code(row.partition), markdown_code(row.flag_set), row.compiles,
         runs_ok_text(row.runs_ok, row.runs), "yes" if row.runs_ok else "no",
         markdown_text(row.outcome)]
        for row in outcomes.itertuples(index=False)
    ]  # fmt: skip
    return [
        "## Emulated (qemu) partitions",
        "",
        "Whether each flag set compiles, runs and generates tokens under the emulator: "
        "these rows are in no performance table (qemu's speed is not the chip's).",
        "",
        *_emulated_nodes_lines(analysis.emulated),
        *markdown_table(
            ["partition", "flag set", "compiles", "runs ok", "tokens", "outcome"], body, 6
        ),
        "",
        *_emulated_perf_lines(analysis.emulated),
    ]


def _emulated_nodes_lines(emulated: pd.DataFrame) -> list[str]:
    """Partitions whose nodes themselves run under qemu-user (execution.txt's emulated: a
    replica's riscv64 nodes): what their rows show and do not."""
    on_nodes = _on_emulated_nodes(emulated)
    if on_nodes.empty:
        return []
    partitions = ", ".join(markdown_code(name) for name in on_nodes["partition"].unique())
    cpus = "; ".join(markdown_text(str(cpu)) for cpu in on_nodes["cpu_model"].unique())
    return [
        f"The nodes of {partitions} run under qemu-user themselves: the build, the probe "
        "and the runs are the nodes' own (their gcc, binutils and riscv64 binaries), their "
        "faults those the emulated CPU gives; their /proc/cpuinfo is the host's, so the CPU "
        f"is what the node executes: {cpus}.",
        "",
    ]


def _on_emulated_nodes(emulated: pd.DataFrame) -> pd.DataFrame:
    """The rows of nodes that run under qemu-user themselves (not an emulated partition's,
    whose runs the controller's qemu executes)."""
    if "cpu_model" not in emulated:
        return emulated.iloc[0:0]
    return emulated[emulated["cpu_model"].astype(str).str.contains("under qemu-user")]


def _emulated_perf_lines(emulated: pd.DataFrame) -> list[str]:
    """One line on perf for the rows of emulated nodes: qemu-user counts nothing."""
    emulated = _on_emulated_nodes(emulated)
    if emulated.empty or "perf" not in emulated:
        return []
    with_perf = emulated[emulated["perf"].map(lambda value: value is True or value == 1)]
    if with_perf.empty:
        return ["perf stat: not used on these nodes' runs (no perf there, or not asked for).", ""]
    # elapsed, user and sys come with every perf stat: the counters are the others.
    counters = [
        figure.column
        for figure in PERF_FIGURES
        if figure.column in with_perf and figure.time_line is None
    ]
    counted = with_perf[counters].notna().any(axis=None)
    if counted:
        return []
    partitions = ", ".join(markdown_code(name) for name in with_perf["partition"].unique())
    return [
        f"perf stat ran on {partitions} and counted nothing (every event `<not supported>`: "
        "qemu-user does not emulate perf_event_open): these rows have no counters.",
        "",
    ]


def _riscv_builds_section(analysis: Analysis) -> list[str]:
    """What each RISC-V binary holds (riscv.riscv_builds): its vector instructions and the
    loops the compiler reported vectorised; a flag set whose -march asks for vectors and
    got none is flagged."""
    lines = []
    for row in riscv_builds(analysis.files.builds).itertuples(index=False):
        line = (
            f"- {markdown_code(row.partition)} / {markdown_code(row.flag_set)} "
            f"(-march={markdown_text(row.march or 'default')}): "
            f"{known_text(row.vector_instructions)} vector instructions, "
            f"{known_text(row.vectorized_loops)} loops vectorised"
        )
        if row.vectors_missing:
            line += (
                " — **asks for a vector extension but the binary holds no vector "
                "instruction**: its figures say nothing about what vectors do"
            )
        if not pd.isna(row.undecoded_instructions) and row.undecoded_instructions:
            line += (
                f" — **{row.undecoded_instructions} instructions the node's objdump cannot "
                "decode** (an extension its binutils do not know, e.g. XTheadVector before "
                "2.42): not counted as vector instructions, which may be more"
            )
        lines.append(line)
    if not lines:
        return []
    return ["## RISC-V builds", "", *lines, ""]


def markdown_section(section: Section) -> list[str]:
    """A section of the document model (collect/document.py) as Markdown lines: its
    heading with its count, each paragraph, table and list of facts followed by a blank
    line."""
    count = f" ({section.count})" if section.count is not None else ""
    lines = [f"## {markdown_text(section.title)}{count}", ""]
    for block in section.blocks:
        if isinstance(block, Table):
            body = [[_markdown_cell(cell) for cell in row] for row in block.rows]
            lines += markdown_table(list(block.header), body, block.numeric_from)
        elif isinstance(block, Facts):
            lines += [
                f"- {_markdown_cell(name)}: {_markdown_cell(value)}" for name, value in block.pairs
            ]
        else:
            lines.append(markdown_text(block))
        lines.append("")
    return lines


def _markdown_cell(cell: Cell) -> str:
    if isinstance(cell, Code):
        return markdown_code(cell.text)
    if isinstance(cell, Flagged):
        return f"**{markdown_text(cell.text)}**"
    return markdown_text(cell)


def markdown_table(header: list[str], body: list[list[str]], right_aligned_from: int) -> list[str]:
    """The lines of a Markdown table: columns from right_aligned_from on (numbers) are
    right-aligned; "|" inside a cell would end it, so it is escaped."""
    alignment = [
        "---:" if position >= right_aligned_from else "---" for position in range(len(header))
    ]
    rows = [header, alignment, *body]
    return ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]


def markdown_text(value: object) -> str:
    """value as Markdown text on one line: markup characters escaped, so that a quoted
    name or message shows as written and never as a link, an image, emphasis or HTML."""
    return _MARKDOWN_MARKUP.sub(r"\\\g<0>", " ".join(str(value).split()))


def markdown_code(value: object) -> str:
    """value as a Markdown code span on one line, whatever backticks it holds."""
    text = " ".join(str(value).split())
    fence = "`" * (max(map(len, re.findall("`+", text)), default=0) + 1)
    padding = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{padding}{text}{padding}{fence}"
