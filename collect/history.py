"""The history database: every summarised sweep's runs in one SQLite file, so users can
query across sweeps and `compare` can read any sweep by its id.

Tables:
- `runs`: the rows of every sweep's runs.csv (same columns; a column a later sweep adds
  is added to the table, older rows hold NULL there). Summarising a sweep again
  replaces its rows: one copy per sweep_id.
- `sweeps`: one row per sweep_id: summarized_at (ISO 8601), results_dir, runs, runs_ok.

One summary writes at a time (a lock on the database's directory): pandas commits as it
creates a table and again as it appends, so SQLite's own locking leaves two first summaries
both finding no table, and both appending their rows.
"""

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from collect.runs import STATUS_OK

HISTORY_FILE = "history.sqlite"
RUNS_TABLE = "runs"
SWEEPS_TABLE = "sweeps"

# Seconds to wait for another summarize that holds the database's lock.
_LOCK_TIMEOUT = 60


def default_history_path(results_dir: Path) -> Path:
    """history.sqlite beside the sweep's directory: results/<sweep_id> ->
    results/history.sqlite (results/latest resolves to the sweep it points at)."""
    return results_dir.resolve().parent / HISTORY_FILE


def write_history(runs: pd.DataFrame, path: Path, results_dir: Path | None = None) -> None:
    """Replace the rows of runs' sweeps (by sweep_id) in the database at path."""
    sweep_ids = [str(sweep_id) for sweep_id in runs["sweep_id"].dropna().unique()]
    if not sweep_ids:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with _one_writer(path.parent):
        _replace_sweeps(runs, sweep_ids, path, results_dir)


@contextmanager
def _one_writer(directory: Path) -> Iterator[None]:
    """Held by one process at a time: a lock on the directory itself, so no file is added
    beside the database (and SQLite's own locks on it are left alone)."""
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _replace_sweeps(
    runs: pd.DataFrame, sweep_ids: list[str], path: Path, results_dir: Path | None
) -> None:
    connection = sqlite3.connect(path, timeout=_LOCK_TIMEOUT)
    try:
        with connection:
            _add_missing_columns(connection, RUNS_TABLE, runs)
            placeholders = ", ".join("?" * len(sweep_ids))
            for table in (RUNS_TABLE, SWEEPS_TABLE):
                if _columns(connection, table):
                    connection.execute(
                        f'DELETE FROM "{table}" WHERE sweep_id IN ({placeholders})', sweep_ids
                    )
            runs.to_sql(RUNS_TABLE, connection, if_exists="append", index=False, chunksize=2000)
            sweeps = pd.DataFrame(
                {
                    "sweep_id": sweep_ids,
                    "summarized_at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "results_dir": str(results_dir.resolve()) if results_dir else None,
                    "runs": [int((runs["sweep_id"] == sweep_id).sum()) for sweep_id in sweep_ids],
                    "runs_ok": [
                        int(((runs["sweep_id"] == sweep_id) & (runs["status"] == STATUS_OK)).sum())
                        for sweep_id in sweep_ids
                    ],
                }
            )
            sweeps.to_sql(SWEEPS_TABLE, connection, if_exists="append", index=False)
    finally:
        connection.close()


def read_history_runs(path: Path, sweep_id: str) -> pd.DataFrame:
    """The runs of one sweep from the database; LookupError when it is not there."""
    if not path.is_file():
        raise LookupError(f"no history database at {path}")
    connection = sqlite3.connect(path, timeout=_LOCK_TIMEOUT)
    try:
        if not _columns(connection, RUNS_TABLE):
            raise LookupError(f"no runs in {path}")
        runs = pd.read_sql_query(
            f'SELECT * FROM "{RUNS_TABLE}" WHERE sweep_id = ? ORDER BY "index"',
            connection,
            params=[sweep_id],
        )
        if runs.empty:
            known = [row[0] for row in connection.execute(f'SELECT sweep_id FROM "{SWEEPS_TABLE}"')]
            raise LookupError(
                f"sweep {sweep_id!r} is not in {path} (sweeps there: {', '.join(known) or 'none'})"
            )
        return runs
    finally:
        connection.close()


def list_sweeps(path: Path) -> pd.DataFrame:
    """The sweeps table, oldest summary first (empty without a database)."""
    if not path.is_file():
        return pd.DataFrame(columns=["sweep_id", "summarized_at", "results_dir", "runs", "runs_ok"])
    connection = sqlite3.connect(path, timeout=_LOCK_TIMEOUT)
    try:
        return pd.read_sql_query(
            f'SELECT * FROM "{SWEEPS_TABLE}" ORDER BY summarized_at, sweep_id', connection
        )
    finally:
        connection.close()


def _columns(connection: sqlite3.Connection, table: str) -> list[str]:
    return [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]


def _add_missing_columns(connection: sqlite3.Connection, table: str, frame: pd.DataFrame) -> None:
    existing = _columns(connection, table)
    if not existing:
        return  # to_sql creates the table with every column
    for column in frame.columns:
        if column not in existing:
            quoted = str(column).replace('"', '""')
            connection.execute(f'ALTER TABLE "{table}" ADD COLUMN "{quoted}"')
