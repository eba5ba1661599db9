"""llamasweep.sweep.sweep_files, through ansible-playbook on localhost: every file written
whole with its mode, in one task; nothing rewritten (and changed false) when all is as
asked; a bad entry refused with what is valid, before anything is written."""

import json
import subprocess
from pathlib import Path

import jmespath
import pytest
from conftest import BIN, PROJECT

pytestmark = pytest.mark.unit


def play(tmp_path, tasks: list[dict]) -> subprocess.CompletedProcess:
    """Run tasks on localhost; their registered results are in results.json."""
    playbook = tmp_path / "play.yml"
    registered = [{**task, "register": f"result{number}"} for number, task in enumerate(tasks)]
    report = {
        "name": "Keep the results",
        "ansible.builtin.copy": {
            "dest": str(tmp_path / "results.json"),
            "content": "{{ ["
            + ", ".join(f"result{n}" for n in range(len(tasks)))
            + "] | to_json }}",
            "mode": "0600",
        },
    }
    playbook.write_text(json.dumps([{"hosts": "localhost", "gather_facts": False,
                                     "tasks": [*registered, report]}]))  # fmt: skip
    return subprocess.run([str(BIN / "ansible-playbook"), str(playbook)], cwd=PROJECT,
                          capture_output=True, text=True)  # fmt: skip


def write_task(dest, **extra) -> dict:
    return {
        "name": "Write",
        "llamasweep.sweep.sweep_files": {
            "dest": str(dest),
            "directories": ["runs", "tools"],
            "files": [
                {"path": "plan.json", "content": '{"tasks": []}\n'},
                {"path": "run.sh", "content": "#!/bin/bash\necho $HOME\n", "mode": "0700"},
                {"path": "tools/triad.c", "src": str(PROJECT / "roles/sweep/files/triad.c")},
                {"path": str(dest / "lib"), "python_package": "jmespath"},
            ],
            **extra,
        },
    }  # fmt: skip


def test_writes_every_file_once_and_then_nothing(tmp_path):
    dest = tmp_path / "sweep"
    dest.mkdir()
    done = play(tmp_path, [write_task(dest), write_task(dest)])
    assert done.returncode == 0, done.stdout[-3000:]
    first, second = json.loads((tmp_path / "results.json").read_text())
    assert first["changed"] and "plan.json" in first["written"]
    assert not second["changed"] and second["written"] == []
    assert (dest / "runs").is_dir() and (dest / "tools").is_dir()
    assert (dest / "run.sh").read_text() == "#!/bin/bash\necho $HOME\n"
    assert (dest / "run.sh").stat().st_mode & 0o777 == 0o700
    assert (dest / "plan.json").stat().st_mode & 0o777 == 0o600
    triad = PROJECT / "roles/sweep/files/triad.c"
    assert (dest / "tools/triad.c").read_bytes() == triad.read_bytes()
    package = (dest / "lib/jmespath/__init__.py").read_text()
    assert package == Path(jmespath.__file__).read_text()
    assert not list(dest.rglob(".*")), "a file written beside its place was left"


def test_controller_writes_and_links_without_a_module(tmp_path):
    results = tmp_path / "results"
    (results / "20261127-000000-0000").mkdir(parents=True)
    task = {
        "name": "Point",
        "llamasweep.sweep.sweep_files": {
            "controller": True,
            "dest": str(results),
            "files": [{"path": "20261127-000000-0000/remote.json", "content": "{}\n"}],
            "links": {"latest": "20261127-000000-0000"},
        },
    }
    done = play(tmp_path, [task, task])
    assert done.returncode == 0, done.stdout[-3000:]
    first, second = json.loads((tmp_path / "results.json").read_text())
    assert first["written"] == ["20261127-000000-0000/remote.json", "latest"]
    assert not second["changed"]
    assert (results / "latest").readlink().name == "20261127-000000-0000"
    assert (results / "latest" / "remote.json").read_text() == "{}\n"


def test_an_entry_with_two_sources_is_refused_before_anything_is_written(tmp_path):
    dest = tmp_path / "sweep"
    dest.mkdir()
    task = write_task(dest)
    files = jmespath.search('"llamasweep.sweep.sweep_files".files', task)
    files.append({"path": "both.txt", "content": "x", "src": "triad.c"})
    done = play(tmp_path, [task])
    assert done.returncode != 0
    message = " ".join(done.stdout.split())
    assert (
        "files[4] (both.txt)" in message
        and "give path, one of content, src, python_package" in message
    )
    assert list(dest.iterdir()) == []
