"""End to end with Unix accounts on this machine (as root): an instructor and two students in
the class's group, and an outsider in none. The instructor provisions the class store
(playbooks/setup-class.yml) from a local HTTP server and the offline mirrors; a student's
sweep takes llama2.c, FlameGraph and the checkpoint from the store (nothing downloaded or
cloned, every file verified, the store untouched); a second student's extra model is
downloaded into their own workspace; the outsider cannot read the store; a byte changed in a
stored checkpoint is refused with both sums before anything runs. The store holds a prebuilt
binary of one flag set: the student's sweep runs it in place (its build record says
reused-from-store) and builds the other flag set in the student's own cache. One store for
the module."""

import grp
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import BIN, PROJECT, CheckpointServer, source_args

pytestmark = pytest.mark.e2e

GROUP = "ls-class"
INSTRUCTOR, STUDENT, OTHER_STUDENT, OUTSIDER = (
    "ls-instructor",
    "ls-student1",
    "ls-student2",
    "ls-outsider",
)
GENERATOR = PROJECT / "roles" / "checkpoint" / "files" / "synthetic_checkpoint.py"
# Models small enough to serve in a test, in llama2.c's format.
TINY = {"dim": 64, "hidden_dim": 172, "n_layers": 2, "n_heads": 4, "n_kv_heads": 4,
        "vocab_size": 32000, "seq_len": 128}  # fmt: skip


# Where every account finds the checkout (its .venv included) and the offline mirrors: each
# bind-mounted read-only under a directory open to all (the checkout fixture), since the
# folders around them may be closed to others (CI clones into a folder of its own).
SHARED_CHECKOUT = Path("/var/tmp/llamasweep-class-checkout")
MIRRORS = ("LLAMASWEEP_TEST_LLAMA2C", "LLAMASWEEP_TEST_FLAMEGRAPH")


def shared_path(path: Path | str) -> Path:
    """Where the accounts see path: the checkout's or a mirror's directory, as mounted."""
    path = Path(path).resolve()
    if path.is_relative_to(PROJECT):
        return SHARED_CHECKOUT / "project" / path.relative_to(PROJECT)
    return SHARED_CHECKOUT / "mirrors" / path.name


def shared_source_args() -> list[str]:
    """source_args with the offline mirrors where the accounts see them."""
    mirrors = {os.environ[name]: str(shared_path(os.environ[name]))
               for name in MIRRORS if name in os.environ}  # fmt: skip
    args = []
    for arg in source_args():
        for path, shared in mirrors.items():
            arg = arg.replace(path, shared)
        args.append(arg)
    return args


def run_as(user: str, *command: str, check: bool = False) -> subprocess.CompletedProcess:
    """command as user, in a clean environment of that user's (as after a login), in the
    checkout as mounted for all."""
    bin_dir = shared_path(BIN)
    env = {"HOME": pwd.getpwnam(user).pw_dir, "USER": user, "LOGNAME": user,
           "PATH": f"{bin_dir}:/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}  # fmt: skip
    for name in MIRRORS:
        if name in os.environ:
            env[name] = str(shared_path(os.environ[name]))
    return subprocess.run(
        ["runuser", "-u", user, "--", "env", "-i", *(f"{k}={v}" for k, v in env.items()),
         *command],
        cwd=shared_path(PROJECT), capture_output=True, text=True, stdin=subprocess.DEVNULL,
        check=check,
    )  # fmt: skip


def playbook_as(user: str, playbook: str, *args: str, check: bool = True) -> str:
    """A playbook of the project run by user; its output, on one line. (The venv's python
    named first: the scripts' #! lines name the checkout where it lies.)"""
    bin_dir = shared_path(BIN)
    done = run_as(user, str(bin_dir / "python"), str(bin_dir / "ansible-playbook"),
                  str(shared_path(PROJECT / "playbooks" / playbook)), *args)  # fmt: skip
    if check and done.returncode != 0:
        pytest.fail(f"{playbook} as {user} failed:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}")
    return " ".join((done.stdout + done.stderr).split())


def recap_changed(output: str) -> int:
    return int(output.split("PLAY RECAP")[-1].split("changed=")[1].split()[0])


def remove_account(name: str) -> None:
    subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)


def snapshot(store: Path) -> dict:
    """Every entry of the store: mode, owner, size, modification time."""
    found = {}
    for path in [store, *sorted(store.rglob("*"))]:
        status = path.lstat()
        found[str(path)] = (status.st_mode, status.st_uid, status.st_size, status.st_mtime_ns)
    return found


@contextmanager
def checkout_for_all():
    """The checkout, and each offline mirror's directory, bind-mounted read-only under
    SHARED_CHECKOUT (mode 755), unmounted afterwards."""
    sources = {PROJECT: shared_path(PROJECT)}
    for name in MIRRORS:
        if name in os.environ:
            sources[Path(os.environ[name]).resolve().parent] = SHARED_CHECKOUT / "mirrors"
    mounted = []
    try:
        for source, target in sources.items():
            target.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "--bind", str(source), str(target)], check=True)
            mounted.append(target)
            subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True)
        SHARED_CHECKOUT.chmod(0o755)
        yield
    finally:
        for target in reversed(mounted):
            # --lazy: detached now, whatever an account's last process still holds there
            subprocess.run(["umount", "--lazy", str(target)], check=True)
        shutil.rmtree(SHARED_CHECKOUT, ignore_errors=True)


@contextmanager
def class_accounts(students=(STUDENT, OTHER_STUDENT)):
    """The class's group, the instructor and the students in it, an outsider (recreated when
    a run before left them), the checkout mounted for all (checkout_for_all); all removed
    afterwards."""
    names = (INSTRUCTOR, *students, OUTSIDER)
    for name in names:
        remove_account(name)
    subprocess.run(["groupdel", GROUP], check=False, capture_output=True)
    subprocess.run(["groupadd", GROUP], check=True)
    for name in names:
        groups = [] if name == OUTSIDER else ["-G", GROUP]
        subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", *groups, name],
                       check=True)  # fmt: skip
    try:
        with checkout_for_all():
            # The accounts run this checkout's venv in place: nothing is copied for them.
            usable = run_as(OUTSIDER, str(shared_path(BIN) / "python"), "-c", "import ansible")
            assert usable.returncode == 0, usable.stderr
            yield
    finally:
        for name in names:
            remove_account(name)
        subprocess.run(["groupdel", GROUP], check=False, capture_output=True)


@contextmanager
def served_checkpoints(directory: Path, shapes: dict[str, dict]):
    """Synthetic checkpoints of these shapes (name -> config) on a local HTTP server, pinned
    by sha256 in the server's catalog (the project's, with them added)."""
    catalog = yaml.safe_load((PROJECT / "group_vars/all/checkpoints.yml").read_text())
    server = CheckpointServer(directory)
    for name, shape in shapes.items():
        options = [f"--{key.replace('_', '-')}={value}" for key, value in shape.items()]
        subprocess.run([sys.executable, str(GENERATOR), f"--seed-name={name}",
                        f"--output={directory / (name + '.bin')}", *options],
                       check=True, capture_output=True)  # fmt: skip
        data = (directory / f"{name}.bin").read_bytes()
        catalog["checkpoint_catalog"][name] = {
            "url": f"{server.url}/{name}.bin", "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(), "config": shape,
        }  # fmt: skip
    server.catalog = catalog
    try:
        yield server
    finally:
        server.close()


@contextmanager
def class_store(served, models: list[str], flag_sets: dict[str, str]):
    """The class store, provisioned by the instructor twice (the second changes nothing):
    its path, the directory of the settings file, the outputs of both runs, its manifest."""
    base = Path(tempfile.mkdtemp(prefix="llamasweep-class-", dir="/var/tmp"))
    base.chmod(0o755)
    try:
        (base / "vars.json").write_text(
            json.dumps({**served.catalog, "checkpoint_source": "download", "sweep_models": models})
        )
        (base / "vars.json").chmod(0o644)
        instructor_dir = base / "instructor"
        instructor_dir.mkdir()
        shutil.chown(instructor_dir, INSTRUCTOR)
        path = instructor_dir / "store"
        args = ["-e", f"@{base / 'vars.json'}", *shared_source_args(), "-e", f"class_store={path}",
                "-e", f"class_store_group={GROUP}",
                "-e", json.dumps({"class_store_flag_sets": flag_sets})]  # fmt: skip
        first = playbook_as(INSTRUCTOR, "setup-class.yml", *args)
        second = playbook_as(INSTRUCTOR, "setup-class.yml", *args)
        manifest = json.loads((path / "manifest.json").read_text())
        yield {"path": path, "base": base, "first": first, "second": second,
               "manifest": manifest}  # fmt: skip
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def accounts():
    if os.geteuid() != 0:
        pytest.skip("creates Unix accounts and runs playbooks as them: needs root")
    with class_accounts():
        yield


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """tiny (for the store) and tiny2 (one student's own)."""
    with served_checkpoints(
        tmp_path_factory.mktemp("served"), {"tiny": TINY, "tiny2": TINY}
    ) as server:
        yield server


@pytest.fixture(scope="module")
def store(accounts, served):
    with class_store(served, ["tiny"], {"O2": "-O2"}) as provisioned:
        yield provisioned


def student_args(store: dict, user: str, *models: str) -> list[str]:
    """A student's offline setup naming the class store (FlameGraph at the store's commit:
    the test's mirror follows a branch), into that student's own workspace."""
    home = pwd.getpwnam(user).pw_dir
    settings = {"class_store": str(store["path"]), "llamasweep_workspace": f"{home}/llamasweep",
                "flamegraph_version": store["manifest"]["flamegraph"]["commit"],
                "sweep_models": list(models or ["tiny"])}  # fmt: skip
    return [
        "-e",
        f"@{store['base'] / 'vars.json'}",
        *shared_source_args(),
        "-e",
        json.dumps(settings),
    ]


def test_the_instructor_provisions_a_group_readable_store_with_a_manifest(store, served):
    path, manifest = store["path"], store["manifest"]
    assert recap_changed(store["first"]) > 0
    assert recap_changed(store["second"]) == 0, store["second"][-3000:]
    assert served.requests.count("/tiny.bin") == 1  # downloaded once, verified, kept
    commit = manifest["llama2c"]["commit"]
    assert (path / manifest["llama2c"]["dir"] / "run.c").is_file() and len(commit) == 40
    assert not (path / manifest["llama2c"]["dir"] / ".git").exists()
    assert manifest["checkpoints"]["tiny"] == {
        "path": "checkpoints/tiny.bin", "source": "download",
        "sha256": served.catalog["checkpoint_catalog"]["tiny"]["sha256"],
    }  # fmt: skip
    (binary,) = [
        f for f in manifest["files"] if f.startswith("builds/cache/") and f.endswith("/run")
    ]
    assert os.access(path / binary, os.X_OK)
    # Every file with its sum, and nothing else.
    files = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
    assert sorted(manifest["files"]) == [f for f in files if f != "manifest.json"]
    for relative, expected in manifest["files"].items():
        assert hashlib.sha256((path / relative).read_bytes()).hexdigest() == expected
    # The instructor's, the class's group reads, setgid directories, nobody else anything.
    group = grp.getgrnam(GROUP).gr_gid
    for entry in [path, *path.rglob("*")]:
        status = entry.lstat()
        assert (status.st_uid, status.st_gid) == (pwd.getpwnam(INSTRUCTOR).pw_uid, group), entry
        assert status.st_mode & 0o027 == 0 and status.st_mode & 0o040, (entry, oct(status.st_mode))
        if entry.is_dir():
            assert status.st_mode & 0o7777 == 0o2750, (entry, oct(status.st_mode))


def test_a_students_sweep_uses_the_store_and_downloads_nothing(store, served):
    before, requests = snapshot(store["path"]), len(served.requests)
    output = playbook_as(
        STUDENT, "sweep.yml", *student_args(store, STUDENT), "-e",
        json.dumps({"sweep_flag_sets": {"O2": "-O2", "Os": "-Os"}, "sweep_threads": [1],
                    "sweep_results_dir": f"/home/{STUDENT}/results", "sweep_repetitions": 1,
                    "sweep_steps": 8, "sweep_profile": False, "sweep_bandwidth": False,
                    "sweep_warmup_runs": 0, "sweep_poll_interval": 1}),
    )  # fmt: skip
    commit = store["manifest"]["llama2c"]["commit"]
    assert f"from the store: llama2.c {commit}, FlameGraph " in output
    assert "tiny; in your workspace: nothing." in output
    assert len(served.requests) == requests  # nothing downloaded
    workspace = Path(f"/home/{STUDENT}/llamasweep")
    assert not (workspace / "llama2.c").exists() and not (workspace / "FlameGraph").exists()
    assert not list((workspace / "checkpoints").iterdir())
    assert snapshot(store["path"]) == before  # nothing written there
    # O2 is the store's binary, run in place; Os the student's own, built from the store's
    # run.c; both ran the store's checkpoint.
    (sweep,) = [p for p in Path(f"/home/{STUDENT}/results").iterdir() if not p.is_symlink()]
    stored = dict(
        line.split("=", 1) for line in (sweep / "builds/local/O2.txt").read_text().splitlines()
    )
    assert stored["outcome"] == "reused-from-store"
    assert stored["cache_path"] == f"{store['path']}/builds/cache/{stored['key']}/run"
    assert store["manifest"]["files"][f"builds/cache/{stored['key']}/run"] == stored["sha256"]
    own = dict(
        line.split("=", 1) for line in (sweep / "builds/local/Os.txt").read_text().splitlines()
    )
    assert own["outcome"] == "built" and own["cache_path"].startswith(f"{workspace}/bin/cache/")
    assert f"{store['path']}/llama2.c/{commit}/run.c" in own["command"]
    assert [p.name for p in (workspace / "bin" / "cache").iterdir()] == [own["key"]]
    plan = json.loads((sweep / "plan.json").read_text())
    assert str(store["path"] / "checkpoints" / "tiny.bin") in json.dumps(plan)
    statuses = [p.read_text().strip() for p in sweep.rglob("status")]
    assert statuses and set(statuses) == {"0"}, statuses  # exit statuses


def test_a_model_the_store_lacks_is_provisioned_in_the_students_workspace(store, served):
    before, requests = snapshot(store["path"]), len(served.requests)
    output = playbook_as(OTHER_STUDENT, "setup.yml",
                         *student_args(store, OTHER_STUDENT, "tiny", "tiny2"))  # fmt: skip
    assert "tiny; in your workspace: tiny2." in output
    assert served.requests[requests:] == ["/tiny2.bin"]
    checkpoints = Path(f"/home/{OTHER_STUDENT}/llamasweep/checkpoints")
    assert [p.name for p in checkpoints.iterdir()] == ["tiny2.bin"]
    assert snapshot(store["path"]) == before


def test_the_outsider_cannot_read_the_store(store):
    path = store["path"]
    for command in (["ls", str(path)], ["cat", str(path / "manifest.json")],
                    ["cat", str(path / "checkpoints" / "tiny.bin")]):  # fmt: skip
        refused = run_as(OUTSIDER, *command)
        assert refused.returncode != 0 and "Permission denied" in refused.stderr, command
    output = playbook_as(OUTSIDER, "setup.yml", *student_args(store, OUTSIDER), check=False)
    assert f"The class store {path} (class_store in your inventory) cannot be used" in output
    assert "Permission denied" in output and "in the class's group" in output


def test_a_changed_byte_in_the_store_is_refused_with_both_sums(store):
    checkpoint = store["path"] / "checkpoints" / "tiny.bin"
    original = checkpoint.read_bytes()
    changed = original[:1000] + bytes([original[1000] ^ 1]) + original[1001:]
    patch = ("import sys; p = sys.argv[1]; d = bytearray(open(p, 'rb').read()); "
             "d[1000] ^= 1; open(p, 'r+b').write(d)")  # fmt: skip
    run_as(INSTRUCTOR, "python3", "-c", patch, str(checkpoint), check=True)
    try:
        assert checkpoint.read_bytes() == changed
        output = playbook_as(STUDENT, "setup.yml", *student_args(store, STUDENT), check=False)
        expected = store["manifest"]["files"]["checkpoints/tiny.bin"]
        actual = hashlib.sha256(changed).hexdigest()
        assert f"{checkpoint}: sha256 {actual}, the store's manifest says {expected}" in output, (
            output[-3000:]
        )
        assert "this setup stops before anything is run" in output
        assert "Probe the nodes" not in output and "failed=1" in output
    finally:
        run_as(INSTRUCTOR, "python3", "-c", patch, str(checkpoint), check=True)
    assert checkpoint.read_bytes() == original


def test_a_store_binary_changed_after_the_setup_is_not_run(store):
    """The build script checks the store's binary again when it runs (a Slurm build job may
    run long after the setup): one that differs is named with both sums and the student's
    own is built instead. Runs the build script of the sweep of
    test_a_students_sweep_uses_the_store_and_downloads_nothing again."""
    (sweep,) = [p for p in Path(f"/home/{STUDENT}/results").iterdir() if not p.is_symlink()]
    record = sweep / "builds" / "local" / "O2.txt"
    key = dict(line.split("=", 1) for line in record.read_text().splitlines())["key"]
    binary = store["path"] / "builds" / "cache" / key / "run"
    patch = ("import sys; p = sys.argv[1]; d = bytearray(open(p, 'rb').read()); "
             "d[4000] ^= 1; open(p, 'r+b').write(d)")  # fmt: skip
    expected = store["manifest"]["files"][f"builds/cache/{key}/run"]
    run_as(INSTRUCTOR, "python3", "-c", patch, str(binary), check=True)
    try:
        actual = hashlib.sha256(binary.read_bytes()).hexdigest()
        built = run_as(STUDENT, "bash", str(sweep / "build.sh"))
        assert built.returncode == 0, built.stderr
        assert (
            f"the class store binary {binary} has sha256 {actual}, the store manifest says "
            f"{expected}: not used, built in your own cache"
        ) in built.stderr
        assert "built O2" in built.stdout
        rebuilt = dict(line.split("=", 1) for line in record.read_text().splitlines())
        assert rebuilt["outcome"] == "built"
        assert rebuilt["cache_path"] == f"/home/{STUDENT}/llamasweep/bin/cache/{key}/run"
    finally:
        run_as(INSTRUCTOR, "python3", "-c", patch, str(binary), check=True)
    assert hashlib.sha256(binary.read_bytes()).hexdigest() == expected


def share_with_class(user: str, directory: Path) -> None:
    """What a student does to hand their sweeps to the class's group: the directory that
    holds them and all in it group-readable, the directories above it passable."""
    run_as(user, "chgrp", "-R", GROUP, str(directory), check=True)
    run_as(user, "chmod", "-R", "g+rX", str(directory), check=True)
    for above in directory.parents:
        if above == Path(pwd.getpwnam(user).pw_dir).parent:
            break
        run_as(user, "chmod", "o+x", str(above), check=True)


def test_the_instructor_fetches_every_sweep_the_class_shares(store):
    """playbooks/fetch-class.yml over the students' results on this machine (as cluster
    storage): a sweep with a file the group cannot read is named and left out; once it can,
    both students' sweeps are fetched into the instructor's directory, nothing is written in
    theirs, and the class report has both students. STUDENT's sweep is the one of
    test_a_students_sweep_uses_the_store_and_downloads_nothing."""
    playbook_as(
        OTHER_STUDENT, "sweep.yml", *student_args(store, OTHER_STUDENT), "-e",
        json.dumps({"sweep_flag_sets": {"O2": "-O2"}, "sweep_threads": [1],
                    "sweep_results_dir": f"/home/{OTHER_STUDENT}/results", "sweep_repetitions": 1,
                    "sweep_steps": 8, "sweep_profile": False, "sweep_bandwidth": False,
                    "sweep_warmup_runs": 0, "sweep_poll_interval": 1}),
    )  # fmt: skip
    sweeps = {}
    for user in (STUDENT, OTHER_STUDENT):
        results = Path(f"/home/{user}/results")
        (sweeps[user],) = [p for p in results.iterdir() if not p.is_symlink()]
        share_with_class(user, results)
    # The second student's sweep ran the store's binary too.
    o2 = (sweeps[OTHER_STUDENT] / "builds" / "local" / "O2.txt").read_text().splitlines()
    assert "outcome=reused-from-store" in o2
    # One file the group cannot read (a job's output written with umask 077, say).
    unshared = sweeps[OTHER_STUDENT] / "plan.json"
    run_as(OTHER_STUDENT, "chmod", "g-r", str(unshared), check=True)
    # A sweep with something no sweep writes (a FIFO): refused whole, the others fetched.
    planted = sweeps[STUDENT].with_name(f"{sweeps[STUDENT].name}-copy")
    run_as(STUDENT, "cp", "-r", str(sweeps[STUDENT]), str(planted), check=True)
    run_as(STUDENT, "mkfifo", str(planted / "runs" / "pipe"), check=True)
    share_with_class(STUDENT, planted.parent)
    fetched = Path(f"/home/{INSTRUCTOR}/class/sweeps")
    fetch = ["-e", json.dumps({"class_store_fetch_sweeps": ["/home/*/results/*"],
                               "class_store_fetch_dir": str(fetched)})]  # fmt: skip

    first = playbook_as(INSTRUCTOR, "fetch-class.yml", *fetch)
    listed = f"{fetched}, as <student>/<sweep id>: {STUDENT}/{sweeps[STUDENT].name} (1 sweeps"
    assert listed in first, first[-3000:]
    assert f"{unshared}: permission denied" in first, first[-3000:]
    assert f"{planted.name}/runs/pipe: not a regular file, directory or symbolic link" in first
    assert not (fetched / STUDENT / planted.name / "fetched").exists()

    run_as(OTHER_STUDENT, "chmod", "g+r", str(unshared), check=True)
    before = {user: snapshot(sweep) for user, sweep in sweeps.items()}
    second = playbook_as(INSTRUCTOR, "fetch-class.yml", *fetch)
    assert "(2 sweeps, 2 students)" in second, second[-3000:]
    for user, sweep in sweeps.items():
        assert snapshot(sweep) == before[user]  # read, nothing written there
        copy = fetched / user / sweep.name
        assert json.loads((copy / "fetched").read_text())["student"] == user
        assert copy.stat().st_uid == pwd.getpwnam(INSTRUCTOR).pw_uid
        assert (copy / "plan.json").read_bytes() == (sweep / "plan.json").read_bytes()
        assert not (copy / "bin").exists() and not list(copy.glob("*.part"))

    out = Path(f"/home/{INSTRUCTOR}/class")
    run_as(INSTRUCTOR, str(shared_path(BIN) / "python"), "-m", "collect", "class",
           *(str(fetched / user / sweep.name) for user, sweep in sweeps.items()),
           "--out", str(out), check=True)  # fmt: skip
    runs = pd.read_csv(out / "class-runs.csv")
    # The fetch's students, not the files' owner here (the instructor).
    assert set(runs["student"]) == {STUDENT, OTHER_STUDENT}
    assert set(runs.loc[runs["flag_set"] == "O2", "student"]) == {STUDENT, OTHER_STUDENT}
    report = (out / "class.md").read_text()
    assert STUDENT in report and OTHER_STUDENT in report
