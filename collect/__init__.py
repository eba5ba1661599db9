"""Collector of llamasweep results: parse run logs, build runs.csv, summary.md, report.html
and plots, keep every sweep in a history database, compare sweeps.

Modules: parse (pure log parsers), runs (results directory -> runs table), sweepfiles (the
files beside runs/: facts, bandwidth, warm-up runs, profiles, builds), stats (repetition
statistics, thread scaling, perf metrics), roofline (bandwidth bound), profiles (perf
script folding, top functions), analysis (every table of a sweep), summary (summary.md
and `summarize`), report (report.html), plots (PNGs), history (SQLite), compare, fetch and
remote (a Slurm sweep's results, and its remote.json read as data), datafiles (only regular
text files inside a results directory are read), atomic (writes beside, then renames), cli
(`python -m collect`).
"""
