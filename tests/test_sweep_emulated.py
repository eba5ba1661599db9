"""End to end: a local sweep with the emulated RISC-V partition (Debian's cross compiler and
qemu-user, `make riscv-tools`): a valid -march runs under qemu and generates tokens, an
invalid one fails its rows only, naming the compiler's error, and a vector -march says
whether its binary holds vector instructions. Emulated rows are no performance figures."""

import json
import re

import pandas as pd
import pytest
from conftest import run_playbook, slurm_args, summarize

pytestmark = [pytest.mark.e2e, pytest.mark.slurm, pytest.mark.riscv]

PARTITION = "riscv64-qemu"
EMULATOR = {"cpu": "rv64,v=true,vlen=128", "sysroot": "/usr/riscv64-linux-gnu"}
# One short run per configuration, nothing else.
ONE_RUN_EACH = {
    "sweep_threads": [1],
    "sweep_steps": 8,
    "sweep_repetitions": 1,
    "sweep_warmup_runs": 0,
    "sweep_bandwidth": False,
    "sweep_profile": False,
}
FLAG_SETS = {
    "rv64gc": "-O3 -march=rv64gc -fopenmp",
    "bogus": "-O3 -march=rv64gcq_bogus",
    "rv64gcv": "-O3 -march=rv64gcv",
}


def test_emulated_partition_cross_compiles_runs_under_qemu_and_stays_out_of_performance(
    riscv_tools, sweep_args, tmp_path
):
    emulated = {
        "name": PARTITION,
        "compiler": "riscv64-linux-gnu-gcc",
        "emulator": EMULATOR,
        "flag_sets": FLAG_SETS,
    }
    settings = {
        "sweep_emulated_partitions": [emulated],
        "sweep_emulate": [PARTITION],
        "sweep_flag_sets": {"O2": "-O2"},
        **ONE_RUN_EACH,
    }
    run_playbook("sweep.yml", *sweep_args, "-e", json.dumps(settings))
    latest = tmp_path / "results" / "latest"
    summary = summarize(latest).stdout
    runs = pd.read_csv(latest / "runs.csv").set_index(["partition", "flag_set"])

    assert runs["emulated"].to_dict() == {
        ("local", "O2"): False,
        **{(PARTITION, flag_set): True for flag_set in ["O2", *FLAG_SETS]},
    }
    assert runs.loc[("local", "O2"), "status"] == "ok"
    valid = runs.loc[(PARTITION, "rv64gc")]
    assert valid["status"] == "ok" and valid["tok_s"] > 0, valid["reason"]
    assert not valid["perf"]  # qemu-user counts nothing of the program
    assert (latest / valid["run_dir"] / "stdout.txt").read_text().strip()
    # the rejected flag set: its row fails with the compiler's message, the others ran
    rejected = runs.loc[(PARTITION, "bogus")]
    assert rejected["status"] == "failed"
    assert "the compiler rejected flag set bogus: " in rejected["reason"], rejected["reason"]
    assert "rv64gcq_bogus" in rejected["reason"] and "error" in rejected["reason"]
    assert runs.loc[(PARTITION, "rv64gcv"), "status"] == "ok"

    # what the vector build holds, as build.sh counted it, and the vectoriser's report
    record = dict(
        line.split("=", 1)
        for line in (latest / "builds" / PARTITION / "rv64gcv.txt").read_text().splitlines()
    )
    vectors = int(record["vector_instructions"])
    assert record["target"].startswith("riscv64")
    assert (latest / "builds" / PARTITION / "rv64gcv.vec.txt").is_file()
    line = next(line for line in summary.splitlines() if "`rv64gcv` (-march=rv64gcv)" in line)
    assert f": {vectors} vector instructions" in line
    assert ("asks for a vector extension but the binary holds no" in line) == (vectors == 0)
    riscv_builds = summary.split("## RISC-V builds")[1].split("\n## ")[0].strip().splitlines()
    assert len(riscv_builds) == 3 and all(f"`{PARTITION}`" in b for b in riscv_builds)  # no x86

    # the plan and sweep.json mark the partition; the summary keeps it out of performance
    plan = json.loads((latest / "plan.json").read_text())
    assert [p["emulated"] for p in plan["partitions"]] == [False, True]
    assert json.loads((latest / "sweep.json").read_text())["emulated_partitions"] == [PARTITION]
    assert "## Emulated (qemu) partitions" in summary
    assert f"## Partition `{PARTITION}`" not in summary and "## Partition `local`" in summary
    assert "| `riscv64-qemu` | `bogus` | no | 0/1 | no |" in summary
    assert "| `riscv64-qemu` | `rv64gc` | yes | 1/1 | yes | ok |" in summary
    assert_facts_describe_the_emulation(latest / "facts" / f"{PARTITION}.json")

    # each RISC-V build's greedy check run against the x86 reference (local's baseline)
    checks = summary.split("## Output checks")[1].split("\n## ")[0]
    assert "| `local` | stories15M | `O2` | the reference (8 words) |" in checks
    for flag_set in ["O2", "rv64gc", "rv64gcv"]:
        (line,) = [line for line in checks.splitlines() if f"| `{PARTITION}` | " in line
                   and f"| `{flag_set}` | " in line]  # fmt: skip
        assert re.search(
            r"\| (\*\*suspect: )?"  # a suspect build's is in bold
            r"(identical \(8 words\)|diverges at word \d+ of 8) against local/O2",
            line,
        )
    assert f"| `{PARTITION}` | stories15M | `bogus` | no check: its check run failed" in checks


def assert_facts_describe_the_emulation(path):
    """facts/<emulated partition>.json: the emulated CPU (qemu's -cpu), the host apart."""
    facts = json.loads(path.read_text())
    assert facts["emulated"] is True and facts["perf"] is False
    assert facts["cpu_model"] == f"{EMULATOR['cpu']} under qemu-riscv64 (emulated)"
    assert facts["emulator"].endswith(f"-cpu {EMULATOR['cpu']}")
    assert facts["host_cpu_model"] and facts["host_cpu_model"] != facts["cpu_model"]
    assert facts["compiler"] == "riscv64-linux-gnu-gcc"


def test_emulated_partition_on_slurm_fails_only_the_rows_of_a_rejected_flag_set(
    riscv_tools, slurm, workspace, tmp_path
):
    """On Slurm too, a flag set the cross compiler rejects fails its own rows, with the
    compiler's message; the build job succeeds, so that the other flag sets run."""
    partition = "mcimone-nodes"
    emulated = {
        "name": partition,
        "compiler": "riscv64-linux-gnu-gcc",
        "emulator": EMULATOR,
        "flag_sets": {"bogus": FLAG_SETS["bogus"]},
        "exclusive": False,
        "cores": 1,
    }
    settings = {
        "sweep_partitions": [emulated],
        "sweep_flag_sets": {"rv64gc": FLAG_SETS["rv64gc"]},
        **ONE_RUN_EACH,
    }
    run_playbook("sweep.yml", *slurm_args(workspace, tmp_path, settings), env=slurm)
    latest = tmp_path / "latest"
    summarize(latest)
    runs = pd.read_csv(latest / "runs.csv").set_index("flag_set")
    assert sorted(runs.index) == ["bogus", "rv64gc"] and runs["emulated"].all()
    valid = runs.loc["rv64gc"]
    assert valid["status"] == "ok" and valid["tok_s"] > 0, valid["reason"]
    assert valid["slurm_job_id"] > 0 and not valid["perf"]
    rejected = runs.loc["bogus"]
    assert rejected["status"] == "failed"
    assert "the compiler rejected flag set bogus: " in rejected["reason"], rejected["reason"]
    assert "rv64gcq_bogus" in rejected["reason"]
    assert "outcome=rejected" in (latest / "builds" / partition / "bogus.txt").read_text()
    assert_facts_describe_the_emulation(latest / "facts" / f"{partition}.json")


def test_emulated_partition_without_its_tools_is_skipped_and_the_rest_runs(sweep_args, tmp_path):
    missing = {
        "name": "riscv64-missing",
        "compiler": "riscv64-llamasweep-missing-gcc",
        "emulator": {"cpu": "rv64", "sysroot": "/usr/riscv64-linux-gnu"},
    }
    settings = {
        "sweep_emulated_partitions": [missing],
        "sweep_emulate": "riscv64-missing",
        "sweep_flag_sets": {"O2": "-O2"},
        "sweep_threads": [1],
        "sweep_steps": 4,
        "sweep_repetitions": 1,
        "sweep_warmup_runs": 0,
        "sweep_bandwidth": False,
        "sweep_profile": False,
    }
    run = run_playbook("sweep.yml", *sweep_args, "-e", json.dumps(settings))
    assert "Emulated partition riscv64-missing skipped" in run.stdout
    assert "make riscv-tools" in run.stdout
    summarize(tmp_path / "results" / "latest")
    runs = pd.read_csv(tmp_path / "results" / "latest" / "runs.csv")
    assert list(runs["partition"]) == ["local"] and list(runs["status"]) == ["ok"]


def test_unknown_emulated_partition_is_refused_naming_the_known_ones(sweep_args, tmp_path):
    run = run_playbook("sweep.yml", *sweep_args, "-e", "sweep_emulate=riscv32-qemu", check=False)
    assert run.returncode != 0
    assert "no emulated partition riscv32-qemu" in run.stdout
    assert "The emulated partitions are riscv64-qemu" in run.stdout
    assert not (tmp_path / "results").exists()
