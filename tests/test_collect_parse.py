"""collect.parse and sweep_rules.parse_tok_s (the tok/s rule the collector and the
node's profile selection share) on real perf stat and run.c outputs (tests/data/README.md
says where each comes from)."""

from pathlib import Path

import pandas as pd
import pytest
from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_rules import parse_tok_s
from builders import SweepWriter

from collect.parse import (
    generated_tokens,
    parse_perf_stat,
    parse_run_log,
    unsupported_events,
)
from collect.perf_metrics import FIGURE_COLUMNS
from collect.pipeline import summarize

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data"
PERF_STAT = DATA / "perf-stat"
RUNS = DATA / "runs"

NOT_MEASURED = dict.fromkeys(FIGURE_COLUMNS)


def read(path: Path) -> str:
    return path.read_text()


def test_seed_stories15m_every_figure():
    assert parse_perf_stat(read(PERF_STAT / "seed-stories15M.txt")) == {
        **NOT_MEASURED,
        "task_clock_ms": 72184.53,
        "cpus_utilized": 43.524,
        "context_switches": 30397,
        "cpu_migrations": 2529,
        "page_faults": 24465,
        "cycles": 144465901074,
        "instructions": 145608923919,
        "ipc": 1.01,
        "branches": 63810539123,
        "branch_misses": 29783265,
    }


@pytest.mark.parametrize(
    ("name", "task_clock_ms", "cycles", "ipc", "branch_misses"),
    [
        ("seed-stories42M.txt", 276901.74, 554078618703, 0.50, 65379291),
        ("seed-stories110M.txt", 1238439.73, 2478228009264, 0.25, 146621514),
    ],
)
def test_seed_other_models(name, task_clock_ms, cycles, ipc, branch_misses):
    figures = parse_perf_stat(read(PERF_STAT / name))
    assert figures["task_clock_ms"] == task_clock_ms
    assert figures["cycles"] == cycles
    assert figures["ipc"] == ipc
    assert figures["branch_misses"] == branch_misses
    # The seed's excerpts stop before perf's time lines.
    assert figures["elapsed_s"] is None


def test_captured_human_form_with_unsupported_hardware_counters():
    assert parse_perf_stat(read(RUNS / "human" / "perf.txt")) == {
        **NOT_MEASURED,
        "task_clock_ms": 406.60,
        "cpus_utilized": 0.980,
        "context_switches": 9,
        "cpu_migrations": 0,
        "page_faults": 878,
        "elapsed_s": 0.414690113,
        "user_s": 0.383195,
        "sys_s": 0.023631,
    }


def test_captured_csv_form():
    assert parse_perf_stat(read(RUNS / "csv" / "perf.txt")) == {
        **NOT_MEASURED,
        "task_clock_ms": 400.87,
        "cpus_utilized": 0.978,
        "context_switches": 38,
        "cpu_migrations": 1,
        "page_faults": 878,
    }


@pytest.mark.parametrize(
    ("run", "task_clock_ms", "cpus_utilized", "page_faults", "elapsed_s"),
    [
        ("events-u", 421.53, 0.997, 877, 0.422875047),
        ("csv-events-u", 434.87, 0.980, 894, None),
    ],
)
def test_captured_chosen_events_with_user_modifier(
    run, task_clock_ms, cpus_utilized, page_faults, elapsed_s
):
    figures = parse_perf_stat(read(RUNS / run / "perf.txt"))
    assert figures["task_clock_ms"] == task_clock_ms
    assert figures["cpus_utilized"] == cpus_utilized
    assert figures["page_faults"] == page_faults
    assert figures["elapsed_s"] == elapsed_s
    # cycles:u is <not supported> here; context switches were not asked for.
    assert figures["cycles"] is None
    assert figures["context_switches"] is None


def test_captured_openmp_run_uses_two_cpus():
    figures = parse_perf_stat(read(RUNS / "openmp-t2" / "perf.txt"))
    assert figures["cpus_utilized"] == 1.880
    assert figures["user_s"] == 0.796108


def test_perf4_old_task_clock_form_thousands_separators_and_multiplexing():
    figures = parse_perf_stat(read(PERF_STAT / "perf4-bignum-multiplexed.txt"))
    assert figures["task_clock_ms"] == 448195.190178
    assert figures["cpus_utilized"] == 7.974
    assert figures["context_switches"] == 270407
    assert figures["cycles"] == 1358407730487
    assert figures["instructions"] == 1401474701367
    assert figures["ipc"] == 1.03  # perf 4 wrote "insns per cycle"
    assert figures["branch_misses"] == 494990952
    assert figures["elapsed_s"] == 56.204127957
    assert figures["user_s"] is None


def test_perf4_repeated_runs_with_variance():
    figures = parse_perf_stat(read(PERF_STAT / "perf4.18-repeat.txt"))
    assert figures["task_clock_ms"] == 238.204720
    assert figures["cycles"] == 708485761
    assert figures["ipc"] == 0.39
    assert figures["elapsed_s"] == 0.235096


def test_perf6_hybrid_pmus_are_summed_and_ipc_recomputed():
    figures = parse_perf_stat(read(PERF_STAT / "perf6-hybrid.txt"))
    assert figures["cycles"] == 13105718106 + 18924267903
    assert figures["instructions"] == 29553009231 + 38470184624
    assert figures["branches"] == 2007472479 + 4609246461
    assert figures["ipc"] == pytest.approx(68023193855 / 32029986009)
    assert figures["task_clock_ms"] == 4448.17
    assert figures["page_faults"] == 3476556
    assert figures["sys_s"] == 2.658268


def test_perf6_metric_names_and_apostrophe_separators():
    figures = parse_perf_stat(read(PERF_STAT / "perf6-metric-names.txt"))
    assert figures["cpus_utilized"] == 2.4
    assert figures["ipc"] == 2.9
    assert figures["cycles"] == 203626444  # printed as cpu-cycles:u
    assert figures["instructions"] == 595887473
    assert figures["branch_misses"] == 14008
    assert figures["task_clock_ms"] == 269.48


def test_events_asked_by_name_printed_with_the_user_modifier():
    # -e cycles,...,branch-misses by a user perf may count only user space for: cycles:u.
    figures = parse_perf_stat(read(PERF_STAT / "perf-cache-misses-u.txt"))
    assert figures["cycles"] == 4841866481
    assert figures["instructions"] == 9807377891
    assert figures["ipc"] == pytest.approx(9807377891 / 4841866481)  # no ratio printed
    assert figures["branches"] == 2144469247
    assert figures["branch_misses"] == 62966965
    assert figures["elapsed_s"] == 1.228811391
    assert figures["task_clock_ms"] is None  # not asked for


def test_riscv_not_counted_is_null():
    figures = parse_perf_stat(read(PERF_STAT / "perf-riscv-sbi-not-counted.txt"))
    assert figures["branch_misses"] is None
    assert figures["cycles"] == 89521791110
    assert figures["ipc"] == 1.01
    assert figures["sys_s"] == 24.35331
    assert figures["task_clock_ms"] is None


def test_ipc_from_counts_when_perf_prints_no_ratio():
    text = "     1,000      cycles:u\n     2,500      instructions:u\n"
    assert parse_perf_stat(text)["ipc"] == 2.5


def test_last_block_counts_when_a_file_holds_several():
    first = read(PERF_STAT / "seed-stories15M.txt")
    second = read(PERF_STAT / "seed-stories42M.txt")
    text = (
        f"# started on Mon\n\n Performance counter stats for 'a':\n\n{first}\n"
        f"# started on Tue\n\n Performance counter stats for 'b':\n\n{second}\n"
    )
    assert parse_perf_stat(text)["cycles"] == 554078618703


def test_empty_perf_file_of_a_killed_run_gives_nulls():
    assert parse_perf_stat(read(RUNS / "killed" / "perf.txt")) == NOT_MEASURED


def test_tok_s_from_captured_stderr():
    assert parse_tok_s(read(RUNS / "human" / "stderr.txt")) == 165.354331
    assert parse_tok_s(read(RUNS / "missing-checkpoint" / "stderr.txt")) is None
    assert parse_tok_s("") is None


def test_tok_s_takes_the_last_line():
    assert parse_tok_s("achieved tok/s: 1.5\nachieved tok/s: 2.250000\n") == 2.25


def test_run_log_with_perf_writing_to_stderr():
    figures = parse_run_log(read(RUNS / "perf-to-stderr" / "stderr.txt"))
    assert figures["tok_s"] == 166.226913
    assert figures["task_clock_ms"] == 390.35
    assert figures["page_faults"] == 999
    assert list(figures) == ["tok_s", *FIGURE_COLUMNS]


@pytest.mark.parametrize(
    ("path", "events"),
    [
        (RUNS / "human" / "perf.txt", ["cycles", "instructions", "branches", "branch-misses"]),
        (RUNS / "csv" / "perf.txt", ["cycles", "instructions", "branches", "branch-misses"]),
        (RUNS / "events-u" / "perf.txt", ["cycles:u"]),
        (
            PERF_STAT / "perf-riscv-sbi-not-counted.txt",
            ["r0000000000020004", "branch-misses", "cache-misses"],
        ),
        (PERF_STAT / "seed-stories15M.txt", []),
        (RUNS / "killed" / "perf.txt", []),
    ],
)
def test_unsupported_events_of_captured_perf_output(path, events):
    assert unsupported_events(read(path)) == events


# Damaged or foreign-locale outputs, made from the captured run in runs/human: each yields
# no figure for what cannot be read, the rest as captured, and never an exception.

CAPTURED_TOK_S_LINE = "achieved tok/s: 165.354331\n"


@pytest.mark.parametrize(
    "line",
    [
        "achieved tok/s: 165.354331",  # killed before the newline
        "achieved tok/s: 165.",  # killed mid-number
        "achieved tok/s: nan\n",
        "achieved tok/s: -nan\n",
        "achieved tok/s: inf\n",
        f"achieved tok/s: 1{'0' * 400}.000000\n",  # beyond a double: inf
    ],
)
def test_tok_s_line_cut_short_or_not_finite_is_no_figure(line):
    stderr = read(RUNS / "human" / "stderr.txt")
    assert CAPTURED_TOK_S_LINE in stderr
    assert parse_tok_s(stderr.replace(CAPTURED_TOK_S_LINE, line)) is None


def test_tok_s_of_a_complete_line_before_one_cut_short():
    assert parse_tok_s("achieved tok/s: 1.500000\nachieved tok/s: 16") == 1.5


def captured_perf_with(old: str, new: str) -> str:
    perf = read(RUNS / "human" / "perf.txt")
    assert old in perf
    return perf.replace(old, new)


@pytest.mark.parametrize(
    "count",
    [
        "1.2.3",
        "1.234.567",  # de_DE grouping
        "1 234 567",  # fr_FR grouping (space)
        "1\u202f234\u202f567",  # narrow no-break space
        "1,234.567.8",
        "1,23,456",  # groups not of three
        "1,234,",
        "1,234'567",  # two separators
    ],
)
def test_unreadable_count_is_no_figure_for_that_counter(count):
    figures = parse_perf_stat(
        captured_perf_with("  878      page-faults", f"  {count}  page-faults")
    )
    assert figures == {**parse_perf_stat(read(RUNS / "human" / "perf.txt")), "page_faults": None}


@pytest.mark.parametrize(
    ("count", "page_faults"),
    [("1,234,567", 1234567), ("1’234’567", 1234567), ("1'234", 1234), ("1234567", 1234567)],
)
def test_grouped_count_in_threes_reads(count, page_faults):
    figures = parse_perf_stat(
        captured_perf_with("  878      page-faults", f"  {count}  page-faults")
    )
    assert figures["page_faults"] == page_faults


def test_comma_decimal_locale_leaves_only_the_counts_with_one_reading():
    # perf under LC_ALL=de_DE.UTF-8: "238,47 msec", "0,984 CPUs", "5.640 page-faults".
    assert parse_perf_stat(read(PERF_STAT / "perf6.1-de_DE.txt")) == {
        **NOT_MEASURED,
        "context_switches": 470,
        "cpu_migrations": 0,
    }


def test_unreadable_part_of_a_hybrid_sum_is_no_figure():
    perf = read(PERF_STAT / "perf6-hybrid.txt")
    assert "13,105,718,106      cpu_atom/cycles/" in perf
    figures = parse_perf_stat(perf.replace("13,105,718,106", "13.105.718.106"))
    assert figures["cycles"] is None
    assert figures["ipc"] is None  # not recomputed from a partial sum
    assert figures["instructions"] == 29553009231 + 38470184624


def test_unreadable_ipc_metric_is_recomputed_from_the_counts():
    perf = read(PERF_STAT / "seed-stories15M.txt")
    assert "1.01  insn per cycle" in perf
    figures = parse_perf_stat(perf.replace("1.01  insn per cycle", "1,01  insn per cycle"))
    assert figures["ipc"] == pytest.approx(145608923919 / 144465901074)


def test_unreadable_count_is_not_an_unsupported_event():
    perf = captured_perf_with("  878      page-faults", "  1.2.3  page-faults")
    assert unsupported_events(perf) == ["cycles", "instructions", "branches", "branch-misses"]


def test_summary_of_runs_with_damaged_logs(tmp_path):
    sweep = SweepWriter(tmp_path / "sweep")
    sweep.run("local", "O3", 2, 1, stderr="achieved tok/s: 12.5")  # killed mid-line
    unreadable_perf = tmp_path / "perf.txt"
    unreadable_perf.write_text(captured_perf_with("  878      page-faults", "  1.2.3  page-faults"))
    sweep.run("local", "O3-openmp", 2, 1, tok_s=15.0, perf=unreadable_perf)
    summary = summarize(tmp_path / "sweep")
    assert "- runs: 2 (1 ok, 1 failed)\n" in summary
    runs_csv = pd.read_csv(tmp_path / "sweep" / "runs.csv")
    assert runs_csv["tok_s"].isna().tolist() == [True, False]
    assert runs_csv["page_faults"].isna().tolist() == [False, True]
    assert runs_csv["task_clock_ms"].tolist() == [406.60, 406.60]


@pytest.mark.parametrize(
    ("run", "positions", "expected"),
    [
        # Every real run of tests/data went through its 64 positions.
        ("human", 64, (64, False)),
        ("csv", 64, (64, False)),
        ("openmp-t2", 64, (64, False)),
        # The same tok/s from a run asked for 100 positions: it stopped at 64 (BOS), the only
        # count whose milliseconds are whole (63 timed tokens in 386 ms); asked for 256, it
        # could also be 127 in 772 ms, and so on: early, count unknown.
        ("csv", 100, (64, True)),
        ("csv", 256, (None, True)),
        # 165.354331 tok/s is 63, 42 or 21 timed tokens in 381, 254 or 127 ms: early, count
        # unknown.
        ("human", 100, (None, True)),
        ("killed", 64, (None, None)),  # no tok/s
    ],
)
def test_generated_tokens_from_the_tok_s_of_real_runs(run, positions, expected):
    stderr = RUNS / run / "stderr.txt"
    tok_s = parse_run_log(stderr.read_text()).get("tok_s") if stderr.is_file() else None
    assert generated_tokens(tok_s, positions) == expected
