"""The history database (results/history.sqlite) that `summarize` keeps of every sweep."""

import multiprocessing
import sqlite3

import pandas as pd
import pytest
from builders import SweepWriter

from collect.history import (
    default_history_path,
    list_sweeps,
    read_history_runs,
    write_history,
)
from collect.pipeline import summarize
from collect.runs import collect_runs

pytestmark = pytest.mark.unit


def small_sweep(results_dir, tok_s=(10.0, 11.0)):
    sweep = SweepWriter(results_dir)
    for repetition, value in enumerate(tok_s, start=1):
        sweep.run("local", "O3", 2, repetition, tok_s=value)
    sweep.run("local", "O3-openmp", 2, 1, exit_status=1, stderr="boom\n")
    return results_dir


def count(path, sql, *params):
    with sqlite3.connect(path) as connection:
        return connection.execute(sql, params).fetchone()[0]


def test_default_path_is_beside_the_sweep_directory(tmp_path):
    sweep_dir = tmp_path / "results" / "20261125-131500"
    sweep_dir.mkdir(parents=True)
    (tmp_path / "results" / "latest").symlink_to("20261125-131500")
    expected = tmp_path / "results" / "history.sqlite"
    assert default_history_path(sweep_dir) == expected
    assert default_history_path(tmp_path / "results" / "latest") == expected


def test_summarizing_twice_keeps_one_copy(tmp_path):
    first = small_sweep(tmp_path / "results" / "20261125-131500")
    history = tmp_path / "results" / "history.sqlite"
    summarize(first)
    summarize(first)
    assert count(history, "SELECT COUNT(*) FROM runs") == 3
    assert count(history, "SELECT COUNT(*) FROM sweeps") == 1
    second = small_sweep(tmp_path / "results" / "20261126-090000", tok_s=(12.0, 13.0, 14.0))
    summarize(second)
    assert count(history, "SELECT COUNT(*) FROM runs") == 7
    assert count(history, "SELECT COUNT(*) FROM runs WHERE sweep_id = ?", "20261126-090000") == 4
    sweeps = list_sweeps(history)
    assert list(sweeps["sweep_id"]) == ["20261125-131500", "20261126-090000"]
    assert list(sweeps["runs"]) == [3, 4]
    assert list(sweeps["runs_ok"]) == [2, 3]
    # Queries across sweeps: the median tok/s of every sweep's O3 runs.
    with sqlite3.connect(history) as connection:
        medians = (
            pd.read_sql_query(
                "SELECT sweep_id, tok_s FROM runs WHERE flag_set = 'O3' AND status = 'ok'",
                connection,
            )
            .groupby("sweep_id")["tok_s"]
            .median()
        )
    assert medians.to_dict() == {"20261125-131500": 10.5, "20261126-090000": 13.0}


def test_history_rows_are_the_runs_csv_rows(tmp_path):
    sweep_dir = small_sweep(tmp_path / "sweep")
    summarize(sweep_dir, history=tmp_path / "elsewhere" / "h.sqlite")
    assert not (tmp_path / "history.sqlite").exists()
    stored = read_history_runs(tmp_path / "elsewhere" / "h.sqlite", "sweep")
    runs_csv = pd.read_csv(sweep_dir / "runs.csv")
    assert list(stored.columns) == list(runs_csv.columns)
    assert list(stored["tok_s"].dropna()) == [10.0, 11.0]
    assert list(stored["reason"]) == ["", "", "exit status 1: boom"]
    assert "ghz" in stored.columns  # derived metrics are kept too


def test_a_later_sweep_may_add_columns(tmp_path):
    history = tmp_path / "h.sqlite"
    old = collect_runs(small_sweep(tmp_path / "old"))
    write_history(old, history)
    new = collect_runs(small_sweep(tmp_path / "new")).assign(slurm_job_id=[7, 8, 9])
    write_history(new, history)
    stored = read_history_runs(history, "new")
    assert list(stored["slurm_job_id"]) == [7, 8, 9]
    assert read_history_runs(history, "old")["slurm_job_id"].isna().all()


def test_no_history_writes_nothing(tmp_path):
    sweep_dir = small_sweep(tmp_path / "sweep")
    summarize(sweep_dir, record_history=False)
    assert not (tmp_path / "history.sqlite").exists()


def test_unknown_sweep_names_the_known_ones(tmp_path):
    history = tmp_path / "h.sqlite"
    write_history(collect_runs(small_sweep(tmp_path / "20261125-131500")), history)
    with pytest.raises(LookupError, match=r"'nope' is not in .*20261125-131500"):
        read_history_runs(history, "nope")
    with pytest.raises(LookupError, match="no history database"):
        read_history_runs(tmp_path / "absent.sqlite", "x")


def _write_when_released(barrier, runs, path):
    barrier.wait()
    write_history(runs, path)


def test_first_summaries_at_once_keep_one_copy_of_a_sweep(tmp_path):
    """Two summaries of one sweep at once into a new database: both found no table, and
    both appended their rows."""
    runs = collect_runs(small_sweep(tmp_path / "results" / "20261125-131500"))
    context = multiprocessing.get_context("fork")
    for attempt in range(6):
        path = tmp_path / f"history-{attempt}.sqlite"
        barrier = context.Barrier(3)
        writers = [
            context.Process(target=_write_when_released, args=(barrier, runs, path))
            for _ in range(3)
        ]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
            assert writer.exitcode == 0
        assert count(path, "SELECT COUNT(*) FROM runs") == len(runs), attempt
        assert count(path, "SELECT COUNT(*) FROM sweeps") == 1, attempt
