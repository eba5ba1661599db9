"""summary.md from the runs table, and `summarize`: runs.csv + summary.md + plots."""

import math
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from collect.plots import write_plots
from collect.runs import STATUS_OK, collect_runs
from collect.stats import flag_set_table


def summarize(results_dir: Path) -> str:
    """Write runs.csv, plots/*.png and summary.md into results_dir; return summary.md.

    runs.csv is the single source of the summary and the plots: both are made from
    the table that is written to it.
    """
    if not results_dir.is_dir():
        raise FileNotFoundError(f"results directory not found: {results_dir}")
    runs = collect_runs(results_dir)
    runs.to_csv(results_dir / "runs.csv", index=False)
    plot_files = write_plots(runs, results_dir / "plots")
    summary = render_summary(runs, [path.relative_to(results_dir) for path in plot_files])
    (results_dir / "summary.md").write_text(summary)
    return summary


def render_summary(runs: pd.DataFrame, plot_files: Sequence[Path] = ()) -> str:
    """summary.md: an overview, per partition and model a table of tok/s by flag set
    (and thread count when several were run), the plots, and every failed run."""
    lines = [f"# llamasweep summary: sweep {_joined(runs['sweep_id'])}", ""]
    lines += [_overview(runs), ""]
    if not runs.empty:
        lines += [
            "Median, min and max are tok/s of the runs that are ok; speedup is the median "
            "over the median of the first flag set in the sweep's order at the same "
            "thread count.",
            "",
        ]
    table = flag_set_table(runs)
    for partition, partition_rows in table.groupby("partition", sort=False):
        lines += [f"## Partition `{partition}`", ""]
        lines += [_node_facts(runs[runs["partition"] == partition]), ""]
        for model, model_rows in partition_rows.groupby("model", sort=False):
            lines += _model_section(model, model_rows)
    if plot_files:
        lines += ["## Plots", ""]
        lines += [f"- [{path.stem}]({path.as_posix()})" for path in plot_files]
        lines += [""]
    lines += _failures_section(runs)
    return "\n".join(lines) + "\n"


def _overview(runs: pd.DataFrame) -> str:
    if runs.empty:
        return "No runs: the results directory has no run directory under runs/."
    counts = runs["status"].value_counts()
    statuses = [STATUS_OK, *sorted(set(counts.index) - {STATUS_OK})]
    by_status = ", ".join(f"{counts.get(status, 0)} {status}" for status in statuses)
    facts = [f"{len(runs)} runs: {by_status}."]
    if runs["llama2c_commit"].notna().any():
        facts.append(f"llama2.c commit {_joined(runs['llama2c_commit'])}.")
    if runs["steps"].notna().any():
        facts.append(f"Steps: {_joined(runs['steps'])}.")
    return " ".join(facts)


def _node_facts(partition_runs: pd.DataFrame) -> str:
    return (
        f"Hosts: {_joined(partition_runs['host'])}; "
        f"CPU: {_joined(partition_runs['cpu_model'])}; "
        f"nproc: {_joined(partition_runs['nproc'])}."
    )


def _model_section(model: str, rows: pd.DataFrame) -> list[str]:
    several_thread_counts = rows["threads"].nunique(dropna=False) > 1
    heading = f"### {model}"
    if not several_thread_counts:
        heading += f" ({_joined(rows['threads'])} threads)"
    header = ["flag set", "cflags"]
    header += ["threads"] if several_thread_counts else []
    header += ["runs ok", "median tok/s", "min", "max", "speedup"]
    body = []
    for row in rows.itertuples(index=False):
        cells = [row.flag_set, f"`{row.cflags}`" if _present(row.cflags) else ""]
        cells += [_text(row.threads)] if several_thread_counts else []
        cells += [
            f"{row.runs_ok}/{row.runs_total}",
            _tok_s(row.median),
            _tok_s(row.min),
            _tok_s(row.max),
            "—" if math.isnan(row.speedup) else f"{row.speedup:.2f}×",
        ]
        body.append(cells)
    # Columns from the third on (threads or runs ok) hold numbers.
    return [heading, "", *_markdown_table(header, body, right_aligned_from=2), ""]


def _failures_section(runs: pd.DataFrame) -> list[str]:
    failed = runs[runs["status"] != STATUS_OK]
    if failed.empty:
        return ["## Failures", "", "None."]
    body = [
        [f"`{row.run_dir}`", row.status, _text(row.reason)]
        for row in failed.itertuples(index=False)
    ]
    return [
        f"## Failures ({len(failed)})",
        "",
        *_markdown_table(["run", "status", "reason"], body, right_aligned_from=3),
    ]


def _markdown_table(header: list[str], body: list[list[str]], right_aligned_from: int) -> list[str]:
    # Numbers are right-aligned; "|" inside a cell would end it, so it is escaped.
    alignment = [
        "---:" if position >= right_aligned_from else "---" for position in range(len(header))
    ]
    rows = [header, alignment, *body]
    return ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]


def _joined(column: pd.Series) -> str:
    """The distinct known values of a column, in order of appearance, or "?"."""
    values = [_text(value) for value in column.dropna().unique()]
    return ", ".join(values) if values else "?"


def _tok_s(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:.2f}"


def _text(value: object) -> str:
    return str(value) if _present(value) else ""


def _present(value: object) -> bool:
    return not pd.isna(value) and value != ""
