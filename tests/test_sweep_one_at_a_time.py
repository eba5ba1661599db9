"""A sweep is one sweep: ids and directories unique even within a second, one local sweep at a
time on a machine (the second waits, or is refused), `make sweep` summarising its own sweep.
Real playbooks on localhost, offline, with tiny sweeps."""

import json
import os
import re
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import BIN, PROJECT, run_playbook

pytestmark = pytest.mark.e2e

# One run, nothing around it: what these tests look at is the sweep, not its figures.
TINY = {
    "sweep_flag_sets": {"O3": "-O3"},
    "sweep_threads": [1],
    "sweep_repetitions": 1,
    "sweep_steps": 8,
    "sweep_bandwidth": False,
    "sweep_warmup_runs": 0,
    "sweep_profile": False,
}
SWEEP_ID = r"\d{8}-\d{6}-[0-9a-f]{4}"


def gate_prefix(gate: Path) -> list[str]:
    """sweep_run_prefix holding every run until the file gate exists: a sweep that stays
    running until the test lets it go."""
    return ["bash", "-c", 'until [[ -e $0 ]]; do sleep 0.1; done; exec "$@"', str(gate)]


def tiny_args(sweep_args, results_path_file: Path, **settings) -> list[str]:
    values = {**TINY, "sweep_results_path_file": str(results_path_file), **settings}
    return [*sweep_args, "-e", json.dumps(values)]


def wait_for(predicate, what: str, seconds: float = 300):
    """Until predicate() is true (the files say so); fails naming what never happened."""
    deadline = time.monotonic() + seconds
    while not predicate():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.2)


def task_dirs(sweep_dir: Path) -> list[Path]:
    """The directories of the tasks that ran (each leaves its exit status in `status`)."""
    return [status.parent for status in sweep_dir.rglob("status")]


def task_start(task_dir: Path) -> datetime:
    """When a task started, as its job script recorded it (execution.txt)."""
    execution = task_dir / "execution.txt"
    facts = dict(line.split("=", 1) for line in execution.read_text().splitlines())
    return datetime.fromisoformat(facts["start_time"])


def test_sweeps_named_in_the_same_second_get_their_own_directories(tmp_path):
    """Twenty sweeps named one after the other, as fast as Ansible goes: several share a
    second, none shares an id or a directory, on the target and on the controller."""
    target, controller = tmp_path / "sweeps", tmp_path / "results"
    playbook = tmp_path / "name.yml"
    playbook.write_text(
        json.dumps([{
            "hosts": "localhost", "gather_facts": False,
            "tasks": [{
                "llamasweep.sweep.sweep_dir": {
                    "parent": str(target), "controller_parent": str(controller),
                },
                "loop": list(range(20)), "register": "named",
            }, {"ansible.builtin.copy": {
                "dest": str(tmp_path / "named.json"), "mode": "0600",
                "content": "{{ named.results | to_json }}",
            }}],
        }])
    )  # fmt: skip
    done = subprocess.run(
        [str(BIN / "ansible-playbook"), "-i", "localhost,", "-c", "local", str(playbook),
         "-e", f"ansible_python_interpreter={BIN / 'python'}"],
        cwd=PROJECT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:]
    named = json.loads((tmp_path / "named.json").read_text())
    ids = [result["sweep_id"] for result in named]
    assert all(re.fullmatch(SWEEP_ID, sweep_id) for sweep_id in ids), ids
    seconds = [sweep_id.rsplit("-", 1)[0] for sweep_id in ids]
    assert len(set(seconds)) < len(ids), f"no two sweeps named in one second: {ids}"
    assert len(set(ids)) == len(ids)
    assert sorted(path.name for path in target.iterdir()) == sorted(ids)
    assert sorted(path.name for path in controller.iterdir()) == sorted(ids)
    assert [result["path"] for result in named] == [str(target / i) for i in ids]
    assert [result["controller_path"] for result in named] == [str(controller / i) for i in ids]


def test_an_id_taken_on_the_target_is_given_up_on_the_controller_too(tmp_path):
    """The controller's directory and the target's are one directory here: every id the
    controller takes is taken on the target, so each is given up (its controller directory
    removed) and a new one tried, until the plugin says so."""
    both = tmp_path / "both"
    done = subprocess.run(
        [str(BIN / "ansible"), "localhost", "-i", "localhost,", "-c", "local",
         "-m", "llamasweep.sweep.sweep_dir", "-a", f"parent={both} controller_parent={both}",
         "-e", f"ansible_python_interpreter={BIN / 'python'}"],
        cwd=PROJECT, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode != 0
    assert f"no free sweep id after 20 tries under {both}" in done.stdout
    assert list(both.iterdir()) == []


def test_a_second_local_sweep_waits_for_the_first_or_is_refused(sweep_args, tmp_path):
    gate = tmp_path / "gate"
    first_file, second_file = tmp_path / "first", tmp_path / "second"
    # The first sweep is started and left running: its one run waits for the gate.
    run_playbook(
        "sweep.yml",
        *tiny_args(sweep_args, first_file, sweep_wait=False, sweep_run_prefix=gate_prefix(gate)),
    )  # fmt: skip
    first = Path(first_file.read_text().strip())
    # The second waits, and its progress says for which sweep.
    second_playbook = subprocess.Popen(
        [str(BIN / "ansible-playbook"), str(PROJECT / "playbooks" / "sweep.yml"),
         *tiny_args(sweep_args, second_file)],
        cwd=PROJECT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
    )  # fmt: skip
    try:
        wait_for(lambda: second_file.exists() and second_file.read_text().strip(), "second named")
        second = Path(second_file.read_text().strip())
        waiting = second / "waiting-for.txt"
        wait_for(waiting.exists, "the second sweep waits")
        assert waiting.read_text().strip() == first.name
        # A third, told not to wait, is refused at once, naming the running sweep.
        refused = run_playbook(
            "sweep.yml", *tiny_args(sweep_args, tmp_path / "third", sweep_local_lock_wait=False),
            check=False,
        )  # fmt: skip
        assert refused.returncode != 0
        output = " ".join(refused.stdout.split())
        assert f"sweep {first.name} is running on this machine" in output, output[-3000:]
        assert "sweep_local_lock_wait is false" in output
        third = Path((tmp_path / "third").read_text().strip())
        assert task_dirs(third) == []
        assert task_dirs(second) == []  # still waiting
        gate.touch()
        output, _ = second_playbook.communicate(timeout=600)
    finally:
        gate.touch()
        second_playbook.kill()
        second_playbook.wait()
    assert second_playbook.returncode == 0, output[-3000:]
    assert f"waiting for sweep {first.name} to finish" in output
    # Each ran its tasks (its build's greedy check run and its one run), the second's only
    # once the first had finished.
    finished = datetime.fromtimestamp(int((first / "finished").stat().st_mtime), UTC)
    assert len(task_dirs(first)) == 2
    second_tasks = task_dirs(second)
    assert len(second_tasks) == 2
    assert all(task_start(task) >= finished for task in second_tasks)
    assert not (second / "waiting-for.txt").exists()


def installed_venv(tmp_path: Path) -> Path:
    """This test run's venv as make sees one it has set up (its marker newer than
    requirements.txt), so that make installs nothing into it."""
    venv = tmp_path / "venv"
    venv.mkdir()
    for entry in Path(sys.prefix).iterdir():
        if not entry.name.startswith("."):
            (venv / entry.name).symlink_to(entry)
    (venv / ".installed").touch()
    return venv


def test_make_sweep_summarises_its_own_sweep(sweep_args, tmp_path):
    """Another sweep takes results/latest between make's playbook and its summary (a second
    playbook, run after the sweep's by the same ansible-playbook, moves the link): make
    summarises its own sweep."""
    results = tmp_path / "results"
    other = results / "another-sweep"
    settings = tmp_path / "tiny.json"
    settings.write_text(json.dumps(TINY))
    move_latest = tmp_path / "move-latest.yml"
    move_latest.write_text(
        json.dumps([{
            "hosts": "localhost", "gather_facts": False,
            "tasks": [{"ansible.builtin.file": {
                "src": other.name, "dest": str(results / "latest"), "state": "link", "force": True,
            }}],
        }])
    )  # fmt: skip
    arguments = " ".join([str(move_latest), *sweep_args, "-e", f"@{settings}"])
    other.mkdir(parents=True)
    make = subprocess.run(
        ["make", "--no-print-directory", "sweep", f"VENV={installed_venv(tmp_path)}",
         f"ARGS={arguments}"],
        cwd=PROJECT, capture_output=True, text=True,
    )  # fmt: skip
    assert make.returncode == 0, make.stdout[-3000:] + make.stderr[-3000:]
    assert (results / "latest").resolve() == other
    (own,) = [path for path in results.iterdir() if re.fullmatch(SWEEP_ID, path.name)]
    assert (own / "summary.md").is_file() and (own / "runs.csv").is_file()
    assert not (other / "summary.md").exists()
    assert (own / "summary.md").read_text() in make.stdout
