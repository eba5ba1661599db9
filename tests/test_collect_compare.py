"""`compare A B`: sweeps from directories or the history database, and the seed's
published numbers, configuration by configuration, on hand-checked figures.

Sweep A (mcimone-nodes, stories15M, 4 threads): O3 4.7 4.8 4.9; O3-openmp 16.8 17 17.2;
stories42M O3-openmp 11.0 11.1. Its noise band: the largest |log| of a half-split's median
ratio, 4.9 against 4.75 and 4.7 against 4.85 (3.2 %). Sweep B: O3 4.75 4.80 4.85;
O3-openmp 20 20.5 21; stories42M O3-openmp 12.5 13; O3-openmp at 2 threads 9.0 9.2 (only
in B). Its band: 13 against 12.5 (4.0 %), the larger of the two.

Each verdict is Welch's on log tok/s of the two sides' runs (the noise band is shown, not
used): O3 3 runs a side at 2 % spread cannot fit its interval inside ±2 %: too few runs
to tell; O3-openmp 1.21x with the interval above 1: faster; stories42M has 2 runs a side:
too few runs to tell.
"""

import numpy as np
import pandas as pd
import pytest
from builders import SweepWriter
from scipy import stats
from test_collect_cli import collect

from collect.comparison import compare_runs, configuration_stats
from collect.pipeline import summarize
from collect.runs import collect_runs
from collect.seed import seed_runs

pytestmark = pytest.mark.unit

NODES = "mcimone-nodes"


def write_sweep(results_dir, runs):
    sweep = SweepWriter(results_dir)
    repetitions: dict = {}
    for model, flag_set, threads, tok_s in runs:
        key = (model, flag_set, threads)
        repetitions[key] = repetitions.get(key, 0) + 1
        sweep.run(NODES, flag_set, threads, repetitions[key], tok_s=tok_s, model=model)
    return results_dir


def welch_interval(a, b) -> tuple[float, float]:
    """The 99 % interval of the ratio of geometric means b/a: Welch's on log tok/s."""
    test = stats.ttest_ind(np.log(b), np.log(a), equal_var=False)
    interval = test.confidence_interval(0.99)
    return float(np.exp(interval.low)), float(np.exp(interval.high))


@pytest.fixture
def sweeps(tmp_path):
    a = write_sweep(
        tmp_path / "results" / "20261125-131500",
        [
            *[("stories15M", "O3", 4, value) for value in (4.7, 4.8, 4.9)],
            *[("stories15M", "O3-openmp", 4, value) for value in (16.8, 17.0, 17.2)],
            *[("stories42M", "O3-openmp", 4, value) for value in (11.0, 11.1)],
        ],
    )
    b = write_sweep(
        tmp_path / "results" / "20261126-090000",
        [
            *[("stories15M", "O3", 4, value) for value in (4.75, 4.80, 4.85)],
            *[("stories15M", "O3-openmp", 4, value) for value in (20.0, 20.5, 21.0)],
            *[("stories42M", "O3-openmp", 4, value) for value in (12.5, 13.0)],
            *[("stories15M", "O3-openmp", 2, value) for value in (9.0, 9.2)],
        ],
    )
    return a, b


def test_configuration_by_configuration_with_noise_verdicts(sweeps):
    a, b = sweeps
    comparison = compare_runs(collect_runs(a), collect_runs(b))
    rows = comparison.set_index(["model", "flags", "threads"])
    o3 = rows.loc[("stories15M", "-O3", 4)]
    assert (o3["median_a"], o3["median_b"]) == (pytest.approx(4.8), pytest.approx(4.8))
    assert o3["ratio"] == pytest.approx(1.0)
    assert o3["noise_band"] == pytest.approx(13 / 12.5 - 1)
    # The interval is Welch's on log tok/s of these very runs; 3 runs a side at 2 % CV
    # cannot narrow it inside ±2 %: not "no detectable change" (87 runs a side would).
    assert (o3["ratio_low"], o3["ratio_high"]) == pytest.approx(
        welch_interval((4.7, 4.8, 4.9), (4.75, 4.80, 4.85))
    )
    assert o3["verdict"] == "too few runs to tell (needs ~87 runs each)"
    openmp = rows.loc[("stories15M", "-O3 -fopenmp", 4)]
    assert openmp["ratio"] == pytest.approx(20.5 / 17.0)
    assert (openmp["ratio_low"], openmp["ratio_high"]) == pytest.approx(
        welch_interval((16.8, 17.0, 17.2), (20.0, 20.5, 21.0))
    )
    assert openmp["verdict"] == "faster"
    two_runs = rows.loc[("stories42M", "-O3 -fopenmp", 4)]
    assert two_runs["ratio"] == pytest.approx(12.75 / 11.05)
    assert two_runs["verdict"].startswith("too few runs to tell (needs ")
    assert rows.loc[("stories15M", "-O3 -fopenmp", 2), "verdict"] == "only in B"
    # A's order, then B's own configurations.
    assert list(comparison["threads"]) == [4, 4, 4, 2]


def test_slower_beyond_noise_is_flagged_both_ways(sweeps):
    a, b = sweeps
    comparison = compare_runs(collect_runs(b), collect_runs(a))
    row = comparison.set_index(["model", "flags", "threads"]).loc[("stories15M", "-O3 -fopenmp", 4)]
    assert row["ratio"] == pytest.approx(17.0 / 20.5)
    assert row["verdict"] == "slower"
    only_a = comparison[comparison["verdict"] == "only in A"]
    assert list(only_a["threads"]) == [2]


def test_seed_reference_data():
    seed = seed_runs()
    assert len(seed) == 12
    stats = configuration_stats(seed).set_index(["partition", "model", "flag_set"])
    ofast = stats.loc[("mcimone-nodes", "stories15M", "Ofast")]
    assert ofast["median"] == 17.170330
    assert ofast["flags"] == "-Ofast -fopenmp"  # the seed's "Ofast" built with -fopenmp
    assert pd.isna(ofast["threads"])
    assert seed["nproc"].tolist()[:3] == [4, 4, 4]


def test_a_sweep_against_the_seed_matches_on_cflags_and_any_thread_count(sweeps):
    _, b = sweeps
    comparison = compare_runs(seed_runs(), collect_runs(b))
    nodes = comparison[(comparison["partition"] == NODES) & (comparison["model"] == "stories15M")]
    o3 = nodes[nodes["flags"] == "-O3"].iloc[0]
    assert o3["ratio"] == pytest.approx(4.80 / 4.786056)
    assert o3["verdict"] == "too few runs to tell (needs ~3 runs each)"  # one seed run
    openmp = nodes[nodes["flags"] == "-O3 -fopenmp"]
    assert list(openmp["threads"]) == [2, 4]  # the seed's one row matches both
    assert list(openmp["ratio"]) == pytest.approx([9.1 / 16.980146, 20.5 / 16.980146])
    ofast = nodes[nodes["flags"] == "-Ofast -fopenmp"].iloc[0]
    assert ofast["verdict"] == "only in A"
    assert (comparison["partition"] == "mcimone-milkvs").sum() == 6


def test_cli_compares_sweep_ids_from_the_history_database(sweeps, tmp_path):
    a, b = sweeps
    summarize(a)
    summarize(b)
    history = tmp_path / "results" / "history.sqlite"
    result = collect("compare", a.name, b.name, "--history", str(history))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "# compare: A = 20261125-131500, B = 20261126-090000"
    row = next(
        line for line in lines if "| stories15M | O3-openmp" in line and "|       4 |" in line
    )
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells == [
        NODES, "stories15M", "O3-openmp", "`-O3 -fopenmp`", "4",
        "3", "17.00", "1.2 %", "3", "20.50", "2.4 %", "1.21×", "1.10–1.33", "±4.0 %", "faster",
    ]  # fmt: skip
    listed = collect("history", "--history", str(history))
    assert listed.returncode == 0
    assert "20261125-131500" in listed.stdout and "20261126-090000" in listed.stdout


def test_min_effect_is_the_practical_threshold(sweeps):
    # O3-openmp is 1.21x faster (interval 1.10-1.33): not inside ±25 %, so faster; inside
    # ±40 %, so no detectable change (any change is smaller than 40 %).
    a, b = sweeps

    def row(min_effect: str) -> str:
        result = collect("compare", str(a), str(b), "--min-effect", min_effect)
        assert result.returncode == 0, result.stderr
        assert f"the whole interval lies inside ±{min_effect} %" in result.stdout
        (line,) = [
            line
            for line in result.stdout.splitlines()
            if "| stories15M | O3-openmp" in line and "|       4 |" in line
        ]
        return line.rstrip(" |")

    assert row("25").endswith(" | faster")
    assert row("40").endswith(" | no detectable change")
    refused = collect("compare", str(a), str(b), "--min-effect", "0")
    assert refused.returncode == 2 and "not a percentage above 0" in refused.stderr


def test_cli_compares_a_directory_with_the_seed(sweeps):
    _, b = sweeps
    result = collect("compare", "seed", str(b))
    assert result.returncode == 0, result.stderr
    assert "A = seed (published, one run each)" in result.stdout
    assert "too few runs to tell" in result.stdout


def test_cli_unknown_side_exits_2(tmp_path):
    result = collect("compare", "seed", "nope", "--history", str(tmp_path / "h.sqlite"))
    assert result.returncode == 2
    assert "'nope' is not a results directory" in result.stderr
    assert "Traceback" not in result.stderr
