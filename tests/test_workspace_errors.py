"""Clear errors before anything is provisioned: unreachable login node, read-only or full
workspace. Each stops with one message that says what to do."""

import json
import subprocess

import pytest
from conftest import PROJECT, run_playbook, source_args

pytestmark = pytest.mark.e2e


def one_line(output: str) -> str:
    return " ".join(output.split())  # the callback wraps long messages


@pytest.fixture
def mounted(tmp_path):
    """A tmpfs of 1 MiB mounted at a path, with the given options (needs root)."""
    mounts = []

    def mount(name: str, options: str):
        point = tmp_path / name
        point.mkdir()
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"{options},size=1m", "tmpfs",
                               str(point)], capture_output=True, text=True)  # fmt: skip
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        mounts.append(point)
        return point

    yield mount
    for point in mounts:
        subprocess.run(["umount", str(point)], check=False)


def test_read_only_workspace(mounted):
    workspace = mounted("read-only", "ro") / "llamasweep"
    run = run_playbook("setup.yml", "-e", f"llamasweep_workspace={workspace}", *source_args(),
                       check=False)  # fmt: skip
    output = one_line(run.stdout)
    assert run.returncode != 0
    assert f"The workspace {workspace} cannot be created" in output
    assert "Read-only file system" in output and "-e llamasweep_workspace=PATH" in output


def test_full_workspace(mounted):
    workspace = mounted("full", "rw")
    run = run_playbook("setup.yml", "-e", f"llamasweep_workspace={workspace}", *source_args(),
                       check=False)  # fmt: skip
    output = one_line(run.stdout)
    assert run.returncode != 0
    assert (
        f"The workspace {workspace} is nearly full: 1 MiB free (df: free space on the "
        "filesystem), 256 MiB needed"
    ) in output
    assert not (workspace / "llama2.c").exists()


def test_unreachable_login_node(tmp_path):
    known_hosts = tmp_path / "known_hosts"
    run = run_playbook(
        "setup.yml", "-i", "inventory/montecimone.yml", "-e", "montecimone_host=127.0.0.1",
        "-e", "montecimone_port=2299", "-e", "montecimone_user=nobody",
        "-e", f'{{"ansible_ssh_common_args": "-o UserKnownHostsFile={known_hosts}"}}',
        check=False,
    )  # fmt: skip
    output = one_line(run.stdout)
    assert run.returncode != 0
    assert "Cannot reach montecimone (127.0.0.1, port 2299) as nobody" in output
    assert "Connection refused" in output and "make onboard" in output


def test_bad_partition_data_fails_before_anything_is_provisioned(tmp_path):
    partitions = [{"name": "mcimone-nodes", "time_limit": "soon"}]
    run = run_playbook(
        "sweep.yml", "-i", str(PROJECT / "inventory" / "local-slurm.yml"),
        "-e", f"llamasweep_workspace={tmp_path / 'ws'}",
        "-e", json.dumps({"sweep_partitions": partitions}), check=False,
    )  # fmt: skip
    output = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert "time_limit 'soon' is not a Slurm time" in output
    assert not (tmp_path / "ws" / "llama2.c").exists()
