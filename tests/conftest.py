"""Shared fixtures: the project root, how to run its playbooks, the offline llama2.c source."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
UPSTREAM_LLAMA2C = "https://github.com/karpathy/llama2.c.git"


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


def run_playbook(playbook: str, *args: str, cwd: Path = PROJECT, check: bool = True):
    """Run one of the project's playbooks as a user would; returns the finished process."""
    command = [str(BIN / "ansible-playbook"), str(cwd / "playbooks" / playbook), *args]
    env = {**os.environ, "ANSIBLE_NOCOLOR": "1", "ANSIBLE_FORCE_COLOR": "0"}
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if check and done.returncode != 0:
        pytest.fail(f"{playbook} failed:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}")
    return done


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
