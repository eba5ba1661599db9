"""Unit tests of collect/builds.py: build records, and what a RISC-V -march asks for."""

import pytest

from collect.builds import asks_for_vectors, march, read_build_records, rejection

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("isa", "vectors"),
    [
        ("rv64gcv", True),
        ("rv64imafdcv_zvl256b", True),
        ("rv64gc_zve32x", True),
        ("rv64gc_xtheadvector", True),
        ("rv64gc", False),
        ("rv64gc_zba_zbb", False),
        ("rv64gcq_bogus", False),
        ("native", False),
        (None, False),
    ],
)
def test_a_march_asks_for_vectors_by_its_letters_or_a_named_vector_extension(isa, vectors):
    assert asks_for_vectors(isa) is vectors


def test_records_are_read_with_their_vectoriser_report_and_rejections_name_the_error(tmp_path):
    builds = tmp_path / "builds" / "riscv64-qemu"
    builds.mkdir(parents=True)
    (builds / "compiler-version.txt").write_text("gcc 12\n")
    (builds / "rv64gcv.txt").write_text(
        "outcome=built\ncommand='gcc' '-O3' '-march=rv64gcv' -o run\nvector_instructions=0\n"
    )
    (builds / "rv64gcv.vec.txt").write_text(
        "run.c:1:1: optimized: loop vectorized using 16 byte vectors\n"
        "run.c:2:1: optimized: basic block part vectorized using 8 byte vectors\n"
    )
    (builds / "bogus.txt").write_text("outcome=rejected\nerror=gcc: error: bad -march\n")
    records = read_build_records(tmp_path)
    assert sorted(records) == [("riscv64-qemu", "bogus"), ("riscv64-qemu", "rv64gcv")]
    vector = records[("riscv64-qemu", "rv64gcv")]
    assert (vector["vectorized_loops"], march(vector)) == (1, "rv64gcv")
    assert rejection("rv64gcv", vector) == ""
    assert rejection("bogus", records[("riscv64-qemu", "bogus")]) == (
        "build failed: the compiler rejected flag set bogus: gcc: error: bad -march"
    )
