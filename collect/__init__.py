"""Collector of llamasweep results: parse run logs, build runs.csv, summary.md, report.html
and plots, keep every sweep in a history database, compare sweeps.

Modules: plan (plan.json read as data, and a task directory's raw files), parse (pure
perf stat parsers), runs (plan.json's run tasks -> runs table), sweepfiles (the other
tasks and files: facts, bandwidth, warm-up runs, profiles, builds), stats (repetition
statistics, thread scaling, perf metrics), roofline (bandwidth bound), profiles (perf
script folding, top functions), analysis (every table of a sweep), summary (summary.md
and `summarize`), report (report.html), plots (PNGs), history (SQLite), compare, fetch and
remote (a Slurm sweep's results, and its remote.json read as data), datafiles (only regular
text files inside a results directory are read), atomic (writes beside, then renames), cli
(`python -m collect`).
"""

import sys
from pathlib import Path

# The rules shared with the sweep's nodes (tok/s, ok, best, profile selection) live in the
# project's collection: importable as ansible_collections.llamasweep... from here too, so
# `python -m collect` works from the project root.
_COLLECTIONS = str(Path(__file__).resolve().parent.parent / "collections")
if _COLLECTIONS not in sys.path:
    sys.path.append(_COLLECTIONS)
