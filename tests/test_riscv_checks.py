"""The decisions before queueing (module_utils/riscv_checks.py): which flag sets validation
builds, which it drops and why, what requires_compiler_support keeps, and that the plan
leaves dropped flag sets out with their reasons. The compile and run results are those of
the real cross compiler and qemu-user where installed (the end-to-end tests are
test_sweep_riscv_validation.py)."""

import json
import shutil
import subprocess

import pytest
from ansible_collections.llamasweep.sweep.plugins.module_utils import riscv_checks as checks
from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_inputs as inputs
from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_plan as plan

FLAG_SETS = {"O2": "-O2", "omp": "-O2 -fopenmp"}
PARTITIONS = [
    {"name": "u740", "arch": "riscv64", "flag_sets": {"rv64gc": "-O2 -march=rv64gc"}},
    {
        "name": "sg2042",
        "arch": "riscv64",
        "flag_sets": {"thead": "-O2 -march=rv64gc_xtheadvector"},
        "requires_compiler_support": ["thead"],
    },
    {"name": "x86", "flag_sets": {"v3": "-O2 -march=x86-64-v3"}},
    {"name": "qemu", "arch": "riscv64", "emulator": {"cpu": "rv64", "sysroot": "/usr"}},
]


@pytest.mark.riscv
def test_validation_builds_each_distinct_cflags_of_the_real_riscv_partitions_once():
    builds = checks.validation_builds(PARTITIONS, FLAG_SETS, {"sg2042": {"thead": "probe"}})
    assert [(b["cflags"], b["uses"]) for b in builds] == [
        ("-O2", [["u740", "O2"], ["sg2042", "O2"]]),
        ("-O2 -fopenmp", [["u740", "omp"], ["sg2042", "omp"]]),
        ("-O2 -march=rv64gc", [["u740", "rv64gc"]]),
    ]
    assert [b["name"] for b in builds] == ["O2", "omp", "rv64gc"]
    # a flag set name another CFLAGS took is numbered: the validation sweep builds both
    clash = [
        {"name": "a", "arch": "riscv64"},
        {"name": "b", "arch": "riscv64", "flag_sets": {"O2": "-O3"}},
    ]
    assert [(b["name"], b["cflags"]) for b in checks.validation_builds(clash, {"O2": "-O2"})] == [
        ("O2", "-O2"),
        ("O2-2", "-O3"),
    ]


def compile_result(cflags, tmp_path):
    """The cross compiler's stderr compiling an empty program, None when it compiles."""
    if shutil.which("riscv64-linux-gnu-gcc") is None:
        pytest.skip("riscv64-linux-gnu-gcc not installed: `make riscv-tools`")
    source = tmp_path / "empty.c"
    source.write_text("int main(void) { return 0; }\n")
    done = subprocess.run(
        ["riscv64-linux-gnu-gcc", *cflags.split(), str(source), "-o", str(tmp_path / "empty")],
        capture_output=True,
        text=True,
    )
    return None if done.returncode == 0 else done.stderr


def validation_sweep(tmp_path, builds, rejected, runs):
    """The plan of the validation sweep of builds, and in tmp_path what its scripts leave:
    rejected {build name: compiler's stderr} as build.sh records a rejection (outcome=rejected,
    error= its first error line), the others as built; runs {build name: (status, stderr)}
    as run-task.sh leaves them."""
    emulator = {"cpu": "rv64", "sysroot": "/usr"}
    catalog = {"tiny": {"size": 1000}}
    partitions = plan.partition_plan(
        [checks.validation_partition(builds, "riscv64-linux-gnu-gcc", emulator)],
        flag_sets={},
        models=["tiny"],
        catalog=catalog,
        steps=8,
    )
    tiny = {"tiny": {"path": str(tmp_path / "tiny.bin"), "sha256": "0" * 64}}
    planned = plan.sweep_plan(partitions, "v", str(tmp_path), ["tiny"], catalog, tiny, 8, 1, "c")
    records = tmp_path / "builds" / checks.VALIDATION_PARTITION
    records.mkdir(parents=True)
    for build in builds:
        error = rejected.get(build["name"])
        lines = ["outcome=built"]
        if error is not None:
            first_error = next(line for line in error.splitlines() if "error" in line.lower())
            lines = ["outcome=rejected", f"error={first_error}"]
        (records / f"{build['name']}.txt").write_text("\n".join(lines) + "\n")
    for task in planned["tasks"]:
        if task["kind"] == "run" and task["flag_set"] in runs:
            run_dir = tmp_path / task["dir"]
            run_dir.mkdir(parents=True)
            status, stderr = runs[task["flag_set"]]
            (run_dir / "status").write_text(f"{status}\n")
            (run_dir / "stderr.txt").write_text(stderr)
    return planned


@pytest.mark.riscv
def test_outcome_drops_what_fails_keeps_what_is_ignored_or_vouched_for_by_the_probe(tmp_path):
    partitions = [
        {"name": "a", "arch": "riscv64", "requires_compiler_support": ["thead"]},
        {"name": "b", "arch": "riscv64"},
    ]
    flag_sets = {
        "ok": "-O2",
        "bogus": "-O2 -march=rv64gcq_bogus",
        "thead": "-O2 -march=rv64gc_xtheadvector",
        "hangs": "-O1",
    }
    builds = checks.validation_builds(partitions, flag_sets)
    compiled = {b["name"]: compile_result(b["cflags"], tmp_path) for b in builds}
    assert [message is None for message in compiled.values()] == [True, False, False, True]
    rejected = {name: message for name, message in compiled.items() if message is not None}
    runs = {"ok": (0, "achieved tok/s: 9.5\n"), "hangs": (124, "")}  # timeout(1) killed it
    planned = validation_sweep(tmp_path, builds, rejected, runs)
    outcome = checks.validation_outcome(builds, tmp_path, planned, ["hangs"], partitions)
    assert {p: sorted(r) for p, r in outcome["dropped"].items()} == {
        "a": ["bogus"],
        "b": ["bogus", "thead"],
    }
    reason = outcome["dropped"]["a"]["bogus"]
    assert reason.startswith("flag set bogus (-O2 -march=rv64gcq_bogus) failed validation: ")
    assert "the RISC-V cross compiler rejected it: " in reason and "rv64gcq_bogus" in reason
    ignored = "\n".join(outcome["ignored"])
    assert "a: flag set thead" in ignored and "submitted unvalidated" in ignored
    assert "b: flag set thead" not in ignored
    assert "a: flag set hangs" in ignored and "exit 124" in ignored
    assert "sweep_validate_riscv_ignore" in ignored
    assert checks.drop_messages({"a": {"bogus": reason}}) == [
        f"Not submitted to partition a: {reason}"
    ]


@pytest.mark.unit
def test_a_run_that_exits_0_without_tok_s_fails(tmp_path):
    builds = checks.validation_builds([{"name": "a", "arch": "riscv64"}], {"ok": "-O2"})
    planned = validation_sweep(tmp_path, builds, {}, {"ok": (0, "illegal instruction?\n")})
    (reason,) = checks.validation_outcome(builds, tmp_path, planned)["dropped"]["a"].values()
    assert "its binary failed under qemu (exit 0, no tok/s): illegal instruction?" in reason


@pytest.mark.unit
def test_requires_compiler_support_keeps_only_what_the_probe_accepted():
    facts = {
        "sg2042": json.dumps({"compiler_version": "gcc 14.2", "march": ["rv64gc"]}),
        "u740": "",
    }
    sg2042 = PARTITIONS[1]
    partitions = [
        {**sg2042, "flag_sets": {**sg2042["flag_sets"], "gc": "-march=rv64gc"},
         "requires_compiler_support": ["thead", "gc"]},
        {"name": "u740", "requires_compiler_support": ["O2v"],
         "flag_sets": {"O2v": "-march=rv64gcv"}},
    ]  # fmt: skip
    dropped = checks.unsupported_flag_sets(partitions, FLAG_SETS, facts)
    assert dropped == {
        "sg2042": {
            "thead": "flag set thead requires compiler support: the compiler of the partition "
            "(gcc 14.2) does not accept -march=rv64gc_xtheadvector (setup probe)"
        },
        "u740": {
            "O2v": "flag set O2v requires compiler support: the setup probe recorded no facts "
            "for this partition (setup.yml)"
        },
    }
    assert checks.flag_set_marches(partitions, FLAG_SETS) == [
        "rv64gc",
        "rv64gc_xtheadvector",
        "rv64gcv",
    ]


@pytest.mark.unit
def test_partition_errors_name_bad_arch_and_requires_compiler_support():
    errors = inputs.partition_errors(
        [
            {"name": "a", "arch": "risc v"},
            {"name": "b", "requires_compiler_support": ["nope", "O2"]},
        ],
        FLAG_SETS,
    )
    assert errors == [
        "partition 'a': arch 'risc v' is not an architecture as uname -m names it, e.g. riscv64",
        "partition 'b': requires_compiler_support names 'nope', which is not one of its flag "
        "sets (O2, omp)",
        "partition 'b': requires_compiler_support names 'O2', whose CFLAGS '-O2' have no -march "
        "for the setup probe to check",
    ]


@pytest.mark.unit
def test_the_plan_leaves_dropped_flag_sets_out_with_their_reasons():
    resolve = {"flag_sets": FLAG_SETS, "models": ["m"], "steps": 8}
    catalog = {"m": {"size": 1000}}
    (partition,) = plan.partition_plan(
        [{"name": "a", "cores": 2}], catalog=catalog, dropped_flag_sets={"a": {"O2": "why"}},
        **resolve,
    )  # fmt: skip
    assert list(partition["flag_sets"]) == ["omp"]
    assert partition["dropped_flag_sets"] == {"O2": "why"}
    assert list(partition["flag_set_threads"]) == ["omp"]
    with pytest.raises(plan.PlanError, match="partition a has no flag set left to submit: x; y"):
        plan.partition_plan(
            [{"name": "a", "cores": 2}], catalog=catalog,
            dropped_flag_sets={"a": {"O2": "x", "omp": "y"}}, **resolve,
        )  # fmt: skip


@pytest.mark.unit
def test_a_partition_without_arch_takes_the_machine_the_probe_found():
    facts = {"a": json.dumps({"machine": "riscv64"}), "b": json.dumps({"machine": "riscv64"})}
    partitions = [{"name": "a"}, {"name": "b", "arch": "x86_64"}, {"name": "c"}]
    resolved = checks.with_probed_arch(partitions, {**facts, "c": ""})
    assert resolved == [
        {"name": "a", "arch": "riscv64"},
        {"name": "b", "arch": "x86_64"},
        {"name": "c"},
    ]
    assert [p["name"] for p in checks.validated_partitions(resolved)] == ["a"]
