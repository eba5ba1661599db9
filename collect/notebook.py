"""analysis.ipynb: a Jupyter notebook for a student's own analysis of a summarised sweep,
and for the instructor's of a class (`python -m collect class`).

It loads the sweep's runs.csv (the class's class-runs.csv) with pandas and redraws the
report's plots with the collector's own functions (collect/plots.py), ready to extend. Its
cells are this module's fixed text: nothing read from a results directory goes into it (a
results directory is data, and a notebook is code), only the path of the llamasweep checkout
that wrote it, so that its kernel imports that checkout's collector. It is rewritten at
every summarize, and a fetch never brings one (collect/fetch.py CONTROLLER_FILES): the
notebook in a results directory is always the one this checkout wrote.
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
from collect.class_report import class_view
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


_CLASS_INTRODUCTION = """\
# The class's sweeps

`class-runs.csv` holds every student's runs, a `student` column added (`python -m collect
class`); `class.md` is made from it. The cells below load it with pandas, give the class's
view of each configuration (the spread between students next to the spread inside one
sweep, and the students outside the range the others predict), and redraw the report's plot
over every student's runs at once; change them, or add your own cells below.

Run it from the llamasweep checkout's environment, with this directory as the working
directory. `python -m collect class` writes this notebook again."""

_CLASS_LOAD = """\
runs = read_runs_csv(RESULTS / "class-runs.csv")  # pandas.read_csv, with its column types
runs.groupby("student")["sweep_dir"].nunique().rename("sweeps")"""

_CLASS_VIEW = """\
view = class_view(runs)  # class.md's tables
view.configurations"""

_CLASS_OUTLIERS = """\
view.outliers"""

_CLASS_BY_FLAG_SET = """\
# Every student's runs at once: the bars' ranges are the class's.
plot_tok_s_by_flag_set(analyse(runs).table)"""

_CLASS_EXAMPLE = """\
ok = runs[runs["status"] == "ok"]
ok.pivot_table(index=["partition", "model", "flag_set", "threads"], columns="student",
               values="tok_s", aggfunc="median")"""

# Each notebook: its introduction, then (after the setup cell) its cells: (markdown?, text).
_NOTEBOOKS = {
    "sweep": (_INTRODUCTION, [
        (False, _LOAD), (False, _ANALYSE), (False, _BY_FLAG_SET), (False, _SCALING),
        (False, _ROOFLINE), (True, _YOUR_OWN), (False, _EXAMPLE),
    ]),
    "class": (_CLASS_INTRODUCTION, [
        (False, _CLASS_LOAD), (False, _CLASS_VIEW), (False, _CLASS_OUTLIERS),
        (False, _CLASS_BY_FLAG_SET), (True, _YOUR_OWN), (False, _CLASS_EXAMPLE),
    ]),
}  # fmt: skip


def analysis_notebook(kind: str = "sweep", project: Path = PROJECT) -> nbformat.NotebookNode:
    """The notebook of a sweep or of a class (kind), its code importing the collector of
    the checkout at project."""
    introduction, own_cells = _NOTEBOOKS[kind]
    cells = [
        nbformat.v4.new_markdown_cell(introduction),
        nbformat.v4.new_code_cell(_SETUP.format(project=str(project))),
        *(
            nbformat.v4.new_markdown_cell(text) if markdown else nbformat.v4.new_code_cell(text)
            for markdown, text in own_cells
        ),
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


def notebook_text(kind: str = "sweep", project: Path = PROJECT) -> str:
    return nbformat.writes(analysis_notebook(kind, project))


def read_runs_csv(path: Path) -> pd.DataFrame:
    """runs.csv as the collector's runs table: its column order and types (nullable integers,
    floats), so that the analysis reads it as it read the table it wrote."""
    return runs_table(pd.read_csv(path).to_dict("records"))
