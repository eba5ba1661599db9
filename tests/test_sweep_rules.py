"""sweep_rules: a configuration's figure, a flag set's best thread count, the profile
selection, and the select-profile command the profiling tasks run on the nodes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_rules

pytestmark = pytest.mark.unit

RULES = Path(sweep_rules.__file__)


def rows(*samples):
    return [
        {"flag_set": flag_set, "threads": threads, "tok_s": tok_s}
        for flag_set, threads, values in samples
        for tok_s in values
    ]


def test_best_thread_count_is_the_highest_median_not_the_highest_mean():
    # t2's mean (40) beats t1's (35), its median (10) does not: one outlier is no speedup.
    runs = rows(("O3", 1, [30, 35, 40]), ("O3", 2, [10, 10, 100]))
    assert sweep_rules.best_configurations(runs) == {
        "O3": {"flag_set": "O3", "threads": 1, "median": 35, "runs": 3}
    }


def test_a_tie_goes_to_fewer_threads_and_runs_without_figure_do_not_count():
    runs = rows(("O3", 4, [20, 20]), ("O3", 2, [20, 20]), ("O3", 8, [None, float("nan")]))
    assert sweep_rules.best_configurations(runs)["O3"]["threads"] == 2


@pytest.mark.parametrize(
    ("selector", "flag_set", "threads"),
    [("fastest", "omp", 4), ("slowest", "O3", 1), ("O3", "O3", 1), ("omp", "omp", 4)],
)
def test_select_profile(selector, flag_set, threads):
    runs = rows(("O3", 1, [10, 11, 12]), ("omp", 1, [10]), ("omp", 4, [30, 31]))
    chosen = sweep_rules.select_profile(runs, selector)
    assert (chosen["flag_set"], chosen["threads"]) == (flag_set, threads)


def test_nothing_to_select_from():
    assert sweep_rules.select_profile([], "fastest") is None
    assert sweep_rules.select_profile(rows(("O3", 1, [1])), "Ofast") is None


def write_task(sweep: Path, task: dict, status: str | None, tok_s: str | None):
    run_dir = sweep / task["dir"]
    run_dir.mkdir(parents=True)
    if tok_s is not None:
        (run_dir / "stderr.txt").write_text(f"achieved tok/s: {tok_s}\n")
    if status is not None:
        (run_dir / "status").write_text(f"{status}\n")


def run_task(index, flag_set, threads, model="m", partition="p"):
    return {
        "index": index,
        "kind": "run",
        "dir": f"runs/{index:04d}-{model}-{flag_set}-t{threads}",
        "partition": partition,
        "model": model,
        "flag_set": flag_set,
        "threads": threads,
    }


def test_select_profile_command_reads_the_finished_runs_and_records_its_choice(tmp_path):
    tasks = [
        run_task(0, "O3", 1),
        run_task(1, "omp", 2),
        run_task(2, "omp", 2),
        run_task(3, "omp", 1),  # failed: not a candidate, however fast it claims to be
        run_task(4, "omp", 2, model="other"),  # another model
        run_task(5, "Ofast", 2, partition="q"),  # another partition
    ]
    profile = {
        "index": 6,
        "kind": "profile",
        "dir": "profiles/p-m-fastest",
        "partition": "p",
        "model": "m",
        "selector": "fastest",
        "threads": None,
        "binaries": {"O3": "/bin/O3+fp/run", "omp": "/bin/omp+fp/run"},
    }
    (tmp_path / "plan.json").write_text(json.dumps({"tasks": [*tasks, profile]}))
    for task, status, tok_s in zip(
        tasks, ["0", "0", "0", "1", "0", "0"], ["5", "9", "11", "99", "50", "70"], strict=True
    ):
        write_task(tmp_path, task, status, tok_s)

    done = subprocess.run(
        [sys.executable, RULES, "select-profile", tmp_path, "6"], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == "2\t/bin/omp+fp/run\n"
    selection = json.loads((tmp_path / "profiles/p-m-fastest/selection.json").read_text())
    assert selection == {
        "flag_set": "omp",
        "threads": 2,
        "median": 10.0,
        "runs": 2,
        "selector": "fastest",
        "binary": "/bin/omp+fp/run",
        "runs_considered": 3,
    }


def test_select_profile_command_without_a_finished_run_says_why(tmp_path):
    profile = {"index": 1, "kind": "profile", "dir": "profiles/x", "partition": "p"}
    profile |= {"model": "m", "selector": "fastest", "binaries": {}}
    (tmp_path / "plan.json").write_text(json.dumps({"tasks": [run_task(0, "O3", 1), profile]}))
    write_task(tmp_path, run_task(0, "O3", 1), None, None)  # never finished
    done = subprocess.run(
        [sys.executable, RULES, "select-profile", tmp_path, "1"], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "no finished run of m on p to select from" in done.stderr
    assert done.stdout == ""
    # Task 0 is a run, not a profiling task.
    done = subprocess.run(
        [sys.executable, RULES, "select-profile", tmp_path, "0"], capture_output=True, text=True
    )
    assert done.returncode == 1 and "no profiling task" in done.stderr


def test_unfinished_lists_every_task_without_its_result(tmp_path):
    tasks = [
        {"index": 0, "kind": "bandwidth", "dir": "bandwidth/p-t1-large"},
        {"index": 1, "kind": "warmup", "dir": "warmup/p-m-O3-w1"},
        run_task(2, "O3", 1),  # ok
        run_task(3, "O3", 2),  # exit 0 but no figure
        run_task(4, "O3", 4),  # failed
        run_task(5, "O3", 8),  # never started
        {"index": 6, "kind": "profile", "dir": "profiles/p-m-fastest"},
    ]
    (tmp_path / "plan.json").write_text(json.dumps({"tasks": tasks}))
    for task, status, tok_s in [
        (tasks[0], "0", None),
        (tasks[1], "0", "3"),
        (tasks[2], "0", "3"),
        (tasks[3], "0", None),
        (tasks[4], "1", "3"),
        (tasks[6], "2", None),
    ]:
        write_task(tmp_path, task, status, tok_s)
    done = subprocess.run(
        [sys.executable, RULES, "unfinished", tmp_path], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["3", "4", "5", "6"]


def test_requeue_removes_the_unfinished_tasks_directories_and_queues_them(tmp_path):
    tasks = [run_task(0, "O3", 1), run_task(1, "O3", 2), run_task(2, "O3", 4)]
    (tmp_path / "plan.json").write_text(json.dumps({"tasks": tasks}))
    write_task(tmp_path, tasks[0], "0", "3")
    write_task(tmp_path, tasks[1], "1", "3")
    (tmp_path / tasks[1]["dir"] / "execution.txt").write_text("host=old\n")
    done = subprocess.run(
        [sys.executable, RULES, "requeue", tmp_path], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "2"]
    assert (tmp_path / "queue.txt").read_text() == "1\n2\n"
    assert (tmp_path / tasks[0]["dir"] / "status").read_text().strip() == "0"
    assert not (tmp_path / tasks[1]["dir"]).exists()


@pytest.mark.parametrize(
    ("figures", "noisy"),
    [(["100", "300"], True), (["100", "100"], False), (["100", "101"], False), (["100"], False)],
)
def test_noisy_configurations_by_the_cv_of_their_ok_runs(tmp_path, figures, noisy):
    tasks = [{**run_task(i, "O3", 1), "dir": f"runs/{i}"} for i in range(len(figures) + 1)]
    (tmp_path / "plan.json").write_text(json.dumps({"tasks": tasks}))
    for task, tok_s in zip(tasks, figures, strict=False):
        write_task(tmp_path, task, "0", tok_s)
    write_task(tmp_path, tasks[-1], "1", "900")  # failed: not a figure of the configuration
    done = subprocess.run(
        [sys.executable, RULES, "noisy", tmp_path], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    expected = [{"partition": "p", "model": "m", "flag_set": "O3", "threads": 1}]
    assert json.loads(done.stdout) == (expected if noisy else [])
