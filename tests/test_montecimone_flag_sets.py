"""Monte Cimone's per-partition flag sets (inventory/montecimone.yml) are valid partitions,
and every flag set on by default (not in requires_compiler_support) compiles with Debian's
RISC-V cross compiler (the RISC-V check a student's laptop can make before the queue)."""

import shutil
import subprocess

import pytest
import yaml
from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_inputs as inputs
from conftest import PROJECT

CROSS_COMPILER = "riscv64-linux-gnu-gcc"


def partitions():
    inventory = yaml.safe_load((PROJECT / "inventory/montecimone.yml").read_text())
    return inventory["all"]["hosts"]["montecimone"]["sweep_partitions"]


@pytest.mark.unit
def test_the_partitions_are_valid_and_each_has_its_own_flag_sets():
    sweep_flag_sets = yaml.safe_load((PROJECT / "group_vars/all/sweep.yml").read_text())
    assert inputs.partition_errors(partitions(), sweep_flag_sets["sweep_flag_sets"]) == []
    assert {p["name"]: sorted(p["flag_sets"]) for p in partitions()} == {
        "mcimone-nodes": ["rv64gc-openmp", "u74-openmp"],
        "mcimone-milkvs": ["rv64gc-openmp", "xtheadvector-openmp"],
    }
    # RISC-V, so validated before queueing; XTheadVector only where the compiler accepts it
    assert {p["arch"] for p in partitions()} == {"riscv64"}
    assert {p["name"]: p.get("requires_compiler_support") for p in partitions()} == {
        "mcimone-nodes": None,
        "mcimone-milkvs": ["xtheadvector-openmp"],
    }


@pytest.mark.riscv
@pytest.mark.parametrize(
    ("partition", "flag_set", "cflags"),
    [
        (p["name"], name, cflags)
        for p in partitions()
        for name, cflags in p["flag_sets"].items()
        if name not in p.get("requires_compiler_support", [])
    ],
)
def test_each_flag_set_compiles_for_risc_v(partition, flag_set, cflags, tmp_path):
    if shutil.which(CROSS_COMPILER) is None:
        pytest.skip(f"{CROSS_COMPILER} is missing: make riscv-tools")
    source = tmp_path / "loop.c"
    source.write_text(
        "float dot(float *a, float *b, int n) {\n  float s = 0;\n"
        "  for (int i = 0; i < n; i++) s += a[i] * b[i];\n  return s;\n}\n"
    )
    done = subprocess.run(
        [CROSS_COMPILER, *cflags.split(), "-c", str(source), "-o", str(tmp_path / "loop.o")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"{partition} {flag_set} ({cflags}): {done.stderr}"
