"""Validation before queueing (issue 12): before anything is submitted to a Slurm cluster, the
flag sets of each partition marked `arch: riscv64` are cross-compiled on this machine with
Debian's RISC-V cross compiler and run briefly under qemu-riscv64; a flag set that fails is
not submitted, named with the compiler's message, and the others are submitted and run.

The local Slurm's node is x86: the test marks its partition RISC-V by data, with flag sets
that both compilers judge alike (-O2 builds everywhere, an invalid -march nowhere)."""

import json

import pandas as pd
import pytest
from conftest import run_playbook, slurm_args, summarize

pytestmark = [pytest.mark.e2e, pytest.mark.slurm, pytest.mark.riscv]

PARTITION = "mcimone-nodes"
FLAG_SETS = {"O2": "-O2", "O2-openmp": "-O2 -fopenmp", "bogus": "-O2 -march=rv64gcq_bogus"}
SMALL = {
    "sweep_flag_sets": FLAG_SETS,
    "sweep_threads": [1],
    "sweep_repetitions": 1,
    "sweep_steps": 8,
    "sweep_warmup_runs": 0,
    "sweep_bandwidth": False,
    "sweep_profile": False,
}
RISCV_PARTITION = {"name": PARTITION, "arch": "riscv64", "exclusive": False, "cores": 1}


def test_validation_refuses_the_invalid_march_and_submits_the_valid_flag_sets(
    riscv_tools, slurm, workspace, tmp_path
):
    done = run_playbook(
        "sweep.yml",
        *slurm_args(workspace, tmp_path, {**SMALL, "sweep_partitions": [RISCV_PARTITION]}),
        env=slurm,
    )
    output = " ".join(done.stdout.split())
    # Said before the sweep was named (its directory made) or anything was submitted.
    refusal = output.index(f"Not submitted to partition {PARTITION}: flag set bogus")
    assert refusal < output.index("Name the sweep and create its directory")
    assert refusal < output.index("Submit the build jobs and job arrays")
    reason = output[refusal:].split('"')[0]
    assert "the RISC-V cross compiler rejected it" in reason
    assert "rv64gcq_bogus" in reason and "error" in reason, reason
    assert "3 flag sets of the RISC-V partitions" in output

    latest = tmp_path / "latest"
    (partition,) = json.loads((latest / "plan.json").read_text())["partitions"]
    assert list(partition["flag_sets"]) == ["O2", "O2-openmp"]
    assert list(partition["dropped_flag_sets"]) == ["bogus"]
    assert "rv64gcq_bogus" in partition["dropped_flag_sets"]["bogus"]
    # the cluster never compiled it: no build record, not in the build job's script
    assert not (latest / "builds" / PARTITION / "bogus.txt").exists()
    assert (latest / "builds" / PARTITION / "O2.txt").is_file()
    summarize(latest)
    runs = pd.read_csv(latest / "runs.csv")
    assert sorted(runs["flag_set"]) == ["O2", "O2-openmp"]
    assert (runs["status"] == "ok").all(), runs["reason"].to_list()
    assert runs["slurm_job_id"].notna().all()


def test_required_validation_without_the_tools_submits_nothing(slurm, workspace, tmp_path):
    done = run_playbook(
        "sweep.yml",
        *slurm_args(
            workspace, tmp_path, "sweep_validate_riscv=true",
            "sweep_validate_riscv_compiler=riscv64-llamasweep-missing-gcc",
            {**SMALL, "sweep_partitions": [RISCV_PARTITION]},
        ),
        env=slurm, check=False,
    )  # fmt: skip
    output = " ".join(done.stdout.split())
    assert done.returncode != 0
    assert "sweep_validate_riscv is true, but riscv64-llamasweep-missing-gcc" in output
    assert "make riscv-tools" in output and "Nothing was submitted" in output
    assert not (tmp_path / "latest").exists()


def test_a_flag_set_requiring_compiler_support_is_kept_only_where_the_probe_found_it(
    slurm, workspace, tmp_path
):
    """requires_compiler_support: the setup probe (an srun on the partition) compiles an empty
    program with each flag set's -march; the sweep drops those the compiler refused, with
    one message, and runs the rest. This node's gcc accepts x86-64-v2, not xtheadvector."""
    partition = "mcimone-milkvs"
    optional = {"xtheadvector": "-O2 -march=rv64gc_xtheadvector", "v2": "-O2 -march=x86-64-v2"}
    settings = {
        **SMALL,
        "sweep_flag_sets": {"O2": "-O2"},
        "sweep_partitions": [
            {"name": partition, "exclusive": False, "cores": 1, "flag_sets": optional,
             "requires_compiler_support": list(optional)}
        ],
    }  # fmt: skip
    done = run_playbook("sweep.yml", *slurm_args(workspace, tmp_path, settings), env=slurm)
    output = " ".join(done.stdout.split())
    facts = json.loads((workspace / "facts" / f"{partition}.json").read_text())
    assert "x86-64-v2" in facts["march"] and "rv64gc_xtheadvector" not in facts["march"]
    message = (
        f"Not submitted to partition {partition}: flag set xtheadvector requires compiler "
        f"support: the compiler of the partition ({facts['compiler_version']}) does not accept "
        "-march=rv64gc_xtheadvector (setup probe)"
    )
    assert message in output
    assert "flag set v2 requires" not in output

    latest = tmp_path / "latest"
    (planned,) = json.loads((latest / "plan.json").read_text())["partitions"]
    assert list(planned["flag_sets"]) == ["O2", "v2"]
    assert list(planned["dropped_flag_sets"]) == ["xtheadvector"]
    summarize(latest)
    runs = pd.read_csv(latest / "runs.csv")
    assert sorted(runs["flag_set"]) == ["O2", "v2"]
    assert (runs["status"] == "ok").all(), runs["reason"].to_list()


def test_a_flag_set_that_fails_under_qemu_is_named_with_its_exit_status_and_signal(
    riscv_tools, slurm, workspace, tmp_path
):
    """The validation runs are run-task.sh's: a binary qemu stops (this emulated CPU lacks
    the F and D extensions of run.c's floating point, lp64d) is named with the exit status
    and signal run-task.sh records; with no flag set left, nothing is submitted."""
    emulator = {"cpu": "rv64,f=false,d=false", "sysroot": "/usr/riscv64-linux-gnu"}
    settings = {
        **SMALL,
        "sweep_flag_sets": {"O2": "-O2"},
        "sweep_partitions": [RISCV_PARTITION],
        "sweep_validate_riscv_emulator": emulator,
    }
    done = run_playbook(
        "sweep.yml", *slurm_args(workspace, tmp_path, settings), env=slurm, check=False
    )
    output = " ".join(done.stdout.split())
    refusal = output.index(f"Not submitted to partition {PARTITION}: flag set O2 (-O2) failed")
    assert output[refusal:].startswith(
        f"Not submitted to partition {PARTITION}: flag set O2 (-O2) failed validation: "
        "its binary failed under qemu (exit 132, SIGILL)"
    )
    # the sweep stops before it is named: no directory, nothing submitted
    assert f"partition {PARTITION} has no flag set left to submit" in output[refusal:]
    assert done.returncode != 0 and not (tmp_path / "latest").exists()
