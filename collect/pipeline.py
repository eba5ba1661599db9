"""`summarize`: a sweep's results directory read, analysed and rendered: runs.csv, plots,
summary.md, report.html, analysis.ipynb, and the sweep's rows in the history database.

Reading (collect.runs, collect.sweepfiles, collect.datafiles) gives the runs table and the
sweep's other files; the analysis (collect.analysis) every table of it, computed once; the
renderers (collect.summary, collect.report, collect.plots, collect.notebook) the outputs,
replaced together or not at all (collect.atomic).
"""

import errno
from pathlib import Path

import pandas as pd

from collect.analysis import Analysis, analyse
from collect.atomic import replacing_together
from collect.datafiles import NotRead
from collect.history import default_history_path, write_history
from collect.notebook import NOTEBOOK_FILE, notebook_text
from collect.plots import write_plots
from collect.report import CONTROL_CHARACTERS, REPORT_FILE, render_report
from collect.runs import collect_runs, read_sweep_facts
from collect.stats import add_derived_metrics
from collect.summary import render_summary
from collect.sweepfiles import read_sweep_files
from collect.verdicts import COMPARE_MIN_EFFECT


class OutputsKept(ValueError):
    """The outputs could not all be written (a full disk): the old ones are left whole."""


def summarize(
    results_dir: Path,
    history: Path | None = None,
    record_history: bool = True,
    min_effect: float = COMPARE_MIN_EFFECT,
) -> str:
    """Write runs.csv, plots/*.png, summary.md, report.html and analysis.ipynb (collect/
    notebook.py) into results_dir, record the sweep's runs in the history database
    (history, default results_dir/../history.sqlite) unless record_history is False;
    return summary.md. Comparisons use the practical threshold min_effect
    (verdicts.COMPARE_MIN_EFFECT).

    runs.csv is the single source of every figure: the summary, the report and the
    plots are made from the table that is written to it.
    """
    runs, analysis, files_not_read = read_results(results_dir, min_effect)
    try:
        with replacing_together() as outputs:
            csv_one_line(runs).to_csv(outputs.new(results_dir / "runs.csv"), index=False)
            plots = write_plots(analysis, results_dir / "plots", outputs)
            summary = render_summary(
                analysis, [path.relative_to(results_dir) for path in plots], files_not_read
            )
            outputs.new(results_dir / "summary.md").write_text(summary)
            report = render_report(analysis, plots, files_not_read)
            outputs.new(results_dir / REPORT_FILE).write_text(report)
            outputs.new(results_dir / NOTEBOOK_FILE).write_text(notebook_text())
    except OSError as error:
        full = error.errno in (errno.ENOSPC, errno.EDQUOT)
        raise OutputsKept(
            f"{results_dir}: {error.strerror or error}: nothing was replaced (runs.csv, "
            "plots/, summary.md and report.html are as they were)"
            + ("; free some space and run it again" if full else "")
        ) from error
    if record_history:
        write_history(runs, history or default_history_path(results_dir), results_dir)
    return summary


def read_results(
    results_dir: Path, min_effect: float = COMPARE_MIN_EFFECT
) -> tuple[pd.DataFrame, Analysis, dict[str, str]]:
    """What summarize reads of results_dir: the runs table, its analysis, and the files
    not read ({path relative to results_dir: why})."""
    if not results_dir.is_dir():
        raise FileNotFoundError(f"results directory not found: {results_dir}")
    not_read = NotRead()
    sweep = read_sweep_facts(results_dir, not_read)
    runs = add_derived_metrics(collect_runs(results_dir, sweep, not_read))
    analysis = analyse(runs, read_sweep_files(results_dir, sweep, not_read), min_effect)
    return runs, analysis, not_read.listed()


def csv_one_line(runs: pd.DataFrame) -> pd.DataFrame:
    """runs with every control character of its text (a newline in a flag set's name) as
    its backslash escape (\\n): no value from the sweep starts a line of runs.csv, which a
    reader by lines (or a file it was written over, such as authorized_keys) would take for
    a line of its own, quoted or not."""
    text = [name for name in runs.columns if pd.api.types.is_string_dtype(runs[name].dtype)]
    return runs.assign(**{name: runs[name].map(_one_line) for name in text})


def _one_line(value: object) -> object:
    if not isinstance(value, str):
        return value
    return CONTROL_CHARACTERS.sub(
        lambda match: match.group().encode("unicode_escape").decode("ascii"), value
    )
