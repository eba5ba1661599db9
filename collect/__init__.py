"""Collector of llamasweep results: parse run logs, build runs.csv, summary.md and plots.

Modules: parse (pure log parsers), runs (results directory -> runs table), stats
(aggregates), summary (summary.md and `summarize`), plots (PNGs), cli (`python -m
collect`).
"""
