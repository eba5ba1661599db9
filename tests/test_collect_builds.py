"""Unit tests of collect/builds.py: build records, and what a RISC-V -march asks for."""

import pytest

from collect.builds import asks_for_vectors, march, read_build_records, rejection
from collect.riscv import riscv_builds

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


def test_words_the_nodes_objdump_cannot_decode_are_said_not_counted_as_no_vectors():
    """An XTheadVector binary disassembled by binutils before 2.42 (Debian 12's 2.40 prints
    th.vsetvli as `.4byte 0x807057`): no vector instruction counted, but not 'none in the
    binary' either; binutils 2.44 (the riscv64 nodes') decodes and counts them."""
    command = "command='gcc' '-O3' '-march=rv64gc_xtheadvector'\ntarget=riscv64-linux-gnu\n"
    builds = {
        ("old", "th"): {**_record(command), "vector_instructions": "0",
                        "undecoded_instructions": "2"},
        ("new", "th"): {**_record(command), "vector_instructions": "2",
                        "undecoded_instructions": "0"},
        ("none", "th"): {**_record(command), "vector_instructions": "0"},
    }  # fmt: skip
    table = riscv_builds(builds).set_index("partition")
    assert table.loc["old", "undecoded_instructions"] == 2
    assert not table.loc["old", "vectors_missing"] and not table.loc["new", "vectors_missing"]
    assert table.loc["none", "vectors_missing"]
    assert table.loc["none", "undecoded_instructions"] is None


def _record(text: str) -> dict:
    return dict(line.split("=", 1) for line in text.splitlines())
