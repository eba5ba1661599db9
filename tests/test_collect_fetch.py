"""A fetch is all or nothing: the unpack (python -m collect.fetch, the step of fetch.yml)
killed halfway leaves nothing truncated and nothing that looks complete, and the next fetch
brings everything again; what the controller wrote itself is never replaced. The unpack on
real archives, hostile ones among them (each member checked against where it will finally be
placed), then end to end: a sweep on the local Slurm, `python -m collect fetch`."""

import fcntl
import io
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PROJECT, run_playbook, slurm_args

from collect.fetch import CONTROLLER_FILES, LOCK, MARKER, STAGING
from collect.notebook import NOTEBOOK_FILE


def archive_sweep(sweep_dir: Path, archive: Path) -> None:
    """The archive fetch.yml makes on the target: the sweep's directory, one top directory,
    without bin/ (links into the build cache)."""
    subprocess.run(
        ["tar", "--create", "--gzip", f"--file={archive}", f"--directory={sweep_dir.parent}",
         f"--exclude={sweep_dir.name}/bin", sweep_dir.name],
        check=True,
    )  # fmt: skip


def tree(directory: Path) -> dict[str, bytes | str]:
    """Every file under directory: its content, or for a link where it points."""
    return {
        str(path.relative_to(directory)): os.readlink(path)
        if path.is_symlink()
        else path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_symlink() or path.is_file()
    }


def fetched_part(sweep_dir: Path) -> dict[str, bytes | str]:
    """What a fetch brings of the sweep's directory (not what the controller writes, nor
    bin/)."""
    return {name: content for name, content in tree(sweep_dir).items()
            if Path(name).parts[0] not in (*CONTROLLER_FILES, "bin")}  # fmt: skip


def unpack(archive: Path, results: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "collect.fetch", str(archive), str(results)],
        cwd=PROJECT, capture_output=True, text=True,
    )  # fmt: skip


def kill_unpack_halfway(archive: Path, results: Path, tmp_path: Path) -> None:
    """Feed the unpack the first half of the archive through a pipe, and once it has begun to
    write a file of it, kill it (SIGKILL: nothing of its own runs after)."""
    pipe = tmp_path / "archive.pipe"
    os.mkfifo(pipe)
    unpacking = subprocess.Popen(
        [sys.executable, "-m", "collect.fetch", str(pipe), str(results)], cwd=PROJECT
    )
    staging = results / STAGING
    data = archive.read_bytes()
    with open(pipe, "wb") as feed:
        feed.write(data[: len(data) // 2])
        feed.flush()
        deadline = time.monotonic() + 120
        while not any(path.is_file() and path.stat().st_size for path in staging.rglob("*")):
            assert unpacking.poll() is None, "the unpack ended on half an archive"
            assert time.monotonic() < deadline, "the unpack never began to write"
            time.sleep(0.05)
        unpacking.send_signal(signal.SIGKILL)
        unpacking.wait()


def remote_sweep(directory: Path) -> Path:
    """A sweep's directory as it lies on cluster storage: runs with their files (one large
    enough that half the archive holds part of it), a link, the scheduler's last state, and
    a summary someone made there."""
    sweep = directory / "20261127-101500-3fa2"
    run = sweep / "runs" / "0000-stories15M-O3-t1-r1"
    run.mkdir(parents=True)
    (run / "stdout.txt").write_bytes(os.urandom(4 * 2**20))  # incompressible
    (run / "stderr.txt").write_text("achieved tok/s: 123.456\n")
    (run / "status").write_text("0\n")
    (sweep / "slurm").mkdir()
    (sweep / "slurm" / "17_0.out").write_text("")
    (run / "slurm.out").symlink_to("../../slurm/17_0.out")
    (sweep / "scheduler.json").write_text(json.dumps({"finished": True}))
    (sweep / "summary.md").write_text("made on the cluster\n")
    (sweep / NOTEBOOK_FILE).write_text('{"cells": "planted there: code"}\n')
    return sweep


@pytest.mark.unit
def test_unpack_killed_halfway_leaves_nothing_truncated_and_the_next_does_it_all(tmp_path):
    sweep = remote_sweep(tmp_path / "cluster")
    archive = tmp_path / "remote.tar.gz"
    archive_sweep(sweep, archive)
    # The controller's results of the sweep, fetched before while the jobs ran: its own
    # summary and plots, the marker, and a run's stderr.txt cut short and newer than the
    # archive's (what an unpack in place used to leave).
    results = tmp_path / "results" / sweep.name
    (results / "plots").mkdir(parents=True)
    (results / "plots" / "tok_s.png").write_bytes(b"local plot")
    (results / "summary.md").write_text("made here\n")
    (results / NOTEBOOK_FILE).write_text("made here\n")
    (results / "remote.json").write_text("{}\n")
    (results / MARKER).write_text(json.dumps({"fetched": "earlier", "finished": False}))
    cut = results / "runs" / "0000-stories15M-O3-t1-r1" / "stderr.txt"
    cut.parent.mkdir(parents=True)
    cut.write_text("achieved tok/s: 12")
    before = tree(results)

    kill_unpack_halfway(archive, results, tmp_path)
    # Nothing looks complete, and nothing changed but that.
    assert not (results / MARKER).exists()
    unpacking = (STAGING, LOCK)  # the unpack's own, inside the results directory
    left = {name: content for name, content in tree(results).items()
            if Path(name).parts[0] not in unpacking}  # fmt: skip
    assert left == {name: content for name, content in before.items() if name != MARKER}

    done = unpack(archive, results)
    assert done.returncode == 0, done.stderr
    assert fetched_part(results) == fetched_part(sweep)
    assert (results / "runs" / "0000-stories15M-O3-t1-r1" / "slurm.out").is_symlink()
    # The controller's own files stay as they were: a notebook (code) never comes with a fetch.
    for name in ["summary.md", "remote.json", "plots/tok_s.png", NOTEBOOK_FILE]:
        assert (results / name).read_bytes() == before[name], name
    marker = json.loads((results / MARKER).read_text())
    assert marker["finished"] is True and marker["fetched"] != "earlier"
    assert [path.name for path in results.parent.iterdir()] == [results.name]  # nothing beside


@pytest.mark.unit
def test_unpack_refuses_an_archive_reaching_out_of_its_directory(tmp_path):
    """The archive comes from the cluster: a member outside the results directory is refused,
    and nothing is marked fetched."""
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(evil, "w:gz") as tar:
        member = tarfile.TarInfo("sweep/../../outside.txt")
        tar.addfile(member)
    results = tmp_path / "results" / "sweep"
    results.mkdir(parents=True)
    done = unpack(evil, results)
    assert done.returncode == 1
    assert f"cannot unpack {evil}" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "outside.txt").exists() and not (results / MARKER).exists()


@pytest.mark.e2e
@pytest.mark.slurm
def test_slurm_fetch_interrupted_in_its_unpack_is_redone_in_full(slurm, workspace, tmp_path):
    """A waited sweep on the local Slurm (fetched whole once), then a fetch killed in its
    unpack: `python -m collect fetch` brings everything again, byte for byte."""
    results = tmp_path / "results"
    run_playbook(
        "sweep.yml",
        *slurm_args(
            workspace, results, {"sweep_partitions": [{"name": "mcimone-nodes"}]},
            {"sweep_flag_sets": {"O3": "-O3"}}, {"sweep_threads": [1]}, "sweep_repetitions=1",
            "sweep_steps=8", "sweep_bandwidth=false", "sweep_warmup_runs=0",
            "sweep_profile=false",
        ),
        env=slurm,
    )  # fmt: skip
    fetched = (results / "latest").resolve()
    remote_dir = Path(json.loads((fetched / "remote.json").read_text())["remote_dir"])
    assert json.loads((fetched / MARKER).read_text())["finished"] is True
    assert fetched_part(fetched) == fetched_part(remote_dir)

    archive = tmp_path / "remote.tar.gz"
    (remote_dir / "padding.bin").write_bytes(os.urandom(4 * 2**20))  # half an archive is data
    archive_sweep(remote_dir, archive)
    kill_unpack_halfway(archive, fetched, tmp_path)
    assert not (fetched / MARKER).exists()

    again = subprocess.run(
        [sys.executable, "-m", "collect", "fetch", str(fetched)],
        cwd=PROJECT, capture_output=True, text=True, env=slurm,
    )  # fmt: skip
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert json.loads((fetched / MARKER).read_text())["finished"] is True
    assert fetched_part(fetched) == fetched_part(remote_dir)
    assert (fetched / "padding.bin").exists()
    # Fetched whole once every job had ended: the next fetch has nothing to do.
    final = subprocess.run(
        [sys.executable, "-m", "collect", "fetch", str(fetched)],
        cwd=PROJECT, capture_output=True, text=True, env=slurm, check=True,
    )  # fmt: skip
    assert "nothing new to fetch" in final.stdout


def hostile_archive(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    """A gzipped archive of members: (name, content) for a file, or a TarInfo as it is."""
    with tarfile.open(path, "w:gz") as tar:
        for member in members:
            if isinstance(member, tarfile.TarInfo):
                tar.addfile(member)
            else:
                name, content = member
                info = tarfile.TarInfo(name)
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))
    return path


def entry(name: str, kind: bytes, linkname: str = "", mode: int = 0o644) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = kind, linkname, mode
    return info


@pytest.fixture
def fetched_before(tmp_path: Path) -> Path:
    """A sweep's results directory, fetched once, beside files of the user's (the project's
    Makefile) that an archive must never reach."""
    project = tmp_path / "project"
    results = project / "results" / "20261127-101500-3fa2"
    results.mkdir(parents=True)
    (project / "Makefile").write_text("the project's own\n")
    (results / "remote.json").write_text("{}\n")
    (results / MARKER).write_text(json.dumps({"fetched": "earlier", "finished": False}))
    return results


def outside_unchanged(results: Path) -> bool:
    """Whether the project around the results directory is as fetched_before made it."""
    project = results.parent.parent
    return (
        (project / "Makefile").read_text() == "the project's own\n"
        and sorted(os.listdir(project)) == ["Makefile", "results"]
        and os.listdir(results.parent) == [results.name]
    )


@pytest.mark.unit
def test_unpack_refuses_what_filter_data_refuses_on_every_python(fetched_before, tmp_path):
    """Debian 12's Python 3.11.2 has no tarfile filter: the unpack checks each member
    itself, the way filter="data" does, and refuses the whole archive for one bad member."""
    hostile = {
        "an absolute path": [(f"{tmp_path}/project/Makefile", b"replaced\n")],
        "a path up": [("sweep/../../Makefile", b"replaced\n")],
        "an absolute link": [entry("sweep/runs", tarfile.SYMTYPE, str(tmp_path))],
        "a link up out of the sweep": [entry("sweep/up", tarfile.SYMTYPE, "..")],
        "a link up through another link": [
            entry("sweep/a/b", tarfile.SYMTYPE, "../a"),  # inside
            entry("sweep/c", tarfile.SYMTYPE, "a/b/../.."),  # inside as text, out as walked
        ],
        "a hard link": [entry("sweep/h", tarfile.LNKTYPE, "sweep/a")],
        "a device": [entry("sweep/null", tarfile.CHRTYPE)],
        "a FIFO": [entry("sweep/fifo", tarfile.FIFOTYPE)],
        "two top directories": [("sweep/a", b""), ("other/Makefile", b"replaced\n")],
        "a file through a link of the same archive": [
            entry("sweep/d", tarfile.SYMTYPE, "."),
            ("sweep/d/status", b"0\n"),
        ],
    }
    for number, (what, members) in enumerate(hostile.items()):
        archive = hostile_archive(tmp_path / f"hostile-{number}.tar.gz", members)
        done = unpack(archive, fetched_before)
        assert done.returncode == 1, (what, done.stderr)
        assert f"cannot unpack {archive}" in done.stderr and "Traceback" not in done.stderr
        assert not (fetched_before / MARKER).exists(), what
        assert sorted(os.listdir(fetched_before)) == [LOCK, STAGING, "remote.json"], what
        assert outside_unchanged(fetched_before), what


@pytest.mark.unit
def test_the_link_walk_across_fetches_is_refused(fetched_before, tmp_path):
    """The walk of issue 21, three archives of a sweep S1 fetched in turn: `S1/up -> ..`;
    `S1/up/` with `S1/up/up2 -> ..`; `S1/up/up2/Makefile`. filter="data" passed each (inside
    the staging directory), and the moves then followed the links left by the earlier fetches
    up to the project's Makefile. Each is refused, even over the links an older collector
    left."""
    walk = [
        [entry("S1/up", tarfile.SYMTYPE, "..")],
        [entry("S1/up", tarfile.DIRTYPE, mode=0o755), entry("S1/up/up2", tarfile.SYMTYPE, "..")],
        [("S1/up/up2/Makefile", b"replaced\n")],
    ]
    makefile = fetched_before.parent.parent / "Makefile"
    # What an older collector left of the first two (results/up/up2 is results/../up2).
    left = [("up", ".."), ("../up2", ".."), (None, None)]
    for number, (members, (link, target)) in enumerate(zip(walk, left, strict=True)):
        done = unpack(hostile_archive(tmp_path / f"{number}.tar.gz", members), fetched_before)
        assert done.returncode == 1 and f"cannot unpack {tmp_path}" in done.stderr, done.stderr
        assert makefile.read_text() == "the project's own\n"
        assert not (fetched_before / MARKER).exists()
        if link:
            (fetched_before / link).symlink_to(target)
    (fetched_before / "../up2").unlink()

    inside = [entry("sweep/S1", tarfile.DIRTYPE, mode=0o755),
              entry("sweep/S1/up", tarfile.SYMTYPE, "..")]  # fmt: skip
    (fetched_before / "up").unlink()
    done = unpack(hostile_archive(tmp_path / "inside.tar.gz", inside), fetched_before)
    assert done.returncode == 0, done.stderr  # a link to the sweep's own top: inside
    through_it = [("sweep/S1/up/S1/up/status", b"placed through the link\n")]
    done = unpack(hostile_archive(tmp_path / "through.tar.gz", through_it), fetched_before)
    assert done.returncode == 1 and "up is a link or a file" in done.stderr, done.stderr
    assert os.readlink(fetched_before / "S1" / "up") == ".."
    assert not (fetched_before / "S1" / "S1").exists()


@pytest.mark.unit
def test_a_link_planted_in_the_results_is_never_followed(fetched_before, tmp_path):
    """A handed-over results directory whose runs/ is a link out: the fetch refuses to place
    anything through it, and the files it points to stay as they were."""
    victim = tmp_path / "victim"
    (victim / "r1").mkdir(parents=True)
    (victim / "r1" / "status").write_text("mine\n")
    (fetched_before / "runs").symlink_to(victim)
    archive = hostile_archive(tmp_path / "a.tar.gz", [("sweep/runs/r1/status", b"0\n")])
    done = unpack(archive, fetched_before)
    assert done.returncode == 1 and "runs is a link or a file" in done.stderr, done.stderr
    assert (victim / "r1" / "status").read_text() == "mine\n"
    assert sorted(os.listdir(victim / "r1")) == ["status"]


@pytest.mark.unit
def test_unpack_gives_the_modes_of_filter_data(fetched_before, tmp_path):
    members = [entry("sweep/setuid", tarfile.REGTYPE, mode=0o6777),
               entry("sweep/readonly", tarfile.REGTYPE, mode=0o444),
               entry("sweep/slurm/1_0.out", tarfile.REGTYPE),
               entry("sweep/runs/r1/slurm.out", tarfile.SYMTYPE, "../../slurm/1_0.out"),
               ]  # fmt: skip
    done = unpack(hostile_archive(tmp_path / "a.tar.gz", members), fetched_before)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE((fetched_before / "setuid").stat().st_mode) == 0o755
    assert stat.S_IMODE((fetched_before / "readonly").stat().st_mode) == 0o644
    assert (fetched_before / "runs" / "r1" / "slurm.out").is_symlink()  # inside: kept
    assert json.loads((fetched_before / MARKER).read_text())["fetched"] != "earlier"
    assert outside_unchanged(fetched_before)


@pytest.mark.unit
def test_a_second_unpack_waits_for_the_first(fetched_before, tmp_path):
    """Two unpacks at once used to tear the results (one marked a fetch finished that missed
    runs): the second waits for the lock of the first, then does it all."""
    archive = hostile_archive(tmp_path / "a.tar.gz", [("sweep/scheduler.json", b"{}")])
    with open(fetched_before / LOCK, "a") as held:  # the first unpack, still running
        fcntl.flock(held, fcntl.LOCK_EX)
        second = subprocess.Popen(
            [sys.executable, "-m", "collect.fetch", str(archive), str(fetched_before)],
            cwd=PROJECT, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        waiting = second.stderr.readline()
        assert "another fetch is unpacking into" in waiting
        time.sleep(0.5)
        assert second.poll() is None
        assert json.loads((fetched_before / MARKER).read_text())["fetched"] == "earlier"
    assert second.wait(timeout=60) == 0, second.stderr.read()
    assert (fetched_before / "scheduler.json").read_text() == "{}"
    assert json.loads((fetched_before / MARKER).read_text())["fetched"] != "earlier"


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[int]:
    """An sshd of the test's own on 127.0.0.1 (a free port, not the shared test login node),
    its port. Nobody can log in: the host key is checked before any login."""
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).exists():
        pytest.skip("needs Debian's openssh-server")
    host_key = tmp_path / "ssh_host_ed25519_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", host_key], check=True)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = tmp_path / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\nPidFile {tmp_path}/sshd.pid\n"
        "UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
    )
    daemon = subprocess.Popen([sshd, "-D", "-e", "-f", config], stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while subprocess.run(["ssh-keyscan", "-p", str(port), "127.0.0.1"],
                         capture_output=True).returncode != 0:  # fmt: skip
        assert daemon.poll() is None and time.monotonic() < deadline, "sshd did not start"
        time.sleep(0.2)
    yield port
    daemon.terminate()
    daemon.wait()


@pytest.mark.e2e
@pytest.mark.ssh
def test_fetch_refuses_a_changed_or_unknown_host_key_whatever_ansible_ssh_args_says(sshd, tmp_path):
    """ANSIBLE_SSH_ARGS in the environment used to replace ansible.cfg's ssh_args and their
    StrictHostKeyChecking=yes: with `StrictHostKeyChecking no` in it (or in ~/.ssh/config),
    an unknown key was recorded and a changed one let through. Now refused, known_hosts byte
    for byte as it was."""
    port = sshd
    entry = f"[127.0.0.1]:{port}"
    known_hosts = tmp_path / "known_hosts"
    other_key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other_key], check=True)
    changed = f"{entry} " + " ".join(other_key.with_suffix(".pub").read_text().split()[:2])
    connection = {"ansible_host": "127.0.0.1", "ansible_port": port, "ansible_user": "nobody",
                  "ansible_ssh_common_args": f"-o UserKnownHostsFile={known_hosts}"}  # fmt: skip
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"hosts": {"login": connection}}}))
    results = tmp_path / "results" / "20261127-101700"
    results.mkdir(parents=True)
    remote = {"sweep_id": results.name, "backend": "slurm", "host": "login",
              "inventory": [str(inventory)], "connection": connection,
              "remote_dir": f"/home/nobody/llamasweep/sweeps/{results.name}"}  # fmt: skip
    (results / "remote.json").write_text(json.dumps(remote))
    environment = {**os.environ, "ANSIBLE_SSH_ARGS": "-C -o StrictHostKeyChecking=no"}
    for recorded in [f"{changed}\n", ""]:
        known_hosts.write_text(recorded)
        fetched = subprocess.run(
            [sys.executable, "-m", "collect", "fetch", "--force", str(results)],
            cwd=PROJECT, capture_output=True, text=True, env=environment,
        )  # fmt: skip
        message = " ".join(fetched.stderr.split())
        assert fetched.returncode != 0, fetched.stdout[-3000:]
        assert f"the host key of {entry} is not the one recorded in {known_hosts}" in message
        assert f"ssh-keygen -f '{known_hosts}' -R '{entry}'" in message
        assert known_hosts.read_text() == recorded
