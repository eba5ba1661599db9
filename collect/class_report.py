"""A class's sweeps as one table (`python -m collect class DIR...`): the instructor's view.

Each DIR is a student's results directory, read as data under the same rules as any
handed-over results (collect.runs.collect_runs: plan.json's records, regular text files
inside the directory); the student is the account that owns its plan.json (the file
system says so, not the sweep; for a sweep fetched by playbooks/fetch-class.yml, the account
that owned it on cluster storage, as that fetch recorded in a marker of the account reading:
student_of), or a pseudonym with anonymise.
From the merged runs (class-runs.csv, a `student` column added), per configuration
(partition, model, flag set, threads), over the runs that count (runs.comparable):

- sweeps: how many students' sweeps measured it;
- the class median: the median of the students' medians;
- across: the CV of the students' medians, the spread between sweeps, next to within: the
  median of each student's own CV of tok/s, the spread inside one sweep;
- outliers: a student whose median lies outside the CONFIDENCE prediction interval that
  the other students' medians give for one more sweep (verdicts.prediction_interval, at
  least MIN_RUNS others), with its ratio to their geometric mean.
"""

import os
import pwd
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_rules
from scipy import stats

from collect.atomic import write_text
from collect.fetch import fetch_marker
from collect.formatting import cv_text, decimal_text, ratio_text, thread_count_text
from collect.notebook import NOTEBOOK_FILE, notebook_text
from collect.plan import PLAN_FILE
from collect.runs import collect_runs, comparable
from collect.stats import add_derived_metrics
from collect.summary import markdown_code, markdown_table, markdown_text
from collect.verdicts import ALPHA, CONFIDENCE_TEXT, MIN_RUNS, interval_text, prediction_interval

CLASS_RUNS_FILE = "class-runs.csv"
CLASS_REPORT_FILE = "class.md"
KEYS = list(sweep_rules.CONFIGURATION)


def student_of(results_dir: Path, reader_uid: int | None = None) -> str:
    """Whose sweep results_dir is: the account that owned it on cluster storage where a
    class's fetch (playbooks/fetch-class.yml) brought it, else the account that owns its
    plan.json (its uid where no account has it). The fetch's marker is believed only when it
    is a regular file of the account reading it (reader_uid, this process's by default),
    which is the account that fetched: a directory handed over by other means could carry a
    marker naming anyone."""
    reader_uid = os.getuid() if reader_uid is None else reader_uid
    fetched_from = fetch_marker(results_dir, owner=reader_uid).get("student")
    if isinstance(fetched_from, str) and fetched_from:
        return fetched_from
    uid = (results_dir / PLAN_FILE).lstat().st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def class_runs(results_dirs: Sequence[Path], anonymise: bool = False) -> pd.DataFrame:
    """Every directory's runs table with its `student` (pseudonyms student-1, ... in the
    order of the accounts' names with anonymise) and `sweep_dir`; ValueError when two
    directories are the same sweep."""
    tables, seen = [], {}
    for results_dir in results_dirs:
        real = os.path.realpath(results_dir)
        if real in seen:
            raise ValueError(f"{results_dir} is {seen[real]} again: each sweep counts once")
        seen[real] = results_dir
        runs = add_derived_metrics(collect_runs(Path(results_dir)))  # runs.csv's columns
        tables.append(
            runs.assign(student=student_of(Path(results_dir)), sweep_dir=str(results_dir))
        )
    runs = pd.concat(tables, ignore_index=True)
    if anonymise:
        names = {name: f"student-{n}" for n, name in enumerate(sorted(runs["student"].unique()), 1)}
        runs["student"] = runs["student"].map(names)
    return runs


@dataclass(frozen=True)
class ClassView:
    """The configurations table and the outliers (module docstring)."""

    configurations: pd.DataFrame
    outliers: pd.DataFrame


def class_view(runs: pd.DataFrame) -> ClassView:
    """The class's configurations (KEYS, sweeps, class_median, across_cv, within_cv) and
    outliers (KEYS, student, sweep_dir, median, low, high, ratio) from class_runs's table:
    each sweep counts once, a student's second sweep as another."""
    counted = runs[comparable(runs)]
    per_sweep = (
        counted.groupby([*KEYS, "sweep_dir", "student"], sort=False)["tok_s"]
        .agg(median="median", cv=lambda values: sweep_rules.coefficient_of_variation(values))
        .reset_index()
    )
    configurations = (
        per_sweep.groupby(KEYS, sort=False)
        .agg(
            sweeps=("sweep_dir", "nunique"),
            class_median=("median", "median"),
            across_cv=("median", lambda values: sweep_rules.coefficient_of_variation(values)),
            within_cv=("cv", "median"),
        )
        .reset_index()
    )
    outliers = []
    for _, group in per_sweep.groupby(KEYS, sort=False):
        for position, row in enumerate(group.itertuples(index=False)):
            others = group["median"].drop(group.index[position]).to_numpy()
            if len(others) < MIN_RUNS:
                continue
            low, high = prediction_interval(others)
            if not low <= row.median <= high:
                outliers.append(
                    {
                        **{key: getattr(row, key) for key in KEYS},
                        "student": row.student,
                        "sweep_dir": row.sweep_dir,
                        "median": row.median,
                        "low": low,
                        "high": high,
                        "ratio": row.median / stats.gmean(others),
                    }
                )
    columns = [*KEYS, "student", "sweep_dir", "median", "low", "high", "ratio"]
    return ClassView(configurations, pd.DataFrame(outliers, columns=columns))


def render_class_report(view: ClassView, students: Sequence[str]) -> str:
    """class.md: the configurations table and the outliers; students: each sweep's."""
    lines = [
        f"# Class report: {len(students)} sweeps",
        "",
        "Students: "
        + ", ".join(markdown_text(student) for student in dict.fromkeys(students))
        + ".",
        "",
        "Per configuration: how many sweeps measured it, the median of their medians, the "
        "spread between sweeps (CV of the sweeps' medians: across) next to the spread inside "
        "one (the median of the sweeps' own CVs: within). The same configuration measured by "
        "many students is the best estimate of the noise there is.",
        "",
    ]
    body = [
        [
            markdown_code(row.partition),
            markdown_text(row.model),
            markdown_code(row.flag_set),
            thread_count_text(row.threads),
            str(row.sweeps),
            decimal_text(row.class_median),
            cv_text(row.across_cv, False),
            cv_text(row.within_cv, False),
        ]
        for row in view.configurations.itertuples(index=False)
    ]
    header = ["partition", "model", "flag set", "threads", "sweeps", "tok/s (median)"]
    lines += markdown_table([*header, "across", "within"], body, right_aligned_from=3)
    lines += ["", f"## Sweeps unlike the others ({len(view.outliers)})", ""]
    lines += [
        f"A sweep whose median lies outside the {CONFIDENCE_TEXT} prediction interval that "
        "the other sweeps' medians give for one more sweep (t on log tok/s; at least "
        f"{MIN_RUNS} other sweeps). With no real difference about 1 in {round(1 / ALPHA)} "
        "sweeps lands outside by chance.",
        "",
    ]
    if view.outliers.empty:
        lines.append("None.")
    else:
        rows = [
            [
                markdown_text(row.student),
                markdown_code(row.partition),
                markdown_text(row.model),
                markdown_code(row.flag_set),
                thread_count_text(row.threads),
                decimal_text(row.median),
                interval_text(row.low, row.high),
                ratio_text(row.ratio),
            ]
            for row in view.outliers.itertuples(index=False)
        ]
        header = ["student", "partition", "model", "flag set", "threads", "tok/s", "others"]
        lines += markdown_table([*header, "ratio"], rows, right_aligned_from=4)
    return "\n".join(lines) + "\n"


def write_class_report(results_dirs: Sequence[Path], out: Path, anonymise: bool = False) -> str:
    """class-runs.csv, class.md and analysis.ipynb (collect/notebook.py) into out (created;
    each written beside, then renamed); returns class.md."""
    runs = class_runs(results_dirs, anonymise)
    view = class_view(runs)
    report = render_class_report(view, runs.drop_duplicates("sweep_dir")["student"].tolist())
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / CLASS_RUNS_FILE, runs.to_csv(index=False))
    write_text(out / CLASS_REPORT_FILE, report)
    write_text(out / NOTEBOOK_FILE, notebook_text("class"))
    return report
