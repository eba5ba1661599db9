"""A new student, end to end over SSH: onboarding with a password, setup on cluster storage
(twice: the second changes nothing), a sweep on both partitions of the real local Slurm,
`make collect` fetching the results back, and refusing to once the login node's host key
changed or is unknown. The login node is Debian's sshd on 127.0.0.1:2223, the student a
fresh Unix account; checkpoints come from a local HTTP server with their sum. Then the same
three commands against Monte Cimone's replica with RISC-V compute nodes (a riscv64 Slurm
under qemu-user, each partition its own emulated CPU).
"""

import hashlib
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import PROJECT, Student, run_playbook, source_args
from test_onboard import KEY_NAME, onboard_args

pytestmark = [pytest.mark.e2e, pytest.mark.ssh]

GENERATOR = PROJECT / "roles" / "checkpoint" / "files" / "synthetic_checkpoint.py"
TINY = {"dim": 64, "hidden_dim": 172, "n_layers": 2, "n_heads": 4, "n_kv_heads": 4,
        "vocab_size": 32000, "seq_len": 128}  # fmt: skip


def cluster_args(
    login_node, student: Student, laptop, slurm_env, tmp_path, served_url, data, partitions=None
):
    """What a student's `-i inventory/montecimone.yml` needs here: the login node on
    127.0.0.1, the test's key and known_hosts, the local Slurm, offline sources (partitions:
    sweep_partitions, default both on this node as they come)."""
    catalog = {"tiny": {"url": served_url, "size": len(data),
                        "sha256": hashlib.sha256(data).hexdigest(), "config": TINY}}  # fmt: skip
    settings = {
        "checkpoint_catalog": catalog,
        "sweep_models": ["tiny"],
        "ansible_ssh_common_args": f"-o UserKnownHostsFile={laptop / 'known_hosts'}",
        "sweep_slurm_environment": slurm_environment(slurm_env),
        # This machine's node has 2 CPUs, not Monte Cimone's 4 and 64: let sinfo say.
        "sweep_partitions": partitions or [{"name": "mcimone-nodes"}, {"name": "mcimone-milkvs"}],
        "sweep_results_dir": str(tmp_path / "results"),
    }
    (tmp_path / "cluster.json").write_text(json.dumps(settings))
    return [
        "-i", "inventory/montecimone.yml",
        "-e", f"montecimone_host={login_node.host}",
        "-e", f"montecimone_user={student.name}",
        "-e", f"onboard_key_file={laptop / KEY_NAME}",
        "-e", f"@{tmp_path / 'cluster.json'}",
        *source_args(),
    ]  # fmt: skip


def slurm_environment(slurm_env: dict) -> dict:
    """The login node's Slurm settings: SLURM_CONF, and a root's client wrappers first on
    PATH (its release's own commands)."""
    environment = {"SLURM_CONF": slurm_env["SLURM_CONF"]}
    clients = Path(slurm_env["SLURM_CONF"]).parent / "bin"
    if clients.is_dir():
        environment["PATH"] = f"{clients}:/usr/local/bin:/usr/bin:/bin"
    return environment


@pytest.fixture
def tiny_served(checkpoint_server, tmp_path):
    path = checkpoint_server.directory / "tiny.bin"
    options = [f"--{key.replace('_', '-')}={value}" for key, value in TINY.items()]
    subprocess.run([sys.executable, str(GENERATOR), "--seed-name=tiny", f"--output={path}",
                    *options], check=True, capture_output=True)  # fmt: skip
    return f"{checkpoint_server.url}/tiny.bin", path.read_bytes()


def test_new_student_from_onboarding_to_fetched_results(
    login_node, student, other_student, laptop, slurm, tiny_served, tmp_path
):
    password_file = tmp_path / "password"
    password_file.write_text(student.password)
    password_file.chmod(0o600)
    run_playbook("onboard.yml", *onboard_args(login_node, student, laptop, password_file))

    args = cluster_args(login_node, student, laptop, slurm, tmp_path, *tiny_served)
    run_playbook("setup.yml", *args)
    second = run_playbook("setup.yml", *args)
    (recap,) = [line for line in second.stdout.splitlines() if line.startswith("montecimone")]
    assert "changed=0" in recap, second.stdout[-3000:]
    workspace = student.home / "llamasweep"
    assert workspace.stat().st_mode & 0o777 == 0o700
    facts = json.loads((workspace / "facts" / "mcimone-nodes.json").read_text())
    assert facts["nproc"] >= 1 and facts["compiler_version"].startswith("gcc")

    run_playbook(
        "sweep.yml", *args, "-e", '{"sweep_flag_sets": {"O3": "-O3", "O3-openmp": "-O3 -fopenmp"}}',
        "-e", "sweep_repetitions=1", "-e", "sweep_steps=16", "-e", "sweep_threads=1",
        "-e", "sweep_bandwidth=false", "-e", "sweep_warmup_runs=0",
    )  # fmt: skip
    latest = tmp_path / "results" / "latest"
    collect = subprocess.run(
        ["make", "--no-print-directory", "collect", f"RESULTS={latest}"],
        cwd=PROJECT, capture_output=True, text=True,
    )  # fmt: skip
    assert collect.returncode == 0, collect.stdout[-3000:] + collect.stderr[-3000:]
    runs = pd.read_csv(latest / "runs.csv")
    assert len(runs) == 4
    assert (runs["status"] == "ok").all(), runs[["run_dir", "reason"]].to_string()
    assert sorted(runs["partition"].unique()) == ["mcimone-milkvs", "mcimone-nodes"]
    assert (runs["tok_s"] > 0).all()

    # Another account on the same machine cannot read the student's workspace.
    peek = subprocess.run(
        ["su", "-", other_student.name, "-c", f"ls {workspace}/sweeps"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert peek.returncode != 0 and "Permission denied" in peek.stderr

    # The instructor's fetch-class over the same SSH (here the student's own account, which
    # can read its sweeps): the sweep as cluster storage holds it, its student its owner.
    sweep_id = latest.resolve().name
    class_dir = tmp_path / "class"
    fetched = run_playbook("fetch-class.yml", *args, "-e", json.dumps(
        {"class_store_fetch_sweeps": [f"{workspace}/sweeps/*"],
         "class_store_fetch_dir": str(class_dir)}))  # fmt: skip
    assert f"{student.name}/{sweep_id} (1 sweeps" in " ".join(fetched.stdout.split())
    copy = class_dir / student.name / sweep_id
    assert json.loads((copy / "fetched").read_text())["student"] == student.name
    assert (copy / "plan.json").read_bytes() == (latest / "plan.json").read_bytes()

    assert_fetch_refuses_unchecked_host_keys(login_node, laptop, latest, tmp_path)


def assert_fetch_refuses_unchecked_host_keys(login_node, laptop, latest, tmp_path):
    """`collect fetch` with the login node's host key changed, then unknown: refused, with
    what to do, known_hosts byte for byte as it was, the fetched results untouched. Even
    with ANSIBLE_HOST_KEY_CHECKING=False in the environment, and ANSIBLE_SSH_ARGS without
    StrictHostKeyChecking (it replaced ansible.cfg's ssh_args, and a `StrictHostKeyChecking
    no` in ~/.ssh/config then decided: issue 21); each fetch a new connection (no ssh master
    of the earlier ones)."""
    known_hosts = laptop / "known_hosts"
    runs_csv = (latest / "runs.csv").read_bytes()
    entry = f"[{login_node.host}]:{login_node.port}"

    def fetch(attempt: str) -> subprocess.CompletedProcess:
        control_dir = tmp_path / f"ssh-control-{attempt}"
        control_dir.mkdir()
        env = {**os.environ, "ANSIBLE_HOST_KEY_CHECKING": "False",
               "ANSIBLE_SSH_ARGS": "-C -o ControlMaster=auto -o ControlPersist=60s",
               "ANSIBLE_SSH_CONTROL_PATH_DIR": str(control_dir)}  # fmt: skip
        return subprocess.run(
            [sys.executable, "-m", "collect", "fetch", "--force", str(latest)],
            cwd=PROJECT, capture_output=True, text=True, env=env,
        )  # fmt: skip

    def assert_refused(refused: subprocess.CompletedProcess, known_hosts_before: bytes):
        message = " ".join(refused.stderr.split())
        assert refused.returncode != 0, refused.stdout[-3000:]
        assert f"the host key of {entry} is not the one recorded in {known_hosts}" in message
        assert f"ssh-keygen -f '{known_hosts}' -R '{entry}'" in message
        assert "make onboard" in message
        assert known_hosts.read_bytes() == known_hosts_before

    recorded = known_hosts.read_bytes()
    with login_node.rekeyed():
        assert_refused(fetch("changed"), recorded)
    known_hosts.write_bytes(b"")  # the login node's key unknown
    assert_refused(fetch("unknown"), b"")
    assert (latest / "runs.csv").read_bytes() == runs_csv


def make(*arguments: str, env: dict) -> subprocess.CompletedProcess:
    """`make ARGUMENTS` in the project, as the student types it; it must succeed."""
    done = subprocess.run(
        ["make", "--no-print-directory", *arguments],
        cwd=PROJECT, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    return done


# The inventory's partitions as they are but for their cores (this node has 2, not 4 and 64:
# sinfo says); beside their flag sets a vector one, which the U740 cannot run.
RVV = "-O3 -march=rv64gcv"


def riscv64_partitions() -> list[dict]:
    inventory = yaml.safe_load((PROJECT / "inventory" / "montecimone.yml").read_text())
    partitions = inventory["all"]["hosts"]["montecimone"]["sweep_partitions"]
    for partition in partitions:
        del partition["cores"]
    return partitions


@pytest.mark.riscv
@pytest.mark.slurm
def test_new_student_on_riscv64_nodes(
    login_node, student, laptop, slurm_riscv64, tiny_served, riscv_tools, tmp_path
):
    """Onboarding (its playbook, as make onboard runs it, with the password from a file),
    make setup-cluster, make sweep against riscv64 nodes: the node's gcc 14
    builds, the probe says riscv64 and emulated, an RVV binary dies of SIGILL on the U740-like
    partition (recorded, with perf, and named), xtheadvector-openmp kept by the node's probe
    though the controller's gcc 12 refuses it, no perf counter, one line saying so."""
    password_file = tmp_path / "password"
    password_file.write_text(student.password)
    password_file.chmod(0o600)
    run_playbook("onboard.yml", *onboard_args(login_node, student, laptop, password_file))
    args = cluster_args(
        login_node, student, laptop, slurm_riscv64, tmp_path, *tiny_served, riscv64_partitions()
    )
    env = {**os.environ, **slurm_riscv64}
    make(
        "setup-cluster",
        "CLUSTER=inventory/montecimone.yml",
        "ARGS=" + shlex.join(args[2:]),
        env=env,
    )
    facts_dir = student.home / "llamasweep" / "facts"
    nodes = json.loads((facts_dir / "mcimone-nodes.json").read_text())
    milkvs = json.loads((facts_dir / "mcimone-milkvs.json").read_text())
    assert nodes["machine"] == "riscv64" and nodes["emulated"] is True, nodes
    assert nodes["compiler_version"].startswith("gcc") and " 14." in nodes["compiler_version"]
    assert "v=false" in nodes["cpu_model"] and "v=true" in milkvs["cpu_model"]
    assert "rv64gc_xtheadvector" in milkvs["march"]

    # No bandwidth measurement nor warm-up: qemu runs each slowly, and nothing here asks.
    settings = ["-e", json.dumps({"sweep_flag_sets": {"rvv": RVV}}), "-e", "sweep_repetitions=1",
                "-e", "sweep_steps=8", "-e", "sweep_threads=1", "-e", "sweep_bandwidth=false",
                "-e", "sweep_warmup_runs=0"]  # fmt: skip
    sweep = make(
        "sweep",
        "INVENTORY=inventory/montecimone.yml",
        "ARGS=" + shlex.join([*args[2:], *settings]),
        env=env,
    )
    latest = tmp_path / "results" / "latest"
    runs = pd.read_csv(latest / "runs.csv", keep_default_na=False)
    assert runs["emulated"].astype(str).isin(["True", "true", "1"]).all(), runs.to_string()
    assert runs["cpu_model"].str.contains("riscv64 rv64").all()
    rvv = runs[(runs["partition"] == "mcimone-nodes") & (runs["flag_set"] == "rvv")]
    assert len(rvv) == 1 and rvv["signal"].iloc[0] == "ILL", runs.to_string()
    assert rvv["exit_status"].iloc[0] == 132 and rvv["perf"].iloc[0] in (True, "True")
    assert "this node's CPU lacks an extension the flag set asks for" in rvv["reason"].iloc[0]
    assert "-march=rv64gcv" in rvv["reason"].iloc[0]
    scalar = runs[runs["flag_set"] == "rv64gc-openmp"]
    assert (scalar["status"] == "ok").all() and (scalar["tok_s"].astype(float) > 0).all()
    # No counter from qemu-user: rows without them, never failed for it.
    assert (runs["instructions"] == "").all()
    # The controller's gcc 12 refuses -march=rv64gc_xtheadvector; the node's gcc 14 built it.
    assert "xtheadvector-openmp" in sweep.stdout and "submitted unvalidated" in sweep.stdout
    xthead = runs[runs["flag_set"] == "xtheadvector-openmp"]
    assert len(xthead) == 1 and xthead["partition"].iloc[0] == "mcimone-milkvs"
    summary = " ".join((latest / "summary.md").read_text().split())
    assert "No run on real hardware" in summary
    assert "this node's CPU lacks an extension the flag set asks for" in summary
    assert "perf stat ran on `mcimone-nodes`, `mcimone-milkvs` and counted nothing" in summary
    assert "`mcimone-nodes` / `rvv` (-march=rv64gcv): " in summary
    assert "failed on nodes under qemu-user, which does not emulate perf_event_open" in summary
    print(*[line for line in sweep.stdout.splitlines() if "submitted unvalidated" in line])
    print((latest / "summary.md").read_text())
