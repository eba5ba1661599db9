"""The class report (`python -m collect class`): students' sweeps merged into one table,
each configuration's spread across sweeps next to each sweep's own, and the sweeps unlike
the others, on hand-built sweeps whose owners are the students."""

import json
import math
import os
import pwd
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from builders import SweepWriter
from conftest import PROJECT
from notebooks import outputs, run_notebook

from collect import class_report
from collect.class_report import ClassView, class_runs, class_view, render_class_report
from collect.notebook import NOTEBOOK_FILE
from collect.verdicts import prediction_interval

# Accounts every Debian system has, standing in for the class's students.
STUDENTS = ["bin", "daemon", "games", "man", "sys"]
# Each student's three runs of O3 at 1 thread: four alike, one half again as fast.
RUNS = {
    "bin": (99.0, 100.0, 101.0),
    "daemon": (101.0, 102.0, 103.0),
    "games": (97.0, 98.0, 99.0),
    "man": (100.0, 101.0, 102.0),
    "sys": (149.0, 150.0, 151.0),
}


@pytest.fixture
def sweeps(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("giving each sweep its student's account needs root (chown)")
    directories = []
    for student, figures in RUNS.items():
        sweep = SweepWriter(tmp_path / student / "20261206-100000")
        for repetition, tok_s in enumerate(figures, 1):
            sweep.run("nodes", "O3", 1, repetition, tok_s)
        os.chown(sweep.results_dir / "plan.json", pwd.getpwnam(student).pw_uid, -1)
        directories.append(sweep.results_dir)
    return directories


@pytest.mark.unit
def test_the_class_table_has_every_students_runs_with_their_account(sweeps):
    runs = class_runs(sweeps)
    assert len(runs) == 15
    assert list(runs.groupby("student", sort=False).size().index) == STUDENTS
    assert set(runs["sweep_dir"]) == {str(directory) for directory in sweeps}


@pytest.mark.unit
def test_spread_across_sweeps_beside_each_sweeps_own_and_the_sweep_unlike_the_others(sweeps):
    view = class_view(class_runs(sweeps))
    (row,) = view.configurations.itertuples(index=False)
    assert (row.partition, row.flag_set, row.threads, row.sweeps) == ("nodes", "O3", 1, 5)
    medians = [100.0, 102.0, 98.0, 101.0, 150.0]
    assert row.class_median == 101.0
    assert row.across_cv == pytest.approx(np.std(medians, ddof=1) / np.mean(medians))
    assert row.within_cv == pytest.approx(1.0 / 101.0)  # the median of the five sweeps' CVs
    (outlier,) = view.outliers.itertuples(index=False)
    assert outlier.student == "sys" and outlier.median == 150.0
    assert outlier.ratio == pytest.approx(150.0 / math.prod([100.0, 102.0, 98.0, 101.0]) ** 0.25)
    assert (outlier.low, outlier.high) == pytest.approx(prediction_interval(medians[:4]))


@pytest.mark.unit
def test_pseudonyms_follow_the_accounts_names(sweeps):
    runs = class_runs(sweeps, anonymise=True)
    names = dict(zip(STUDENTS, [f"student-{n}" for n in range(1, 6)], strict=True))
    assert list(runs.groupby("student", sort=False).size().index) == list(names.values())
    assert not set(STUDENTS) & set(runs.to_csv())


def collect_class(*arguments) -> subprocess.CompletedProcess:
    """`python -m collect class ARGUMENTS...` from the project."""
    return subprocess.run(
        [sys.executable, "-m", "collect", "class", *map(str, arguments)],
        cwd=PROJECT, capture_output=True, text=True,
    )  # fmt: skip


@pytest.mark.unit
def test_the_command_writes_the_table_and_the_report_and_refuses_a_sweep_twice(sweeps, tmp_path):
    out = tmp_path / "class"
    run = collect_class(*sweeps, "--out", out)
    assert run.returncode == 0, run.stderr
    assert "# Class report: 5 sweeps" in run.stdout
    assert "## Sweeps unlike the others (1)" in run.stdout
    assert "| sys | `nodes` | stories15M | `O3` | 1 | 150.00 |" in run.stdout
    assert (out / "class.md").read_text() == run.stdout
    table = pd.read_csv(out / "class-runs.csv")
    assert len(table) == 15 and set(table["student"]) == set(STUDENTS)
    twice = collect_class(sweeps[0], sweeps[0])
    assert twice.returncode == 2 and "each sweep counts once" in twice.stderr


def fetched_sweep(directory, student):
    """A results directory as a class's fetch leaves it: the marker names the student; the
    files are the reader's (the account that ran the fetch)."""
    directory.mkdir()
    (directory / "plan.json").write_text("{}")
    (directory / "fetched").write_text(json.dumps({"fetched": "earlier", "student": student}))
    return directory


@pytest.mark.unit
def test_the_student_a_fetch_recorded_is_believed_only_from_the_readers_own_marker(tmp_path):
    """A directory handed over by other means could carry a marker naming anyone. The
    reader's uid is a parameter: a marker of another account cannot be made without root."""
    sweep = fetched_sweep(tmp_path / "20261206-100000", "alice")
    me = os.getuid()
    assert class_report.student_of(sweep) == "alice"
    assert class_report.student_of(sweep, reader_uid=me) == "alice"
    # Another account's marker: the student is plan.json's owner, as without one.
    assert class_report.student_of(sweep, reader_uid=me + 1) == pwd.getpwuid(me).pw_name


@pytest.mark.unit
def test_a_marker_that_is_a_link_is_not_followed(tmp_path):
    sweep = fetched_sweep(tmp_path / "20261206-100000", "alice")
    (sweep / "fetched").rename(tmp_path / "elsewhere")
    (sweep / "fetched").symlink_to(tmp_path / "elsewhere")  # the reader's own file, linked
    assert class_report.student_of(sweep) == pwd.getpwuid(os.getuid()).pw_name


@pytest.mark.e2e
def test_the_class_notebook_runs_on_the_class_table(sweeps, tmp_path):
    out = tmp_path / "class"
    run = collect_class(*sweeps, "--out", out)
    assert run.returncode == 0, run.stderr
    notebook = run_notebook(out / NOTEBOOK_FILE)
    assert len(outputs(notebook, "image/png")) == 1  # tok/s by flag set, every student's runs
    tables = " ".join(outputs(notebook, "text/plain"))
    assert all(student in tables for student in STUDENTS), tables
    assert "150.0" in tables  # the outlier's median, as class.md gives it


@pytest.mark.unit
def test_the_outliers_level_and_its_false_alarms_come_from_the_confidence(monkeypatch):
    monkeypatch.setattr(class_report, "CONFIDENCE_TEXT", "95 %")
    monkeypatch.setattr(class_report, "ALPHA", 0.05)
    view = ClassView(pd.DataFrame(), pd.DataFrame())  # no sweeps: the text alone
    text = " ".join(render_class_report(view, ["bin"]).split())
    assert "lies outside the 95 % prediction interval" in text
    assert "With no real difference about 1 in 20 sweeps lands outside by chance." in text


@pytest.mark.unit
def test_sweeps_like_the_others_land_outside_about_once_in_a_hundred():
    # The outlier rule's false alarms: classes of 5, 10 and 30 sweeps whose medians come
    # from one distribution (lognormal, CV 3 %), each sweep against the others' 99 %
    # prediction interval. Seeded; exact for lognormal medians, so about 1 %.
    rng = np.random.default_rng(24)
    for students in (5, 10, 30):
        alarms = checks = 0
        for _ in range(400):
            medians = np.exp(rng.normal(0.0, math.sqrt(math.log1p(0.03**2)), students))
            for position in range(students):
                low, high = prediction_interval(np.delete(medians, position))
                alarms += not low <= medians[position] <= high
                checks += 1
        assert alarms / checks <= 0.015, (students, alarms / checks)
