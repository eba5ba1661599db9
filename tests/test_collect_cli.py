"""`python -m collect`: help, README coverage, and both subcommands end to end."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from builders import SweepWriter

from collect.cli import SUBCOMMANDS
from collect.verdicts import CONFIDENCE_TEXT

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"


def collect(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "collect", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_help_lists_every_subcommand():
    result = collect("--help")
    assert result.returncode == 0
    assert set(SUBCOMMANDS) == {"parse", "summarize", "fetch", "class", "compare", "history"}
    for name, (help_text, _, _) in SUBCOMMANDS.items():
        assert name in result.stdout
        assert help_text.split()[0] in result.stdout
        assert collect(name, "--help").returncode == 0


def test_a_subcommand_help_gives_the_confidence_as_the_list_of_subcommands_does():
    # argparse fills in % placeholders in the list's help, not in the subcommand's own
    level = f"ratio B/A with its {CONFIDENCE_TEXT} interval"
    for help_text in (collect("--help").stdout, collect("compare", "--help").stdout):
        assert level in " ".join(help_text.split())


def test_readme_documents_every_subcommand():
    readme = (ROOT / "collect" / "README.md").read_text()
    for name in SUBCOMMANDS:
        assert f"`python -m collect {name}" in readme


def test_parse_prints_a_json_line_per_file():
    result = collect(
        "parse", str(DATA / "runs" / "human"), str(DATA / "perf-stat" / "seed-stories15M.txt")
    )
    assert result.returncode == 0
    run_dir, seed = [json.loads(line) for line in result.stdout.splitlines()]
    assert run_dir["tok_s"] == 165.354331
    assert run_dir["task_clock_ms"] == 406.6
    assert run_dir["cycles"] is None
    assert seed["tok_s"] is None
    assert seed["instructions"] == 145608923919
    assert seed["path"].endswith("seed-stories15M.txt")


def test_parse_reports_unreadable_files_and_goes_on(tmp_path):
    result = collect("parse", str(tmp_path / "absent.txt"), str(DATA / "runs" / "csv"))
    assert result.returncode == 1
    assert "absent.txt" in result.stderr
    assert json.loads(result.stdout)["page_faults"] == 878


def test_parse_does_not_wait_on_a_fifo(tmp_path):
    fifo = tmp_path / "stderr.txt"
    os.mkfifo(fifo)  # nothing ever writes to it: an open for reading alone waits for ever
    result = collect("parse", str(fifo), str(DATA / "runs" / "csv"))
    assert result.returncode == 1
    assert result.stderr == f"collect parse: {fifo}: not a regular file\n"
    assert json.loads(result.stdout)["page_faults"] == 878


def test_summarize_defaults_to_results_latest_and_prints_summary(tmp_path):
    sweep = SweepWriter(tmp_path / "results" / "20261125-131500")
    sweep_dir = sweep.results_dir
    run_dir = sweep_dir / sweep.run("local", "O3", 2, 1, started=False)
    shutil.copytree(DATA / "runs" / "human", run_dir)
    (run_dir / "execution.txt").write_text("host=local-01\nexit_status=0\n")
    (tmp_path / "results" / "latest").symlink_to("20261125-131500")
    result = collect("summarize", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (sweep_dir / "summary.md").read_text()
    assert "| O3 | `-O3` | 1/1 | 165.35 | 165.35 | 165.35 | — | 1.00× |" in result.stdout
    assert (sweep_dir / "runs.csv").exists()


def test_summarize_missing_directory_exits_2(tmp_path):
    result = collect("summarize", str(tmp_path / "nowhere"))
    assert result.returncode == 2
    assert "results directory not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_summarize_an_older_sweep_exits_2_naming_it(tmp_path):
    old = tmp_path / "20261101-120000"
    shutil.copytree(DATA / "runs" / "human", old / "runs" / "0000-stories15M-O3-t1-r1")
    result = collect("summarize", str(old))
    assert result.returncode == 2
    assert result.stderr == (
        f"collect summarize: {old} has no plan.json: not a sweep of this version\n"
    )


def test_fetch_failure_messages_come_from_runner_events():
    from collect.fetch import failure_messages

    events = [
        {"event": "runner_on_ok", "event_data": {"res": {"msg": "fine"}}},
        {"event": "runner_on_unreachable", "event_data": {"res": {"msg": "Connection refused"}}},
        {"event": "runner_on_failed", "event_data": {"res": {"msg": "no remote.json"}}},
    ]
    assert failure_messages(events) == ["Connection refused", "no remote.json"]
    assert failure_messages([]) == []


def test_fetch_skips_a_sweep_fetched_whole_after_it_finished(tmp_path):
    """The marker a whole fetch writes last decides, not scheduler.json (a fetch interrupted
    after unpacking it left no marker)."""
    from collect.fetch import MARKER, fetched_finished

    results = tmp_path / "20261125-131500-3fa2"
    results.mkdir()
    # A host that cannot be reached: any attempt to fetch fails.
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("all:\n  hosts:\n    nowhere:\n")
    remote = {"host": "nowhere", "inventory": [str(inventory)],
              "remote_dir": "/nowhere/sweeps/20261125-131500-3fa2"}  # fmt: skip
    (results / "remote.json").write_text(json.dumps(remote))
    (results / "scheduler.json").write_text(json.dumps({"finished": True}))
    assert not fetched_finished(results)  # no marker: never fetched whole
    assert collect("fetch", str(results)).returncode != 0  # so fetched again
    (results / MARKER).write_text(json.dumps({"fetched": "2026-11-25T13:20:00", "finished": False}))
    assert not fetched_finished(results)  # fetched whole while jobs ran: fetch again
    (results / MARKER).write_text(json.dumps({"fetched": "2026-11-25T14:00:00", "finished": True}))
    result = collect("fetch", str(results))
    assert result.returncode == 0, result.stderr
    assert "fetched whole after every job had ended" in result.stdout
    assert "--force fetches again" in result.stdout
