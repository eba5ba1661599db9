"""The README followed literally by a newcomer, in a clean Debian 12 and a clean Debian 13.

Per release one root (scripts/debian-root: debootstrap minbase from the archive apt uses
here), shared by its steps. The harness only installs the packages of the README's "Needs"
line, creates a fresh unprivileged user (no ~/.ssh, no pip cache) with a copy of this
working tree, makes the offline mirrors visible beside it (../shared/mirrors, as in CI),
gives the root this machine's access to the package registries (apt's sources, pip's
configuration and the local indexes it names, CA certificates, /etc/hosts) and the mounts a
machine has. Everything else is a README step, run as the README gives it: `make setup`, the
offline `make sweep`, `make riscv-tools` (as root) and an emulated sweep, `make onboard`
against the test sshd (driven through a terminal), then `make setup-cluster` and a cluster
sweep on this machine's Slurm through that sshd, whose results `collect fetch` brings back.
Every step's command and output is printed, so a failure's report holds them all.

What differs between the releases: their Python (3.11, 3.13), and gcc 14 accepts
-march=rv64gc_xtheadvector where Debian 12's gcc 12 refuses it.
"""

import configparser
import csv
import io
import json
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pexpect
import pytest
from conftest import PROJECT, unix_account

pytestmark = [pytest.mark.newcomer]

DEBIAN_ROOT = PROJECT / "scripts" / "debian-root"
USER = "newcomer"
HOME = Path("/home") / USER
CLONE = HOME / "llamasweep"
# The offline mirrors, where the README's offline sweep looks: beside the clone.
MIRRORS = HOME / "shared" / "mirrors"
MACHINE_MOUNTS = ("/proc", "/sys", "/dev", "/dev/pts", "/dev/shm")
# The emulated sweep's partition: inventory/local.yml's, with a flag set for the SG2042's
# XTheadVector, which only gcc 14 knows.
XTHEADVECTOR = "-O3 -march=rv64gc_xtheadvector"
ONE_SHORT_RUN = {
    "sweep_flag_sets": {"O3": "-O3", "O3-openmp": "-O3 -fopenmp"},
    "sweep_threads": [1],
    "sweep_steps": 8,
    "sweep_repetitions": 1,
    "sweep_warmup_runs": 0,
    "sweep_bandwidth": False,
    "sweep_profile": False,
}


@dataclass(frozen=True)
class Release:
    suite: str
    python: str  # Debian's python3, major.minor
    accepts_xtheadvector: bool  # its gcc (12: no, 14: yes)


RELEASES = [Release("bookworm", "3.11", False), Release("trixie", "3.13", True)]


def readme_needs() -> list[str]:
    """The packages of the README's "Needs" line: its `apt-get install ...`."""
    readme = (PROJECT / "README.md").read_text()
    paragraph = re.search(r"^Needs\b.*?\n\n", readme, re.DOTALL | re.MULTILINE).group()
    (command,) = re.findall(r"`apt-get install ([^`]+)`", paragraph)
    return command.split()


def readme_offline_sweep(*more_args: str) -> str:
    """The README's offline sweep command, with more_args added to its ARGS."""
    readme = (PROJECT / "README.md").read_text()
    (command,) = re.findall(r"`(make sweep ARGS='[^']*shared/mirrors[^']*)'`", readme)
    return " ".join([command, *more_args]) + "'"


@dataclass
class Newcomer:
    """A clean Debian root, and the newcomer's account in it."""

    release: Release
    root: Path
    done: set = field(default_factory=set)

    def command(self, command: str, as_root: bool = False) -> list[str]:
        """argv running command in a login shell of the newcomer (or root) in the clone,
        keeping the caller's terminal as its controlling one (runuser --command would start
        a session without: Ansible's prompts need it)."""
        user, home = ("root", "/root") if as_root else (USER, str(HOME))
        login = [f"HOME={home}", f"USER={user}", f"LOGNAME={user}", "SHELL=/bin/bash"]
        return ["chroot", f"--userspec={user}:{user}", str(self.root), "env", "-i", *login,
                "bash", "--login", "-c", f"cd {CLONE} && {command}"]  # fmt: skip

    def step(self, name: str, command: str, as_root: bool = False, timeout=900) -> str:
        """Run one README step; its output is printed (the failure report keeps it)."""
        start = time.monotonic()
        done = subprocess.run(
            self.command(command, as_root),
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        output = done.stdout + done.stderr
        print(
            f"==== {self.release.suite}: {name}: {command} (as {'root' if as_root else USER})"
            f" exit {done.returncode} after {time.monotonic() - start:.0f} s\n{output}"
        )
        assert done.returncode == 0, f"{name} failed in {self.release.suite}:\n{output[-5000:]}"
        self.done.add(name)
        return output

    def needs(self, *names: str) -> None:
        missing = [name for name in names if name not in self.done]
        if missing:
            pytest.fail(f"needs the steps {missing}, which did not pass in {self.release.suite}")

    def file(self, path: Path) -> Path:
        """path of the root seen from here."""
        return self.root / path.relative_to("/")


def in_root(root: Path, *argv: str, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(["chroot", str(root), *argv], capture_output=True, text=True, **kwargs)
    print(f"==== harness: {' '.join(argv)}: exit {done.returncode}\n{done.stdout}{done.stderr}")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def apt_sources(suite: str) -> str:
    """This machine's apt sources (archive, updates, security) for release suite."""
    here = dict(line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines())
    targets = subprocess.run(
        ["apt-get", "indextargets", "--format", "$(REPO_URI) $(RELEASE)", "Identifier: Packages"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    lines = {
        f"deb {uri} {release.replace(here['VERSION_CODENAME'], suite)} main"
        for uri, release in (target.split() for target in targets if target)
        if "debian" in uri
    }
    return "\n".join(sorted(lines)) + "\n"


def local_apt_settings() -> list[Path]:
    """This machine's own apt settings (apt.conf.d files no package ships), e.g. its
    archive's Check-Valid-Until."""
    settings = sorted(Path("/etc/apt/apt.conf.d").iterdir())
    owned = subprocess.run(["dpkg", "-S", *map(str, settings)], capture_output=True, text=True)
    return [path for path in settings if f": {path}\n" not in owned.stdout + "\n"]


def pip_settings() -> configparser.ConfigParser:
    """This machine's pip configuration in one file: its global and user files, then PIP_*."""
    config = configparser.ConfigParser(interpolation=None)
    xdg = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    home = Path.home()
    config.read(
        [
            *(Path(d) / "pip" / "pip.conf" for d in reversed(xdg)),
            "/etc/pip.conf",
            home / ".pip" / "pip.conf",
            home / ".config" / "pip" / "pip.conf",
        ]
    )
    if not config.has_section("global"):
        config.add_section("global")
    for name, value in os.environ.items():
        if name.startswith("PIP_"):
            config["global"][name[4:].lower().replace("_", "-")] = value
    return config


def local_paths(config: configparser.ConfigParser) -> list[tuple[Path, Path]]:
    """(path here, path to make visible) of what the pip settings name on this disk: a file
    (certificate, constraints) itself, a directory of wheels itself, a file:// index's parent
    (its pages link to files beside it)."""
    found = []
    for section in config.sections():
        for value in config[section].values():
            for word in value.split():
                index = word.startswith("file://")
                path = Path(word.removeprefix("file://"))
                if path.is_absolute() and path.exists():
                    found.append((path, path.parent if index else path))
    return found


def checked(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


def processes_in(root: Path) -> list[int]:
    """The processes running chrooted in root (ssh masters, agents left by a step)."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.readlink(entry / "root") == str(root):
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


@pytest.fixture(scope="session")
def debootstraps(request, tmp_path_factory) -> dict:
    """Every selected release's root, debootstrapped all at once at the start (downloads,
    mostly): a later release's is ready when the earlier one's steps end. Per suite: the
    root's path and its debootstrap process."""
    if os.geteuid() != 0:
        pytest.skip("the newcomer's clean Debian roots need root (debootstrap, chroot, mount)")
    selected = [getattr(item, "callspec", None) for item in request.session.items]
    suites = {spec.params["newcomer"].suite for spec in selected
              if spec is not None and "newcomer" in spec.params}  # fmt: skip
    started = {}
    for suite in sorted(suites):
        root = tmp_path_factory.mktemp(f"newcomer-{suite}") / "root"
        started[suite] = root, subprocess.Popen(
            [str(DEBIAN_ROOT), suite, str(root)], stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
    yield started
    for root, debootstrap in started.values():  # a root no test took
        debootstrap.wait()
        remove_tree(root)


def remove_tree(path: Path) -> None:
    """rm -rf, never into a file system mounted below (one left mounted is an error)."""
    if path.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)


@pytest.fixture(scope="module", params=RELEASES, ids=[r.suite for r in RELEASES])
def newcomer(request, debootstraps):
    release = request.param
    mirrors = [
        os.environ.get(name) for name in ("LLAMASWEEP_TEST_LLAMA2C", "LLAMASWEEP_TEST_FLAMEGRAPH")
    ]
    if not all(mirrors):
        pytest.skip(
            "the offline mirrors: set LLAMASWEEP_TEST_LLAMA2C and "
            "LLAMASWEEP_TEST_FLAMEGRAPH (.ci/run does)"
        )
    started = time.monotonic()
    root, debootstrap = debootstraps.pop(release.suite)
    output = debootstrap.communicate()[0]
    print(
        f"==== harness: {release.suite} debootstrapped, waited {time.monotonic() - started:.0f} s"
    )
    assert debootstrap.returncode == 0, output
    mounted = []

    def bind(source: Path, target: Path, read_only: bool) -> None:
        target = root / target.relative_to("/")
        target.mkdir(parents=True, exist_ok=True)
        checked("mount", "--bind", str(source), str(target))
        mounted.append(target)
        if read_only:
            checked("mount", "-o", "remount,bind,ro", str(target))

    try:
        for path in MACHINE_MOUNTS:
            bind(Path(path), Path(path), read_only=False)
        # Access to the registries: names, CA certificates, apt's sources and settings, pip's.
        for path in [
            "/etc/hosts",
            "/etc/resolv.conf",
            "/etc/ssl/certs/ca-certificates.crt",
            *Path("/usr/local/share/ca-certificates").glob("*"),
        ]:
            (root / str(path).lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, root / str(path).lstrip("/"))
        (root / "etc/apt/sources.list").write_text(apt_sources(release.suite))
        for path in local_apt_settings():
            shutil.copy(path, root / "etc/apt/apt.conf.d" / path.name)
        pip = pip_settings()
        for here, visible in local_paths(pip):
            if here.is_file():
                (root / str(here).lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(here, root / str(here).lstrip("/"))
            else:
                bind(visible, visible, read_only=True)
        with (root / "etc/pip.conf").open("w") as pip_conf:
            pip.write(pip_conf)

        in_root(root, "apt-get", "update", "-qq")
        in_root(
            root,
            "apt-get",
            "install",
            "-y",
            "-qq",
            "--no-install-recommends",
            *readme_needs(),
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        in_root(root, "useradd", "--create-home", "--shell", "/bin/bash", USER)
        # The clone: this working tree's files (tracked, and new ones not ignored).
        files = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=PROJECT,
            capture_output=True,
            check=True,
        ).stdout
        clone = root / str(CLONE).lstrip("/")
        clone.mkdir()
        packed = subprocess.run(
            ["tar", "--create", "--null", "--files-from=-"],
            cwd=PROJECT,
            input=files,
            capture_output=True,
            check=True,
        ).stdout
        subprocess.run(["tar", "--extract", "--directory", str(clone)], input=packed, check=True)
        in_root(root, "chown", "-R", f"{USER}:{USER}", str(CLONE))
        bind(Path(mirrors[0]).parent, MIRRORS, read_only=True)
        print(f"==== harness: {release.suite} root ready after {time.monotonic() - started:.0f} s")
        yield Newcomer(release, root)
    finally:
        for pid in processes_in(root):
            os.kill(pid, 9)
        for target in reversed(mounted):
            if subprocess.run(["umount", str(target)], capture_output=True).returncode != 0:
                subprocess.run(["umount", "--lazy", str(target)], check=True)
        remove_tree(root)
        print(f"==== {release.suite}: {time.monotonic() - started:.0f} s in all")


def test_make_setup_on_debians_own_python(newcomer):
    newcomer.step("make setup", "make setup")
    version = newcomer.step("the venv's Python", ".venv/bin/python --version")
    assert version.split()[1].startswith(newcomer.release.python + "."), version
    assert not newcomer.file(HOME / ".ssh").exists()


def test_the_readmes_offline_sweep(newcomer):
    newcomer.needs("make setup")
    # The README's command, small: a sweep definition of one short run per flag set, as the
    # README's `-e @my-sweep.yml` gives one.
    small = HOME / "small-sweep.json"
    newcomer.file(small).write_text(json.dumps(ONE_SHORT_RUN))
    output = newcomer.step("offline sweep", readme_offline_sweep(f"-e @{small}"))
    assert "Flame graphs are off" not in output  # FlameGraph came from its mirror too
    latest = newcomer.file(CLONE / "results" / "latest")
    rows = csv_rows((latest / "runs.csv").read_text())
    assert rows and all(row["status"] == "ok" for row in rows), rows
    assert (latest / "summary.md").exists()


def test_riscv_tools_and_an_emulated_sweep(newcomer):
    newcomer.needs("make setup")
    newcomer.step("make riscv-tools", "make riscv-tools", as_root=True)
    emulated = {
        "name": "riscv64-qemu",
        "compiler": "riscv64-linux-gnu-gcc",
        "emulator": {"cpu": "rv64,v=true,vlen=128", "sysroot": "/usr/riscv64-linux-gnu"},
        "flag_sets": {"rv64gc-openmp": "-O3 -march=rv64gc -fopenmp", "xtheadvector": XTHEADVECTOR},
    }
    settings = HOME / "emulated.json"
    newcomer.file(settings).write_text(
        json.dumps(
            {
                **ONE_SHORT_RUN,
                "sweep_emulated_partitions": [emulated],
                "sweep_flag_sets": {"O3": "-O3"},
            }
        )  # fmt: skip
    )
    # The README's offline sweep with the emulated partition, as its RISC-V section says.
    newcomer.step(
        "emulated sweep", readme_offline_sweep("-e sweep_emulate=riscv64-qemu", f"-e @{settings}")
    )
    runs = newcomer.file(CLONE / "results" / "latest" / "runs.csv").read_text()
    rows = {(row["partition"], row["flag_set"]): row for row in csv_rows(runs)}
    assert rows[("riscv64-qemu", "rv64gc-openmp")]["status"] == "ok", rows
    xtheadvector = rows[("riscv64-qemu", "xtheadvector")]
    if newcomer.release.accepts_xtheadvector:  # gcc 14 builds it, scalar code that qemu runs
        assert xtheadvector["status"] == "ok", xtheadvector
        summary = newcomer.file(CLONE / "results" / "latest" / "summary.md").read_text()
        assert "`xtheadvector` (-march=rv64gc_xtheadvector): 0 vector instructions" in summary
    else:  # gcc 12's assembler refuses the -march, and the row gives its message
        assert xtheadvector["status"] == "failed", xtheadvector
        assert xtheadvector["reason"].startswith(
            "build failed: the compiler rejected flag set xtheadvector: Error: x ISA extension "
            "`xtheadvector' must be set with the versions"
        ), xtheadvector


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def test_onboarding_then_a_cluster_sweep_fetched_over_ssh(newcomer, login_node, slurm):
    newcomer.needs("make setup")
    with unix_account() as student:
        cluster = {
            "montecimone_host": login_node.host,
            "llama2c_repo": os.environ["LLAMASWEEP_TEST_LLAMA2C"],
            "flamegraph_repo": os.environ["LLAMASWEEP_TEST_FLAMEGRAPH"],
            "flamegraph_version": "master",
            "checkpoint_source": "synthetic",
            "sweep_slurm_environment": {"SLURM_CONF": slurm["SLURM_CONF"]},
            # This machine's node: let sinfo say its cores.
            "sweep_partitions": [{"name": "mcimone-nodes"}],
            # Asked often, as the other tests' Slurm sweeps: finished jobs seen at once.
            "sweep_poll_interval": 1,
            "sweep_poll_max_interval": 2,
            **ONE_SHORT_RUN,
        }
        settings = HOME / "cluster.json"
        newcomer.file(settings).write_text(json.dumps(cluster))
        user = f"export MONTECIMONE_USER={student.name}"
        onboard = f"{user} && make onboard ARGS='-e montecimone_host={login_node.host}'"
        argv = newcomer.command(onboard)
        session = pexpect.spawn(argv[0], argv[1:], encoding="utf-8", timeout=180)
        session.logfile_read = transcript = io.StringIO()
        shown = None
        # As the README says: the password, the host key's fingerprint compared with the one
        # the admins published before answering yes, no passphrase.
        prompts = ["SSH password:", r"key fingerprint is (SHA256:\S+)\.",
                   r"continue connecting \(yes/no\)\?", "Passphrase for the new key",
                   pexpect.EOF]  # fmt: skip
        try:
            while (prompt := session.expect(prompts)) != len(prompts) - 1:
                if prompt == 1:
                    shown = session.match.group(1)
                    continue
                published = "yes" if shown == login_node.fingerprint else "no"
                session.sendline([student.password, None, published, ""][prompt])
        finally:
            session.close()
            print(
                f"==== {newcomer.release.suite}: {onboard} (on a terminal) exit "
                f"{session.exitstatus}\n{transcript.getvalue()}"
            )
        assert session.exitstatus == 0, transcript.getvalue()[-5000:]
        assert newcomer.file(HOME / ".ssh").stat().st_mode & 0o777 == 0o700
        assert (student.home / ".ssh" / "authorized_keys").exists()

        args = f"ARGS='-e @{settings}'"
        newcomer.step("make setup-cluster", f"{user} && make setup-cluster {args}")
        newcomer.step(
            "cluster sweep", f"{user} && make sweep INVENTORY=inventory/montecimone.yml {args}"
        )
        latest = newcomer.file(CLONE / "results" / "latest")
        assert (latest / "remote.json").exists()
        assert json.loads((latest / "fetched").read_text())["finished"] is True
        rows = csv_rows((latest / "runs.csv").read_text())
        assert len(rows) == len(ONE_SHORT_RUN["sweep_flag_sets"]), rows
        assert all(row["status"] == "ok" and float(row["tok_s"]) > 0 for row in rows), rows
