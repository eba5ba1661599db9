"""The download path of playbooks/setup.yml, against a local HTTP server on 127.0.0.1."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PROJECT, run_playbook, source_args

pytestmark = pytest.mark.e2e

GENERATOR = PROJECT / "roles" / "checkpoint" / "files" / "synthetic_checkpoint.py"
# A model small enough to serve in a test, in llama2.c's format.
TINY = {
    "dim": 64,
    "hidden_dim": 172,
    "n_layers": 2,
    "n_heads": 4,
    "n_kv_heads": 4,
    "vocab_size": 32000,
    "seq_len": 128,
}


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("tiny") / "tiny.bin"
    options = [f"--{key.replace('_', '-')}={value}" for key, value in TINY.items()]
    subprocess.run(
        [sys.executable, str(GENERATOR), "--seed-name=tiny", f"--output={path}", *options],
        check=True,
        capture_output=True,
    )
    return path


def setup_args(workspace: Path, tmp_path: Path, url: str, size: int, sha256: str) -> list[str]:
    catalog = {"tiny": {"url": url, "size": size, "sha256": sha256, "config": TINY}}
    (tmp_path / "catalog.json").write_text(
        json.dumps(
            {
                "checkpoint_catalog": catalog,
                "sweep_models": ["tiny"],
                "checkpoint_source": "download",
            }
        )
    )
    return [
        "-e",
        f"@{tmp_path / 'catalog.json'}",
        "-e",
        f"llamasweep_workspace={workspace}",
        *source_args(),
    ]


def recap_changed(output: str) -> int:
    (recap,) = [line for line in output.splitlines() if line.startswith("localhost")]
    return int(recap.split("changed=")[1].split()[0])


def test_verified_download_is_kept_and_setup_is_idempotent(
    tiny_checkpoint, checkpoint_server, workspace, tmp_path
):
    data = tiny_checkpoint.read_bytes()
    (checkpoint_server.directory / "tiny.bin").write_bytes(data)
    args = setup_args(
        workspace,
        tmp_path,
        f"{checkpoint_server.url}/tiny.bin",
        len(data),
        hashlib.sha256(data).hexdigest(),
    )

    run_playbook("setup.yml", *args)
    assert (workspace / "checkpoints" / "tiny.bin").read_bytes() == data
    assert checkpoint_server.requests == ["/tiny.bin"]

    second = run_playbook("setup.yml", *args)
    assert recap_changed(second.stdout) == 0
    assert checkpoint_server.requests == ["/tiny.bin"]  # never downloaded again


def test_corrupted_download_is_refused_and_deleted(tiny_checkpoint, checkpoint_server, tmp_path):
    data = tiny_checkpoint.read_bytes()
    corrupted = data[:-4] + b"\0\0\0\1"
    (checkpoint_server.directory / "tiny.bin").write_bytes(corrupted)
    workspace = tmp_path / "workspace"
    expected = hashlib.sha256(data).hexdigest()
    args = setup_args(workspace, tmp_path, f"{checkpoint_server.url}/tiny.bin", len(data), expected)

    run = run_playbook("setup.yml", *args, check=False)
    output = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert f"sha256 {expected}" in output
    assert f"sha256 {hashlib.sha256(corrupted).hexdigest()}" in output
    assert not list((workspace / "checkpoints").glob("tiny.bin*"))


def test_unpinned_checkpoint_is_locked_at_first_download(
    tiny_checkpoint, checkpoint_server, tmp_path
):
    data = tiny_checkpoint.read_bytes()
    served = checkpoint_server.directory / "tiny.bin"
    served.write_bytes(data)
    workspace = tmp_path / "workspace"
    args = setup_args(workspace, tmp_path, f"{checkpoint_server.url}/tiny.bin", len(data), "")

    run_playbook("setup.yml", *args)
    lock = workspace / "checkpoints" / "tiny.bin.sha256"
    assert lock.read_text().split()[0] == hashlib.sha256(data).hexdigest()

    # Upstream changes under the same name and size: the recorded sum refuses it.
    served.write_bytes(data[:-4] + b"\0\0\0\1")
    (workspace / "checkpoints" / "tiny.bin").unlink()
    run = run_playbook("setup.yml", *args, check=False)
    assert run.returncode != 0
    assert hashlib.sha256(data).hexdigest() in " ".join(run.stdout.split())


def test_download_of_the_wrong_size_is_refused(tiny_checkpoint, checkpoint_server, tmp_path):
    data = tiny_checkpoint.read_bytes()
    (checkpoint_server.directory / "tiny.bin").write_bytes(data[:1000])
    args = setup_args(
        tmp_path / "workspace",
        tmp_path,
        f"{checkpoint_server.url}/tiny.bin",
        len(data),
        hashlib.sha256(data).hexdigest(),
    )
    run = run_playbook("setup.yml", *args, check=False)
    output = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert f"expected {len(data)} bytes" in output and "got 1000 bytes" in output
