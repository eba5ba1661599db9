"""The local sweep's progress report (the collection's module_utils/backend_local.py) on a
plan.json and the task files run-task.sh leaves: only tasks of kind run count, whatever their
names."""

import json
import subprocess
import sys

import pytest
from builders import make_sweep
from conftest import MODULE_UTILS

pytestmark = pytest.mark.unit

PROGRESS = MODULE_UTILS / "backend_local.py"


def report(sweep_dir) -> str:
    done = subprocess.run(
        [sys.executable, PROGRESS, sweep_dir], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_runs_are_counted_from_the_plan_and_the_driver_s_end_is_seen(tmp_path):
    sweep = make_sweep(
        [{"name": "local", "cores": 2}],
        flag_sets={"O3": "-O3"},
        models=["stories15M"],
        warmup_runs=1,
        bandwidth_trials=1,
    )
    (tmp_path / "plan.json").write_text(json.dumps(sweep))
    tasks = sweep["tasks"]
    runs = [task for task in tasks if task["kind"] == "run"]
    driver = subprocess.Popen(["sleep", "600"])
    try:
        (tmp_path / "driver.pid").write_text(f"{driver.pid}\n")
        for task, status in zip(tasks[:4], ["0", "0", "0", "1"], strict=True):
            (tmp_path / task["dir"]).mkdir(parents=True)
            (tmp_path / task["dir"] / "status").write_text(f"{status}\n")
        # 2 thread counts x (large, the model) bandwidth measurements first
        assert [task["kind"] for task in tasks[:4]] == ["bandwidth"] * 4
        assert (
            report(tmp_path)
            == f"0/{len(runs)} runs done, 0 failed; running warmup {tasks[4]['dir']}"
        )
        # then the warm-up, the check run, the runs
        assert [task["kind"] for task in tasks[4:6]] == ["warmup", "check"]
        for task, status in [(tasks[4], "0"), (tasks[5], "0"), (runs[0], "1")]:
            (tmp_path / task["dir"]).mkdir(parents=True)
            (tmp_path / task["dir"] / "status").write_text(f"{status}\n")
        assert report(tmp_path).startswith(f"1/{len(runs)} runs done, 1 failed; running run ")
    finally:
        driver.kill()
        driver.wait()
    assert report(tmp_path) == (
        f"finished: 1/{len(runs)} runs done, 1 failed; the sweep stopped before the end"
    )
    (tmp_path / "finished").touch()
    assert report(tmp_path) == f"finished: 1/{len(runs)} runs done, 1 failed"


def test_a_run_is_failed_unless_it_exited_0_with_its_tok_s_line(tmp_path):
    """As runs.csv says (sweep_rules.run_ok): exit 0 without run.c's tok/s line is failed."""
    sweep = make_sweep([{"name": "local", "cores": 1}], flag_sets={"O3": "-O3"},
                       models=["stories15M"], repetitions=3)  # fmt: skip
    (tmp_path / "plan.json").write_text(json.dumps(sweep))
    runs = [task for task in sweep["tasks"] if task["kind"] == "run"]
    for task, stderr in zip(runs, ["achieved tok/s: 512.5\n", "", "achieved tok/s: 51"],
                            strict=False):  # fmt: skip
        (tmp_path / task["dir"]).mkdir(parents=True)
        (tmp_path / task["dir"] / "stderr.txt").write_text(stderr)
        (tmp_path / task["dir"] / "status").write_text("0\n")
    (tmp_path / "finished").touch()
    assert report(tmp_path) == f"finished: 3/{len(runs)} runs done, 2 failed"
