"""Folding `perf script` output and the top-functions table, on perf script output of
llama2.c's run.c captured on this project's build machine (tests/data/README.md)."""

from pathlib import Path

import pytest

from collect.profiles import fold_perf_script, format_folded, parse_folded, top_functions

pytestmark = pytest.mark.unit

PERF_SCRIPT = Path(__file__).parent / "data" / "perf-script"
DWARF = PERF_SCRIPT / "llama2c-omp-t2-dwarf"  # 300 samples, 2 threads, -O3 -fopenmp
FP = PERF_SCRIPT / "llama2c-t1-fp"  # 242 samples, 1 thread, -fno-omit-frame-pointer
PERIOD = 2004008  # ns of one cpu-clock sample at 499 Hz: stackcollapse-perf.pl's count


@pytest.mark.parametrize("capture", [DWARF, FP])
def test_fold_matches_flamegraphs_stackcollapse_perf(capture):
    # The .folded files are FlameGraph's stackcollapse-perf.pl output of the .txt files.
    folded = fold_perf_script(capture.with_suffix(".txt").read_text())
    assert format_folded(folded) == capture.with_suffix(".folded").read_text()


def test_folded_stacks_of_the_dwarf_capture():
    stacks = parse_folded(DWARF.with_suffix(".folded").read_text())
    assert len(stacks) == 26
    assert sum(count for _, count in stacks) == 300 * PERIOD
    frames, count = max(stacks, key=lambda stack: stack[1])
    assert frames == ["run", "clone3", "start_thread", "[libgomp.so.1.0.0]", "matmul._omp_fn.0"]
    assert count == 125 * PERIOD


def test_matmul_dominates_the_top_functions():
    table = top_functions(parse_folded(DWARF.with_suffix(".folded").read_text()))
    rows = table.set_index("function")
    assert table.iloc[0]["function"] == "matmul._omp_fn.0"
    # Counted by hand (awk) on the folded file, in samples of PERIOD.
    assert rows.loc["matmul._omp_fn.0", "self"] == 248 * PERIOD
    assert rows.loc["matmul._omp_fn.0", "total"] == 252 * PERIOD
    assert rows.loc["matmul._omp_fn.0", "self_pct"] == pytest.approx(100 * 248 / 300)
    assert rows.loc["matmul._omp_fn.0", "total_pct"] == pytest.approx(84.0)
    assert rows.loc["[libgomp.so.1.0.0]", "self"] == 22 * PERIOD
    assert rows.loc["[libgomp.so.1.0.0]", "total"] == 155 * PERIOD
    assert rows.loc["forward", "self"] == 1 * PERIOD
    assert rows.loc["forward", "total"] == 137 * PERIOD
    # msort_with_tmp recurses: 60 frames in 5 samples, counted once per stack.
    assert rows.loc["msort_with_tmp", "total"] == 5 * PERIOD
    # The process name (first frame) is not a function.
    assert "run" not in rows.index
    assert list(table.columns) == ["function", "self", "self_pct", "total", "total_pct"]
    assert table["self_pct"].sum() == pytest.approx(100.0)


def test_frame_pointer_capture_without_libc_frame_pointers():
    table = top_functions(parse_folded(FP.with_suffix(".folded").read_text()), limit=3)
    assert len(table) == 3
    rows = table.set_index("function")
    assert rows.loc["matmul._omp_fn.0", "total"] == 222 * PERIOD
    assert rows.loc["matmul._omp_fn.0", "total_pct"] == pytest.approx(100 * 222 / 242)
    # Without frame pointers in libc, unwinding stops at [unknown].
    by_total = top_functions(parse_folded(FP.with_suffix(".folded").read_text()))
    assert by_total.set_index("function").loc["[unknown]", "total"] == 229 * PERIOD


def test_fold_event_filter_periods_spaces_and_unknown_frames():
    text = (
        "# cmdline : /usr/bin/perf record\n"
        "V8 Worker 12 100.0:     10 cycles: \n"
        "\t  1 inner+0x1 (/bin/a)\n"
        "\t  2 [unknown] (/usr/lib/libfoo.so.1)\n"
        "\t  3 [unknown] ([unknown])\n"
        "\n"
        "run 12 100.1:     7 instructions: \n"
        "\t  1 ignored (/bin/a)\n"
        "\n"
        "run 12 100.2:     5 cycles: \n"
        "\t  1 f(int, char) (/bin/a)\n"
        "\t  2 g (/bin/a)"  # no closing blank line: still counted
    )
    assert fold_perf_script(text) == {
        "V8_Worker;[unknown];[libfoo.so.1];inner": 10,
        "run;g;f": 5,
    }


def test_parse_folded_skips_lines_without_a_count():
    assert parse_folded("a;b 3\nnot folded\n\na;c x\nc 1\n") == [(["a", "b"], 3), (["c"], 1)]


def test_top_functions_of_nothing_is_an_empty_table():
    table = top_functions([])
    assert table.empty
    assert list(table.columns) == ["function", "self", "self_pct", "total", "total_pct"]
