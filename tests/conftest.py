"""Shared fixtures: the project root, how to run its playbooks, the offline llama2.c source."""

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MODULE_UTILS = (
    PROJECT
    / "collections"
    / "ansible_collections"
    / "llamasweep"
    / "sweep"
    / "plugins"
    / "module_utils"
)
LOCAL_SLURM_INVENTORY = PROJECT / "inventory" / "local-slurm.yml"
UPSTREAM_LLAMA2C = "https://github.com/karpathy/llama2.c.git"
LOGIN_PORT = 2223  # Monte Cimone's login node listens there too


def llama2c_source() -> str:
    """llama2.c for tests: the offline bundle CI points at, else the pinned upstream URL."""
    return os.environ.get("LLAMASWEEP_TEST_LLAMA2C", UPSTREAM_LLAMA2C)


def source_args() -> list[str]:
    """-e arguments taking llama2.c and FlameGraph from where the tests find them: the offline
    bundles CI points at (FlameGraph's holds the pinned commit on branch master), else the
    roles' pinned upstream defaults."""
    args = ["-e", f"llama2c_repo={llama2c_source()}"]
    if "LLAMASWEEP_TEST_FLAMEGRAPH" in os.environ:
        args += ["-e", f"flamegraph_repo={os.environ['LLAMASWEEP_TEST_FLAMEGRAPH']}"]
        args += ["-e", "flamegraph_version=master"]
    return args


def run_playbook(
    playbook: str, *args: str, cwd: Path = PROJECT, check: bool = True, env: dict | None = None
):
    """Run one of the project's playbooks as a user would (in env, default this process's
    environment); returns the finished process."""
    command = [str(BIN / "ansible-playbook"), str(cwd / "playbooks" / playbook), *args]
    env = {**(env or os.environ), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    done = subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    if check and done.returncode != 0:
        pytest.fail(f"{playbook} failed:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}")
    return done


def slurm_args(workspace: Path, results: Path, *settings) -> list[str]:
    """ansible-playbook arguments of an offline sweep on the local Slurm (settings: -e
    values, strings or mappings)."""
    args = ["-i", str(LOCAL_SLURM_INVENTORY), *source_args()]
    for setting in [
        f"llamasweep_workspace={workspace}",
        "checkpoint_source=synthetic",
        f"sweep_results_dir={results}",
        "sweep_poll_interval=1",
        "sweep_poll_max_interval=2",
        *settings,
    ]:
        args += ["-e", setting if isinstance(setting, str) else json.dumps(setting)]
    return args


def summarize(results_dir: Path) -> subprocess.CompletedProcess:
    """`python -m collect summarize DIR`, as `make collect` runs it."""
    return subprocess.run(
        [sys.executable, "-m", "collect", "summarize", str(results_dir)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        check=True,
    )


@pytest.fixture(scope="session")
def workspace(tmp_path_factory) -> Path:
    """One workspace for the session: llama2.c is cloned and each flag set built once."""
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture
def sweep_args(workspace, tmp_path):
    """Arguments of a small offline sweep into a fresh results directory."""
    return [
        "-e",
        f"llamasweep_workspace={workspace}",
        *source_args(),
        "-e",
        "checkpoint_source=synthetic",
        "-e",
        f"sweep_results_dir={tmp_path / 'results'}",
        "-e",
        "sweep_poll_interval=1",
    ]


class CheckpointServer:
    """A local HTTP server on 127.0.0.1 serving files from one directory, counting requests."""

    def __init__(self, directory: Path):
        import functools
        import http.server
        import threading

        self.requests: list[str] = []
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *args):
                server.requests.append(self.path)

        handler = functools.partial(Handler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def checkpoint_server(tmp_path):
    served = tmp_path / "served"
    served.mkdir()
    server = CheckpointServer(served)
    server.directory = served
    yield server
    server.close()


def key_fingerprint(key_file: Path) -> str:
    """SHA256:... of a key file, as ssh-keygen -l prints it."""
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(key_file)], capture_output=True, text=True, check=True
    )
    return listed.stdout.split()[1]


def scanned_fingerprint(port: int, key_type: str) -> str | None:
    """The fingerprint of the key_type host key that 127.0.0.1:port serves now."""
    scan = subprocess.run(
        ["ssh-keyscan", "-t", key_type, "-p", str(port), "127.0.0.1"],
        capture_output=True,
        text=True,
    )
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", "/dev/stdin"], input=scan.stdout, capture_output=True, text=True
    )
    return listed.stdout.split()[1] if listed.returncode == 0 and listed.stdout else None


@dataclass
class LoginNode:
    """Debian's sshd on 127.0.0.1, with host keys of its own: the cluster's login node.
    fingerprint is its ed25519 key's, the one the admins publish; it also serves an ecdsa
    key (other_fingerprint), as a relay adding its own key would."""

    host: str
    port: int
    fingerprint: str
    other_fingerprint: str
    host_key: Path
    daemon: subprocess.Popen

    @contextmanager
    def rekeyed(self):
        """The login node with a new ed25519 host key (as after a reinstall, or a machine
        in the middle), put back afterwards."""
        saved = self.host_key.with_name("saved_ed25519_key")
        self.host_key.rename(saved)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key)],
                       check=True)  # fmt: skip
        try:
            self._serve(key_fingerprint(self.host_key))
            yield
        finally:
            saved.replace(self.host_key)
            self.host_key.with_suffix(".pub").unlink(missing_ok=True)
            self._serve(self.fingerprint)

    def _serve(self, fingerprint: str) -> None:
        # SIGHUP: sshd executes itself again and reads its host keys anew.
        self.daemon.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while scanned_fingerprint(self.port, "ed25519") != fingerprint:
            assert time.monotonic() < deadline, f"sshd does not serve {fingerprint}"
            time.sleep(0.2)


@dataclass
class Student:
    """A fresh Unix account with a password, as a new student gets one."""

    name: str
    password: str
    home: Path


@pytest.fixture(scope="session")
def login_node(tmp_path_factory):
    sshd = shutil.which("sshd") or "/usr/sbin/sshd"
    if not Path(sshd).exists() or shutil.which("sshpass") is None:
        pytest.skip("needs Debian's openssh-server and sshpass (.ci/run installs them)")
    state = tmp_path_factory.mktemp("sshd")
    host_key = state / "ssh_host_ed25519_key"
    other_key = state / "ssh_host_ecdsa_key"
    for key_type, key in [("ed25519", host_key), ("ecdsa", other_key)]:
        subprocess.run(["ssh-keygen", "-q", "-t", key_type, "-N", "", "-f", str(key)], check=True)
    config = state / "sshd_config"
    config.write_text(
        f"Port {LOGIN_PORT}\nListenAddress 127.0.0.1\nHostKey {host_key}\nHostKey {other_key}\n"
        f"PidFile {state}/sshd.pid\nUsePAM yes\nPasswordAuthentication yes\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin no\n"
        "AuthorizedKeysFile .ssh/authorized_keys\nSubsystem sftp internal-sftp\n"
    )
    Path("/run/sshd").mkdir(exist_ok=True)
    log = (state / "sshd.log").open("w")
    daemon = subprocess.Popen([sshd, "-D", "-e", "-f", str(config)], stderr=log)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", LOGIN_PORT), timeout=1).close()
            time.sleep(0.3)  # an sshd that lost the port to another one exits: see it did not
            if daemon.poll() is None:
                break
        except OSError:
            pass
        # Checked whether or not the port answered: another test run's sshd may hold it.
        if time.monotonic() > deadline or daemon.poll() is not None:
            daemon.kill()
            pytest.fail(f"sshd did not start: {(state / 'sshd.log').read_text()}")
        time.sleep(0.1)
    yield LoginNode("127.0.0.1", LOGIN_PORT, key_fingerprint(host_key),
                    key_fingerprint(other_key), host_key, daemon)  # fmt: skip
    daemon.terminate()
    daemon.wait(10)


@contextmanager
def unix_account():
    """A fresh Unix account with a random password, removed afterwards."""
    name = f"student{secrets.token_hex(3)}"
    password = secrets.token_urlsafe(12)
    subprocess.run(["useradd", "--create-home", "--shell", "/bin/bash", name], check=True)
    subprocess.run(["chpasswd"], input=f"{name}:{password}", text=True, check=True)
    try:
        yield Student(name, password, Path(f"/home/{name}"))
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        subprocess.run(["userdel", "--remove", name], check=False, capture_output=True)


@pytest.fixture
def student():
    with unix_account() as account:
        yield account


@pytest.fixture
def other_student():
    """A second account on the same machine."""
    with unix_account() as account:
        yield account


@pytest.fixture
def laptop(tmp_path):
    """The student's laptop side: where the SSH key and known_hosts live (no key yet)."""
    ssh_dir = tmp_path / "dot-ssh"
    ssh_dir.mkdir(mode=0o700)
    return ssh_dir


SLURM_LOCAL = PROJECT / "scripts" / "slurm-local"
# The second local cluster: Debian 13's Slurm 24.11 in a root of its own (scripts/slurm-local
# root creates it; .ci/run does).
SLURM24_ROOT = os.environ.get("LLAMASWEEP_TEST_SLURM24_ROOT", "/var/tmp/llamasweep-trixie")
# Monte Cimone's replica with RISC-V compute nodes: a riscv64 root of Debian 13 whose daemons
# and jobs run under qemu-user (binfmt_misc), on ports of its own.
RISCV64_ROOT = os.environ.get("LLAMASWEEP_TEST_RISCV64_ROOT", "/var/tmp/llamasweep-riscv64")
RISCV64_PORT = "16837"


@contextmanager
def local_slurm(script_env: dict):
    """The environment of the clients (SLURM_CONF, and PATH for a root's) of the cluster of
    scripts/slurm-local that script_env chooses, up meanwhile: started here when it was not
    running, and then stopped at the end."""

    def local(command, timeout=180):
        return subprocess.run(
            [str(SLURM_LOCAL), command], env=script_env, capture_output=True, text=True,
            timeout=timeout,
        )  # fmt: skip

    was_up = local("status").returncode == 0
    if not was_up:
        if os.geteuid() != 0:
            pytest.skip("the local Slurm is not up and starting it needs root")
        started = local("up")
        assert started.returncode == 0, started.stdout + started.stderr
    # What `eval "$(scripts/slurm-local env)"` gives a shell.
    exported = subprocess.run(
        ["bash", "-c", 'eval "$("$0" env)" && env -0', str(SLURM_LOCAL)],
        env=script_env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    yield dict(line.split("=", 1) for line in exported.split("\0") if line)
    if not was_up:
        stopped = local("down")
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr


@pytest.fixture(scope="session")
def slurm():
    """Environment (SLURM_CONF) for Slurm's commands; the local one-node cluster (this
    machine's Slurm, 22.05 on Debian 12) is up."""
    if shutil.which("slurmctld", path=os.environ.get("PATH", "") + ":/usr/sbin:/sbin") is None:
        pytest.skip("slurmctld not installed (apt-get install -y slurm-wlm munge)")
    script_env = {**os.environ}
    script_env.pop("LLAMASWEEP_SLURM_ROOT", None)
    with local_slurm(script_env) as env:
        yield env


@contextmanager
def root_slurm(what: str, **settings: str):
    """The cluster of a root directory (settings: LLAMASWEEP_SLURM_* without the prefix,
    ROOT first): created (debootstrap) and started when needed, stopped at the end."""
    script_env = {**os.environ, **{f"LLAMASWEEP_SLURM_{k}": v for k, v in settings.items()}}
    script_env.pop("LLAMASWEEP_SLURM_STATE", None)  # the root's own: ROOT.state
    root = settings["ROOT"]
    if os.geteuid() != 0:
        pytest.skip(f"{what} needs root (chroot, mount, debootstrap)")
    if not Path(root, "usr/sbin/slurmctld").exists():
        if shutil.which("debootstrap", path=os.environ.get("PATH", "") + ":/usr/sbin") is None:
            pytest.skip(f"no {what} at {root} and no debootstrap to create it")
        created = subprocess.run(
            [str(SLURM_LOCAL), "root"], env=script_env, capture_output=True, text=True
        )
        assert created.returncode == 0, created.stdout + created.stderr
    with local_slurm(script_env) as env:
        yield env


@pytest.fixture(scope="session")
def slurm24():
    """Environment (SLURM_CONF, PATH led by the root's client wrappers) for the commands of
    the second local cluster, Debian 13's Slurm 24.11 chrooted in SLURM24_ROOT."""
    with root_slurm("the Slurm 24.11 root", ROOT=SLURM24_ROOT) as env:
        yield env


@pytest.fixture(scope="session")
def slurm_riscv64():
    """The same for the riscv64 cluster in RISCV64_ROOT (its daemons, jobs and their gcc
    under qemu-user; each partition its own emulated CPU)."""
    with root_slurm(
        "the riscv64 Slurm root", ROOT=RISCV64_ROOT, ARCH="riscv64", PORT=RISCV64_PORT
    ) as env:
        yield env


@pytest.fixture(scope="module", params=["slurm", "slurm24"], ids=["22.05", "24.11"])
def each_slurm(request) -> dict:
    """The environment of one local cluster's clients (and of playbooks run against it):
    a test that takes it runs on both releases."""
    return request.getfixturevalue(request.param)


# What `make riscv-tools` installs: the cross compiler, its objdump, qemu-user.
RISCV_TOOLS = ("riscv64-linux-gnu-gcc", "riscv64-linux-gnu-objdump", "qemu-riscv64")


@pytest.fixture
def riscv_tools():
    missing = [tool for tool in RISCV_TOOLS if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: `make riscv-tools` installs them")


# The markers of pyproject.toml that sort the tests; each test carries at least one.
CATEGORIES = ("unit", "e2e", "slurm", "ssh", "riscv", "lint", "newcomer")


def pytest_collection_modifyitems(config, items):
    unmarked = [item.nodeid for item in items if not any(item.get_closest_marker(name)
                                                            for name in CATEGORIES)]  # fmt: skip
    if unmarked:
        raise pytest.UsageError(
            f"tests without a marker of {', '.join(CATEGORIES)} (pyproject.toml):\n  "
            + "\n  ".join(unmarked)
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With LLAMASWEEP_TEST_REQUIRE_ALL=1 (.ci/run sets it) a skipped test fails: on CI every
    prerequisite is installed, so a skip would hide a missing install step."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("LLAMASWEEP_TEST_REQUIRE_ALL") == "1":
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped where every prerequisite must be there: {reason}"
