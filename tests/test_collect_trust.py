"""A results directory is data, possibly someone else's: remote.json cannot run code, the
collector reads only regular text files inside the directory, summary.md escapes what it
quotes. Real files, links, a FIFO, the real `python -m collect` and playbooks."""

import json
import os
import re
import resource
import shutil
import subprocess
import sys
from html import escape
from pathlib import Path

import pytest
from builders import SweepWriter
from conftest import PROJECT, run_playbook
from test_collect_cli import collect

from collect.datafiles import NotRead
from collect.pipeline import read_results, summarize
from collect.plan import read_task_dir
from collect.remote import RemoteRefused, check_remote
from collect.summary import markdown_code, markdown_text

# Each test its own marker: one runs playbooks (e2e, about a minute), the rest are unit.

SECRET = "SECRET-OUTSIDE-THE-RESULTS"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """Files of the user's, outside any results directory."""
    directory = tmp_path / "home"
    (directory / "run").mkdir(parents=True)
    (directory / "id_ed25519").write_text(f"{SECRET} private key\n")
    (directory / "run" / "execution.txt").write_text(f"host={SECRET}\nexit_status=0\n")
    (directory / "run" / "status").write_text("0\n")
    (directory / "run" / "stderr.txt").write_text(f"achieved tok/s: 1.0\n{SECRET}\n")
    return directory


@pytest.mark.unit
def test_summary_reads_only_regular_text_files_inside_the_results_directory(tmp_path, outside):
    results = tmp_path / "20261127-101500"
    sweep = SweepWriter(results)
    sweep.run("nodes", "O3", 4, 1, tok_s=4.7)
    linked_file = sweep.run("nodes", "O3", 4, 2, tok_s=4.9)
    binary = sweep.run("nodes", "O3", 4, 3, tok_s=4.8)
    fifo = sweep.run("nodes", "O3-openmp", 4, 1, tok_s=16.0)
    slurm_linked = sweep.run("nodes", "O3-openmp", 4, 2, tok_s=17.0)
    (results / linked_file / "stderr.txt").unlink()
    (results / linked_file / "stderr.txt").symlink_to(outside / "id_ed25519")
    (results / binary / "perf.txt").write_bytes(b"\x7fELF\x00\x01 cycles\n")
    (results / fifo / "perf.txt").unlink()
    os.mkfifo(results / fifo / "perf.txt")
    linked_run = sweep.run("nodes", "O3-openmp", 4, 3, started=False)
    (results / linked_run).symlink_to(outside / "run", target_is_directory=True)
    # A Slurm run's slurm.out points inside: read.
    (results / "slurm").mkdir()
    (results / "slurm" / "41_4.out").write_text("slurmstepd: task output\n")
    (results / slurm_linked / "slurm.out").symlink_to("../../slurm/41_4.out")

    summary = summarize(results, record_history=False)

    written = summary + (results / "runs.csv").read_text() + (results / "report.html").read_text()
    assert SECRET not in written
    _, _, files_not_read = read_results(results)
    assert files_not_read == {
        f"{linked_file}/stderr.txt": (
            f"a link to {outside / 'id_ed25519'}, outside the results directory"
        ),
        linked_run: "a link out of the results directory",
        f"{binary}/perf.txt": "a binary file, not text",
        f"{fifo}/perf.txt": "not a regular file",
    }  # the inside link, slurm.out, is read
    assert "## Files not read (4)" in summary
    report = (results / "report.html").read_text()
    for path, why in files_not_read.items():
        assert f"- {markdown_code(path)}: {markdown_text(why)}" in summary
        assert f"<tr><th><code>{escape(path)}</code></th><td>{escape(why)}</td></tr>" in report
    not_read = NotRead()
    slurm_out = read_task_dir(results / slurm_linked, results, not_read=not_read).slurm_text
    assert slurm_out == "slurmstepd: task output\n"
    assert not_read.listed() == {}


@pytest.mark.unit
def test_a_file_larger_than_the_cap_is_not_read(tmp_path):
    """A 2 GB sparse stderr.txt: read whole, it cost 2.26 GB of memory and 16 s."""
    results = tmp_path / "20261127-101500"
    sweep = SweepWriter(results)
    sweep.run("nodes", "O3", 4, 1, tok_s=4.7)
    huge = sweep.run("nodes", "O3", 4, 2, tok_s=4.9)
    with open(results / huge / "stderr.txt", "r+b") as stderr:
        stderr.truncate(2 * 10**9)
    memory_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB

    summary = summarize(results, record_history=False)

    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - memory_before
    assert grown < 200 * 2**10, f"{grown} KiB more memory"
    assert read_results(results)[2] == {f"{huge}/stderr.txt": "larger than 256 MiB"}
    assert f"- {markdown_code(f'{huge}/stderr.txt')}: larger than 256 MiB" in summary


@pytest.mark.unit
def test_a_link_out_is_listed_when_summarising_the_current_directory(
    tmp_path, outside, monkeypatch
):
    """`python -m collect summarize .` from inside the results directory: the runs' files
    are checked against the same directory, so the link out is listed in summary.md."""
    results = tmp_path / "20261127-101600"
    linked_file = SweepWriter(results).run("nodes", "O3", 4, 1, tok_s=4.7)
    (results / linked_file / "stderr.txt").unlink()
    (results / linked_file / "stderr.txt").symlink_to(outside / "id_ed25519")
    monkeypatch.chdir(results)

    summary = summarize(Path("."), record_history=False)

    assert SECRET not in summary
    assert "## Files not read (1)" in summary
    assert f"{markdown_code(f'{linked_file}/stderr.txt')}: a link to " in summary


@pytest.mark.unit
def test_summary_escapes_the_text_it_quotes(tmp_path):
    results = tmp_path / "20261127-101600"
    sweep = SweepWriter(results)
    hostile_flag_set = "*bold* <b>x</b>"
    hostile_reason = "<img src=x onerror=alert(1)> [click](http://evil.example) `code`"
    sweep.run("nodes", "O3", 4, 1, tok_s=4.7, record={"flag_set": hostile_flag_set})
    sweep.run("nodes", "O3", 4, 2, tok_s=4.9)
    sweep.run("nodes", "O3", 4, 3, exit_status=1, stderr=f"first\n{hostile_reason}\n")

    summary = summarize(results, record_history=False)

    assert r"\*bold\* \<b\>x\</b\>" in summary
    assert r"\<img src=x onerror=alert(1)\> \[click\](http://evil.example) \`code\`" in summary
    for raw in ["<b>", "<img", "[click]", "*bold*"]:
        assert raw not in summary.replace("\\" + raw[0], ""), raw


@pytest.fixture
def submitted(tmp_path: Path) -> Path:
    """A results directory as a Slurm sweep leaves it at submit time, for a host that
    does not exist (a fetch that ran would fail, never hang)."""
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("all:\n  hosts:\n    nowhere:\n      ansible_host: 192.0.2.1\n")
    results = tmp_path / "results" / "20261127-101700"
    results.mkdir(parents=True)
    remote = {
        "sweep_id": results.name,
        "backend": "slurm",
        "host": "nowhere",
        "inventory": [str(inventory)],
        "remote_dir": f"/home/student/llamasweep/sweeps/{results.name}",
        "python": "/usr/bin/python3",
        "pythonpath": "/home/student/llamasweep/lib/python",
        "jobs": ["partition nodes: build job 12, array job 13 (4 tasks, --time=00:05:00)"],
        "connection": {"ansible_host": "192.0.2.1", "ansible_port": 2223,
                       "ansible_user": "student",
                       "ansible_ssh_common_args": "-o UserKnownHostsFile=/tmp/known_hosts"},
    }  # fmt: skip
    (results / "remote.json").write_text(json.dumps(remote))
    return results


def hostile_variants(marker: Path, script: Path) -> list[tuple[str, dict, str]]:
    """(what, change to remote.json, what the refusal names): each would run a command
    that creates marker if remote.json were trusted."""
    pipe = "{{ lookup('pipe', 'touch " + str(marker) + "') }}"
    return [
        ("jinja in a connection variable", {"connection": {"ansible_user": pipe}},
         "connection.ansible_user"),
        ("ProxyCommand", {"connection": {"ansible_ssh_common_args":
                                         f"-o ProxyCommand='touch {marker}'"}},
         "connection.ansible_ssh_common_args"),
        ("an option as a value", {"connection": {"ansible_ssh_common_args":
                                                 "-o ProxyJump=-oProxyCommand=x"}},
         "connection.ansible_ssh_common_args"),
        ("a jump host", {"connection": {"ansible_ssh_common_args":
                                        "-o UserKnownHostsFile=/tmp/known_hosts "
                                        "-o ProxyJump=student@192.0.2.66"}},
         "connection.ansible_ssh_common_args"),
        ("another Python", {"python": str(script)}, "python"),
        ("another Python for Ansible", {"connection": {"ansible_python_interpreter": str(script)}},
         "connection.ansible_python_interpreter"),
        ("a variable of its own", {"connection": {"ansible_become_exe": str(script)}},
         "unknown variables ['ansible_become_exe']"),
        ("a script inventory", {"inventory": [str(script)]}, "executable"),
        ("a preloaded library", {"environment": {"LD_PRELOAD": "/tmp/x.so"}},
         "unknown keys ['environment']"),
        ("modules from elsewhere", {"pythonpath": "/tmp/lib/python"}, "pythonpath"),
        ("an unknown key", {"extravars": {"x": pipe}}, "unknown keys ['extravars']"),
        ("jinja in the sweep id", {"sweep_id": pipe}, "sweep_id"),
    ]  # fmt: skip


@pytest.mark.e2e
def test_a_hostile_remote_json_is_refused_before_anything_runs(submitted, tmp_path):
    marker = tmp_path / "ran"
    script = tmp_path / "python3"
    script.write_text(f"#!/bin/sh\ntouch {marker}\n")
    script.chmod(0o755)
    sound = json.loads((submitted / "remote.json").read_text())
    checked = subprocess.run([sys.executable, "-m", "collect.remote", str(submitted)],
                             cwd=PROJECT, capture_output=True, text=True)  # fmt: skip
    assert checked.returncode == 0 and json.loads(checked.stdout) == sound, checked.stderr
    for what, change, named in hostile_variants(marker, script):
        remote = {**sound, **change}
        if "connection" in change:
            remote["connection"] = {**sound["connection"], **change["connection"]}
        (submitted / "remote.json").write_text(json.dumps(remote))
        fetched = collect("fetch", str(submitted))
        assert fetched.returncode == 2, (what, fetched.stdout, fetched.stderr)
        assert named in fetched.stderr, (what, fetched.stderr)
        assert "Traceback" not in fetched.stderr
        # The playbooks read remote.json through the same check (make wait, fetch.yml).
        waited = run_playbook(
            "fetch.yml", "-i", str(tmp_path / "inventory.yml"),
            "-e", f"sweep_fetch_results={submitted}", check=False,
        )  # fmt: skip
        assert waited.returncode != 0 and named in waited.stdout, (what, waited.stdout[-2000:])
        assert not marker.exists(), what


@pytest.mark.unit
def test_a_known_hosts_file_that_came_with_the_results_is_refused(tmp_path):
    """A known_hosts inside the results directory would vouch for whatever host remote.json
    names: refused, naming it; the user's own is accepted."""
    results = tmp_path / "results" / "20261127-101700"
    results.mkdir(parents=True)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("all:\n  hosts:\n    nowhere:\n")
    own = tmp_path / "known_hosts"
    own.write_text("")
    planted = results / "known_hosts"
    planted.write_text("192.0.2.1 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOnly+theirs\n")
    remote = {"host": "nowhere", "inventory": [str(inventory)],
              "remote_dir": f"/home/student/llamasweep/sweeps/{results.name}"}  # fmt: skip

    def with_known_hosts(path: Path) -> dict:
        common_args = f"-o ConnectTimeout=5 -o UserKnownHostsFile={path}"
        return {**remote, "connection": {"ansible_ssh_common_args": common_args}}

    assert check_remote(with_known_hosts(own), results) == with_known_hosts(own)
    with pytest.raises(RemoteRefused) as refused:
        check_remote(with_known_hosts(planted), results)
    assert f"UserKnownHostsFile {str(planted)!r} is inside the results directory" in str(
        refused.value
    )


@pytest.mark.unit
def test_a_results_path_with_jinja_is_refused(submitted):
    # The path becomes an extra variable of the fetch, and those are templates.
    moved = submitted.parent / "{{ lookup('pipe', 'id') }}"
    submitted.rename(moved)
    fetched = collect("fetch", str(moved))
    assert fetched.returncode == 2
    assert "a results directory's path holds no { or }" in fetched.stderr
    assert "PLAY" not in fetched.stdout


@pytest.mark.unit
def test_a_sweep_directory_of_another_account_is_not_run(submitted, tmp_path):
    """remote_dir names a directory on the target whose progress script the fetch runs:
    one that is not this account's own is refused there, before anything runs."""
    marker = tmp_path / "ran"
    foreign = tmp_path / "other" / "llamasweep" / "sweeps" / submitted.name
    (foreign / "tools").mkdir(parents=True)
    (foreign / "tools" / "backend_slurm.py").write_text(f"open({str(marker)!r}, 'w')\n")
    shutil.chown(foreign, "nobody")
    inventory = tmp_path / "local.yml"
    inventory.write_text(
        "all:\n  hosts:\n    nowhere:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n"
    )
    remote = json.loads((submitted / "remote.json").read_text())
    remote.update(
        inventory=[str(inventory)], remote_dir=str(foreign), python=sys.executable,
        pythonpath=str(foreign.parent.parent / "lib" / "python"), connection={},
    )  # fmt: skip
    (submitted / "remote.json").write_text(json.dumps(remote))
    fetched = collect("fetch", "--force", str(submitted))
    message = " ".join(fetched.stderr.split())
    assert fetched.returncode != 0
    assert (
        f"{foreign} (remote_dir of {submitted}/remote.json) is not a directory of this account's"
        in message
    )
    assert not marker.exists()


KEY_LINE = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOattackerskey attacker@example"


@pytest.mark.unit
def test_summarize_writes_nothing_through_planted_temporary_links(tmp_path, outside):
    """Temporary files used to be .<name>.<pid>.tmp, opened through whatever was there:
    links planted under those names, for this very process, made summarize write the report
    over a file outside and leave report.html a link to it."""
    results = tmp_path / "20261127-101800"
    sweep = SweepWriter(results)
    sweep.run("nodes", "O3", 4, 1, tok_s=4.7)
    sweep.run("nodes", "O3", 2, 1, tok_s=2.7)
    (results / "plots").mkdir()
    victim = outside / "id_ed25519"
    names = ["runs.csv", "summary.md", "report.html", *(f"plots/{png}" for png in
             ["roofline.png", "speedup_by_threads.png", "tok_s_by_flag_set.png"])]  # fmt: skip
    for name in names:
        planted = results / name
        planted.with_name(f".{planted.name}.{os.getpid()}.tmp").symlink_to(victim)

    summarize(results, record_history=False)

    assert victim.read_text() == f"{SECRET} private key\n"
    for name in names:
        assert not (results / name).is_symlink(), name
    assert (results / "report.html").is_file() and SECRET not in (results / "runs.csv").read_text()


@pytest.mark.unit
def test_a_plots_link_out_of_the_results_is_refused(tmp_path, outside):
    """plots/ a link to a directory outside: summarize used to delete PNGs there and write one;
    now it refuses, saying why, and the directory outside is left as it was."""
    results = tmp_path / "20261127-101900"
    sweep = SweepWriter(results)
    sweep.run("nodes", "O3", 4, 1, tok_s=4.7)
    sweep.run("nodes", "O3", 2, 1, tok_s=2.7)
    pictures = outside / "pictures"
    pictures.mkdir()
    for png in ["roofline.png", "tok_s_by_threads.png"]:
        (pictures / png).write_bytes(b"a picture of mine")
    (results / "plots").symlink_to(pictures, target_is_directory=True)

    summarized = collect("summarize", "--no-history", str(results))

    assert summarized.returncode == 2 and "Traceback" not in summarized.stderr
    assert f"{results / 'plots'} is a link or not a directory" in summarized.stderr
    assert sorted(os.listdir(pictures)) == ["roofline.png", "tok_s_by_threads.png"]
    assert {(pictures / png).read_bytes() for png in os.listdir(pictures)} == {b"a picture of mine"}


@pytest.mark.unit
def test_no_text_of_the_sweep_starts_a_line_of_an_output(tmp_path):
    """A flag set's name (and a recorded file) carrying a newline and an SSH public key: the
    key must start no line of runs.csv, summary.md or report.html (one written over an
    authorized_keys let its key log in), and the name still shows, its newline escaped."""
    results = tmp_path / "20261127-102000"
    sweep = SweepWriter(results)
    sweep.run("nodes", "O3", 4, 1, tok_s=4.7, record={"flag_set": f"O3\n{KEY_LINE}\n"})
    sweep.run("nodes", "O3", 4, 2, tok_s=4.9)
    (results / "builds" / "nodes").mkdir(parents=True)
    (results / "builds" / "nodes" / "O3.txt").write_text(f"gcc -O3\r\n{KEY_LINE}\n")

    summarize(results, record_history=False)

    for name in ["runs.csv", "summary.md", "report.html"]:
        text = (results / name).read_text()
        assert "attackerskey" in text, name
        assert not any(
            line.lstrip().startswith("ssh-ed25519") for line in re.split(r"[\r\n]", text)
        ), name
    assert f"O3\\n{KEY_LINE}\\n" in (results / "runs.csv").read_text()
    assert f"O3&#10;{KEY_LINE}&#10;" in (results / "report.html").read_text()


@pytest.mark.unit
def test_a_results_directory_cannot_choose_to_run_its_own_code(submitted, tmp_path):
    """The attack of issue 21: "ansible_connection": "local" with remote_dir and pythonpath
    inside the handed-over results made `make collect` run their progress report and a
    sitecustomize.py. The connection is ssh or what the user's inventory says, and neither
    directory may lie in the results."""
    marker = tmp_path / "ran"
    workspace = submitted / "workspace"
    sweep_dir = workspace / "sweeps" / submitted.name
    (sweep_dir / "tools").mkdir(parents=True)
    (sweep_dir / "tools" / "backend_slurm.py").write_text(f"open({str(marker)!r}, 'w')\n")
    (workspace / "lib" / "python").mkdir(parents=True)
    (workspace / "lib" / "python" / "sitecustomize.py").write_text(f"open({str(marker)!r}, 'w')\n")
    sound = json.loads((submitted / "remote.json").read_text())
    inside = {"remote_dir": str(sweep_dir), "pythonpath": str(workspace / "lib" / "python")}
    local = {"connection": {**sound["connection"], "ansible_connection": "local"}}
    for change, named in [
        (local, "connection.ansible_connection = 'local'; valid: ['ssh']"),
        (inside, f"remote_dir = {str(sweep_dir)!r} is inside the results directory"),
        ({**inside, **local}, "is inside the results directory"),
    ]:
        (submitted / "remote.json").write_text(json.dumps({**sound, **change}))
        fetched = collect("fetch", "--force", str(submitted))
        assert fetched.returncode == 2 and named in fetched.stderr, (change, fetched.stderr)
        assert not marker.exists()


@pytest.mark.unit
def test_host_key_checking_holds_whatever_the_environment_and_ssh_config_say(
    submitted, tmp_path, monkeypatch
):
    """ANSIBLE_SSH_ARGS in the environment used to replace ansible.cfg's ssh_args, and with
    them StrictHostKeyChecking=yes: `StrictHostKeyChecking no` in ~/.ssh/config then let a
    changed key through. The fetch gives ansible-runner its own ssh options, first on ssh's
    command line (ssh keeps the first value of an option), and clears the others; ssh itself
    says what it would do with them and such a config (ssh -G connects to nothing)."""
    import ansible_runner

    from collect.fetch import fetch

    given = {}

    def run(**arguments):
        given.update(arguments, environ=dict(os.environ))
        raise SystemExit("not run")

    monkeypatch.setattr(ansible_runner, "run", run)
    monkeypatch.setenv("ANSIBLE_SSH_ARGS", "-C -o ControlMaster=auto -o ControlPersist=60s")
    monkeypatch.setenv("ANSIBLE_CONFIG", str(tmp_path / "elsewhere.cfg"))
    monkeypatch.setenv("ANSIBLE_SSH_EXECUTABLE", str(tmp_path / "not-ssh"))
    with pytest.raises(SystemExit):
        fetch(submitted, quiet=True, force=True)

    for name in ["ANSIBLE_SSH_ARGS", "ANSIBLE_CONFIG", "ANSIBLE_SSH_EXECUTABLE"]:
        assert name not in given["environ"], name
    assert given["envvars"]["ANSIBLE_HOST_KEY_CHECKING"] == "True"
    ssh_config = tmp_path / "ssh_config"  # as a ~/.ssh/config that turns checking off
    ssh_config.write_text("Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n")
    effective = subprocess.run(
        ["ssh", "-G", "-F", str(ssh_config), *given["envvars"]["ANSIBLE_SSH_ARGS"].split(),
         "-o", "UserKnownHostsFile=/dev/null", "192.0.2.1"],
        capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip
    assert "stricthostkeychecking true" in effective
    assert "userknownhostsfile /tmp/known_hosts" in effective  # remote.json's, of the user's
