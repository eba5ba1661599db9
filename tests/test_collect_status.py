"""A run's status and reason (collect.runs.run_status), run names and the manifest."""

from dataclasses import replace
from pathlib import Path

import pytest

from collect.runs import (
    RunFiles,
    parse_run_files,
    parse_run_name,
    read_manifest,
    read_run_files,
    run_status,
)

RUNS = Path(__file__).parent / "data" / "runs"

META = '{"index": 0, "partition": "local"}'
TOK_S_LINE = "achieved tok/s: 165.354331\n"


def status_of(files: RunFiles) -> tuple[str, str]:
    return run_status(files, parse_run_files(files)["tok_s"])


def test_finished_run_with_tok_s_is_ok():
    files = RunFiles("0000-m-O3-t1-r1", META, "0\n", TOK_S_LINE)
    assert status_of(files) == ("ok", "")


@pytest.mark.parametrize(
    ("files", "reason"),
    [
        (
            RunFiles("r", None, None, TOK_S_LINE),
            "run did not finish (no meta.json)",
        ),
        (
            RunFiles("r", '{"index": 0, "partit', "0\n", TOK_S_LINE),
            "meta.json is not a complete JSON object",
        ),
        (
            RunFiles("r", META, None, TOK_S_LINE),
            "run did not finish (no status file)",
        ),
        (
            RunFiles("r", META, "", TOK_S_LINE),
            "status file holds no exit status: ''",
        ),
        (
            RunFiles("r", META, "1\n", "Couldn't open file x.bin\n\n"),
            "exit status 1: Couldn't open file x.bin",
        ),
        (
            RunFiles("r", META, "137\n", ""),
            "exit status 137: (stderr.txt is empty)",
        ),
        (
            RunFiles("r", META, "2\n", None),
            "exit status 2: (no stderr.txt)",
        ),
        (
            RunFiles("r", META, "0\n", None),
            "no stderr.txt",
        ),
        (
            RunFiles("r", META, "0\n", "something else\n"),
            "no 'achieved tok/s' line in stderr.txt",
        ),
    ],
)
def test_failed_runs_say_why(files, reason):
    assert status_of(files) == ("failed", reason)


def test_nonzero_exit_fails_even_with_a_tok_s_line():
    files = RunFiles("r", META, "1\n", TOK_S_LINE + "free(): invalid pointer\n")
    assert status_of(files) == ("failed", "exit status 1: free(): invalid pointer")


def test_long_stderr_line_is_shortened_in_the_reason():
    status, reason = status_of(RunFiles("r", META, "1\n", "x" * 1000))
    assert status == "failed"
    assert reason == "exit status 1: " + "x" * 200


@pytest.mark.parametrize(
    ("run", "status", "reason"),
    [
        ("missing-checkpoint", "failed", "exit status 1: Couldn't open file "),
        ("timeout-124", "failed", "exit status 124: (stderr.txt is empty)"),
        ("killed", "failed", "run did not finish (no meta.json)"),
    ],
)
def test_captured_failures(run, status, reason):
    # Captured run directories have no meta.json; give the finished ones one.
    files = read_run_files(RUNS / run)
    if files.status_text is not None:
        files = replace(files, meta_text=META)
    actual_status, actual_reason = status_of(files)
    assert actual_status == status
    assert actual_reason.startswith(reason)


def test_run_name_split_by_a_known_flag_set():
    assert parse_run_name("0007-tiny-llama-O3-openmp-t4-r2", {"O3", "O3-openmp"}) == {
        "index": 7,
        "model": "tiny-llama",
        "flag_set": "O3-openmp",
        "threads": 4,
        "repetition": 2,
    }


def test_run_name_without_known_flag_sets_ends_the_model_at_the_first_dash():
    planned = parse_run_name("0012-stories15M-Ofast-openmp-t64-r3")
    assert (planned["model"], planned["flag_set"]) == ("stories15M", "Ofast-openmp")
    assert (planned["index"], planned["threads"], planned["repetition"]) == (12, 64, 3)


def test_run_name_outside_the_layout_gives_nothing():
    assert parse_run_name("scratch") == {}


def test_manifest_ignores_extra_columns_malformed_lines_and_characterisation():
    text = (
        "0\t0000-stories15M-O3-t4-r1\tstories15M\tO3\t4\t1\t/bin/run\tckpt.bin\t{}\n"
        "garbage line\n"
        "x\t0001-stories15M-O3-t4-r2\tstories15M\tO3\t4\t2\n"
        "2\t0002-tiny-llama-O3-openmp-t2-r1\ttiny-llama\tO3-openmp\t2\t1\n"
        "3\tbandwidth/local-t2-large\tlarge\tbandwidth\t2\t0\ttriad\t805306368\t{}\n"
        "4\twarmup/0004-stories15M-O3-t4-w1\tstories15M\tO3\t4\t0\t/bin/run\tckpt.bin\t{}\n"
    )
    assert read_manifest(text) == {
        "0000-stories15M-O3-t4-r1": {
            "index": 0,
            "model": "stories15M",
            "flag_set": "O3",
            "threads": 4,
            "repetition": 1,
        },
        "0002-tiny-llama-O3-openmp-t2-r1": {
            "index": 2,
            "model": "tiny-llama",
            "flag_set": "O3-openmp",
            "threads": 2,
            "repetition": 1,
        },
    }


def test_perf_figures_come_from_stderr_when_there_is_no_perf_txt():
    figures = parse_run_files(read_run_files(RUNS / "perf-to-stderr"))
    assert figures["tok_s"] == 166.226913
    assert figures["context_switches"] == 81
