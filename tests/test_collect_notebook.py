"""analysis.ipynb (collect/notebook.py): the notebook summarize writes beside the report.
(It runs headless on a real sweep's results in test_sweep_local.py, the class's in
test_collect_class.py.)"""

import nbformat
import pandas as pd
import pytest
from builders import SweepWriter

from collect.analysis import analyse
from collect.notebook import NOTEBOOK_FILE, notebook_text, read_runs_csv
from collect.pipeline import summarize
from collect.runs import collect_runs
from collect.stats import add_derived_metrics


def small_sweep(results_dir, partition="nodes"):
    sweep = SweepWriter(results_dir)
    for repetition, tok_s in enumerate([30.0, 31.0, 29.5], start=1):
        sweep.run(partition, "O3", 1, repetition, tok_s=tok_s)
        sweep.run(partition, "O3-openmp", 1, repetition, tok_s=tok_s)
        sweep.run(partition, "O3-openmp", 4, repetition, tok_s=4 * tok_s)
    return sweep.results_dir


@pytest.mark.unit
def test_the_notebook_holds_nothing_of_the_results_directory(tmp_path):
    """The same notebook for every sweep: nothing read from a results directory (data) goes
    into its cells (code), whatever the names in it."""
    first = small_sweep(tmp_path / "20261206-080000")
    second = small_sweep(tmp_path / "20261206-090000-x", partition="milkvs")
    for results_dir in (first, second):
        summarize(results_dir, record_history=False)
    assert (first / NOTEBOOK_FILE).read_text() == (second / NOTEBOOK_FILE).read_text()
    assert (first / NOTEBOOK_FILE).read_text() == notebook_text()
    notebook = nbformat.reads(notebook_text(), as_version=4)
    nbformat.validate(notebook)
    assert all(not cell.get("outputs") for cell in notebook.cells)  # nothing run yet


@pytest.mark.unit
def test_runs_csv_read_back_gives_the_report_s_tables(tmp_path):
    """The notebook's tables are the report's: runs.csv read back (read_runs_csv) analyses
    as the table it was written from."""
    results_dir = small_sweep(tmp_path / "20261206-080000")
    summarize(results_dir, record_history=False)
    written = analyse(add_derived_metrics(collect_runs(results_dir)))
    read_back = analyse(read_runs_csv(results_dir / "runs.csv"))
    pd.testing.assert_frame_equal(read_back.table, written.table)
    pd.testing.assert_frame_equal(read_back.scaling, written.scaling)
