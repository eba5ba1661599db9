"""analysis.ipynb: a Jupyter notebook for a student's own analysis of a summarised sweep.

It loads the sweep's runs.csv with pandas and redraws the report's plots with the
collector's own functions (collect/plots.py), ready to extend. Its cells are this module's
fixed text: nothing read from the results directory goes into it (a results directory is
data, and a notebook is code), only the path of the llamasweep checkout that wrote it, so
that its kernel imports that checkout's collector. It is rewritten at every summarize, and a
fetch never brings one (collect/fetch.py CONTROLLER_FILES): the notebook in a results
directory is always the one this checkout wrote.
"""

from pathlib import Path

import nbformat
import pandas as pd

from collect.runs import runs_table

NOTEBOOK_FILE = "analysis.ipynb"
PROJECT = Path(__file__).resolve().parent.parent

_INTRODUCTION = """\
# Your analysis of this sweep

`runs.csv` is the sweep's tidy table: one row per run (its configuration, status, tok/s and
perf figures). Every table, plot and verdict of `summary.md` and `report.html` is made from
it. The cells below load it with pandas and redraw the report's plots with llamasweep's own
plotting functions; change them, or add your own cells below.

Run it from the llamasweep checkout's environment, with the results directory as the working
directory (where this notebook is). `make collect` writes this notebook again."""

_SETUP = """\
%matplotlib inline
import sys
from pathlib import Path

# The llamasweep checkout that wrote this notebook: its collector is imported from there.
sys.path.insert(0, {project!r})

import pandas as pd

from collect.analysis import analyse
from collect.notebook import read_runs_csv
from collect.plots import plot_roofline, plot_speedup_by_threads, plot_tok_s_by_flag_set
from collect.runs import read_sweep_facts
from collect.sweepfiles import read_sweep_files

RESULTS = Path(".")"""

_LOAD = """\
runs = read_runs_csv(RESULTS / "runs.csv")  # pandas.read_csv, with runs.csv's column types
runs[["partition", "model", "flag_set", "threads", "repetition", "status", "tok_s"]].head()"""

_ANALYSE = """\
# The report's tables: per configuration (flag_set_table), thread scaling, the roofline.
analysis = analyse(runs, read_sweep_files(RESULTS, read_sweep_facts(RESULTS)))
analysis.table[["partition", "model", "flag_set", "threads", "runs_ok", "median", "cv", "best"]]"""

_BY_FLAG_SET = """\
plot_tok_s_by_flag_set(analysis.table)  # None: no ok run"""

_SCALING = """\
plot_speedup_by_threads(analysis.scaling, analysis.table)  # None: a single thread count"""

_ROOFLINE = """\
plot_roofline(analysis.table, analysis.bounds, analysis.roofline)  # None: nothing to bound"""

_YOUR_OWN = """\
## Your own

For example the median tok/s of each flag set and thread count on each partition and model:"""

_EXAMPLE = """\
ok = runs[runs["status"] == "ok"]
ok.pivot_table(index=["partition", "model", "flag_set"], columns="threads", values="tok_s",
               aggfunc="median")"""


def analysis_notebook(project: Path = PROJECT) -> nbformat.NotebookNode:
    """The notebook, its code importing the collector of the checkout at project."""
    cells = [
        nbformat.v4.new_markdown_cell(_INTRODUCTION),
        nbformat.v4.new_code_cell(_SETUP.format(project=str(project))),
        nbformat.v4.new_code_cell(_LOAD),
        nbformat.v4.new_code_cell(_ANALYSE),
        nbformat.v4.new_code_cell(_BY_FLAG_SET),
        nbformat.v4.new_code_cell(_SCALING),
        nbformat.v4.new_code_cell(_ROOFLINE),
        nbformat.v4.new_markdown_cell(_YOUR_OWN),
        nbformat.v4.new_code_cell(_EXAMPLE),
    ]
    for number, cell in enumerate(cells):
        cell.id = f"cell-{number}"  # not nbformat's random ones: the same notebook each time
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nbformat.validate(notebook)
    return notebook


def notebook_text(project: Path = PROJECT) -> str:
    return nbformat.writes(analysis_notebook(project))


def read_runs_csv(path: Path) -> pd.DataFrame:
    """runs.csv as the collector's runs table: its column order and types (nullable integers,
    floats), so that the analysis reads it as it read the table it wrote."""
    return runs_table(pd.read_csv(path).to_dict("records"))
