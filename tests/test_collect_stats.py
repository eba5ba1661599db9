"""Repetition statistics, thread scaling, derived perf metrics and unsupported counters
on small tables checked by hand."""

import math
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from builders import SweepWriter
from scipy import stats

from collect.parse import parse_perf_stat
from collect.runs import collect_runs, runs_table
from collect.stats import (
    NOISY_CV,
    add_derived_metrics,
    flag_set_table,
    perf_metrics_table,
    perf_support,
    scaling_table,
)

pytestmark = pytest.mark.unit

DATA = Path(__file__).parent / "data"


def run(flag_set, threads, tok_s, status="ok", model="m", partition="p", **figures) -> dict:
    return {
        "sweep_id": "s",
        "partition": partition,
        "model": model,
        "flag_set": flag_set,
        "cflags": "-O3 -fopenmp" if flag_set == "omp" else "-O3",
        "threads": threads,
        "status": status,
        "tok_s": tok_s,
        "steps": 256,
        **figures,
    }


@pytest.fixture
def runs() -> pd.DataFrame:
    records = [
        # omp: t1 10 11 12 (median 11, sample std 1, CV 9.09 %), t2 19 20 21 (CV exactly
        # 5 %: not over the threshold), t4 30 36 (median 33, CV 12.86 %) and a failed run.
        run("omp", 1, 10.0),
        run("omp", 1, 11.0),
        run("omp", 1, 12.0),
        run("omp", 2, 19.0),
        run("omp", 2, 20.0),
        run("omp", 2, 21.0),
        run("omp", 4, 30.0),
        run("omp", 4, 36.0),
        run("omp", 4, 99.0, status="failed"),
        # serial: one run at t1 (no noise estimate).
        run("serial", 1, 5.0),
        # model n, no one-thread run: t2 8, t4 12.
        run("omp", 2, 8.0, model="n"),
        run("omp", 4, 12.0, model="n"),
    ]
    return runs_table([{"index": index, **record} for index, record in enumerate(records)])


def test_repetition_statistics_use_the_sample_standard_deviation(runs):
    table = flag_set_table(runs).set_index(["model", "flag_set", "threads"])
    t1 = table.loc[("m", "omp", 1)]
    assert (t1["median"], t1["min"], t1["max"], t1["mean"]) == (11.0, 10.0, 12.0, 11.0)
    assert t1["cv"] == pytest.approx(1 / 11)  # population std would give 0.0742
    assert t1["noisy"]
    t2 = table.loc[("m", "omp", 2)]
    assert t2["cv"] == 0.05 == NOISY_CV
    assert not t2["noisy"]  # noisy means over 5 %
    t4 = table.loc[("m", "omp", 4)]
    assert (t4["runs_ok"], t4["runs_total"], t4["median"]) == (2, 3, 33.0)
    assert t4["cv"] == pytest.approx(math.sqrt(18) / 33)
    serial = table.loc[("m", "serial", 1)]
    assert math.isnan(serial["cv"])
    assert not serial["noisy"]


def test_thread_scaling_against_one_thread(runs):
    scaling = scaling_table(flag_set_table(runs))
    m = scaling[scaling["model"] == "m"].set_index("threads")
    assert list(m.index) == [1, 2, 4]
    assert list(m["baseline_threads"]) == [1, 1, 1]
    assert list(m["speedup"]) == pytest.approx([1.0, 20 / 11, 3.0])
    assert list(m["efficiency"]) == pytest.approx([1.0, 10 / 11, 0.75])
    assert list(m["best"]) == [False, False, True]
    # serial ran one thread count: no scaling rows.
    assert set(scaling["flag_set"]) == {"omp"}


def test_speedups_carry_their_interval_and_verdict(runs):
    table = flag_set_table(runs)
    # The partition's noise band: the widest half-split, t4's 36 against 30 (+20 %); the
    # 95 % quantile of 3 configurations weighing the same is the largest.
    assert list(table["noise_band"]) == pytest.approx([0.2] * len(table))
    rows = table.set_index(["model", "flag_set", "threads"])
    assert rows.loc[("m", "omp", 1), "speedup_verdict"] == "baseline"
    serial = rows.loc[("m", "serial", 1)]  # one run against omp's three
    assert serial["speedup_verdict_text"] == "too few runs to tell (needs ~3 runs each)"
    m = scaling_table(table)
    m = m[m["model"] == "m"].set_index("threads")
    # 3 runs a side, 10 11 12 against 19 20 21: Welch's 99 % interval on log tok/s is
    # above 1 and the change (1.82x) beyond 2 %: faster. t4 has two ok runs: too few to tell.
    test = stats.ttest_ind(np.log([19, 20, 21]), np.log([10, 11, 12]), equal_var=False)
    interval = np.exp(test.confidence_interval(0.99))
    assert (m.loc[2, "speedup_low"], m.loc[2, "speedup_high"]) == pytest.approx(interval)
    assert interval[0] > 1
    assert m.loc[2, "speedup_verdict"] == "faster"
    assert m.loc[4, "speedup_verdict"] == "too few runs to tell"
    assert m.loc[1, "speedup_verdict"] == "baseline"


def test_thread_scaling_without_a_one_thread_run_uses_the_fewest_threads(runs):
    scaling = scaling_table(flag_set_table(runs))
    n = scaling[scaling["model"] == "n"].set_index("threads")
    assert list(n["baseline_threads"]) == [2, 2]
    assert list(n["speedup"]) == pytest.approx([1.0, 1.5])
    assert list(n["efficiency"]) == pytest.approx([1.0, 0.75])
    assert list(n["best"]) == [False, True]


def test_single_thread_count_gives_an_empty_scaling_table(runs):
    scaling = scaling_table(flag_set_table(runs[runs["threads"] == 1]))
    assert scaling.empty
    assert {"speedup", "efficiency", "best"} <= set(scaling.columns)


def test_derived_metrics_of_the_seed_perf_stat_block():
    figures = parse_perf_stat((DATA / "perf-stat" / "seed-stories15M.txt").read_text())
    runs = add_derived_metrics(runs_table([{"index": 0, "steps": 256, **figures}]))
    row = runs.iloc[0]
    # perf printed "2.001 GHz" and "0.05% of all branches" for this block.
    assert row["ghz"] == pytest.approx(2.00134, rel=1e-5)
    assert row["branch_miss_rate"] == pytest.approx(0.000466746, rel=1e-5)
    assert row["instructions_per_token"] == pytest.approx(568_784_859.06, rel=1e-9)
    assert row["page_faults_per_token"] == pytest.approx(95.57, rel=1e-3)


@pytest.mark.parametrize(
    ("perf_stat", "cache_misses"),
    [
        ("perf-cache-misses-u.txt", 1_987_750),  # printed as cache-misses:u
        ("perf-riscv-sbi-not-counted.txt", None),  # <not counted>
        ("seed-stories15M.txt", None),  # perf's default set: not asked for
    ],
)
def test_cache_misses_per_token_of_real_perf_stat_blocks(perf_stat, cache_misses):
    figures = parse_perf_stat((DATA / "perf-stat" / perf_stat).read_text())
    assert figures["cache_misses"] == cache_misses
    row = add_derived_metrics(runs_table([{"index": 0, "steps": 256, **figures}])).iloc[0]
    if cache_misses is None:
        assert pd.isna(row["cache_misses_per_token"])
    else:
        assert row["cache_misses_per_token"] == pytest.approx(1_987_750 / 256)


def test_derived_metrics_are_nan_without_counters():
    runs = add_derived_metrics(
        runs_table([{"index": 0, "steps": 256, "task_clock_ms": 0.0, "cycles": 5}])
    )
    assert runs[["ghz", "branch_miss_rate", "instructions_per_token"]].isna().all(axis=None)


def test_perf_metrics_are_medians_with_their_range(runs):
    with_perf = runs.assign(
        task_clock_ms=1000.0,
        cycles=[2e9, 3e9, 4e9, *[2e9] * 9],
        instructions=1e9,
    )
    derived = add_derived_metrics(with_perf)
    metrics = perf_metrics_table(derived, flag_set_table(derived))
    t1 = metrics.set_index(["model", "flag_set", "threads"]).loc[("m", "omp", 1)]
    assert t1["perf_runs"] == 3
    assert (t1["ghz"], t1["ghz_min"], t1["ghz_max"]) == (3.0, 2.0, 4.0)
    assert t1["instructions_per_token"] == pytest.approx(1e9 / 256)


def test_unsupported_counters_of_captured_runs(tmp_path):
    sweep = SweepWriter(tmp_path / "sweep")
    for name, partition in [
        ("human", "vm"),
        ("csv", "vm"),
        ("events-u", "chosen"),
        ("killed", "chosen"),  # empty perf.txt: tells nothing
    ]:
        run_dir = sweep.run(partition, "O3", 1, 1, started=False)
        shutil.copytree(DATA / "runs" / name, sweep.results_dir / run_dir)
    runs = add_derived_metrics(collect_runs(sweep.results_dir))
    facts = {"vm": {"perf_unsupported": ["cycles"]}, "nodes": {"perf": False}}
    support = perf_support(runs, facts).set_index("partition")
    vm = support.loc["vm"]
    assert vm["perf_runs"] == 2
    assert vm["not_supported"] == ["cycles", "instructions", "branches", "branch-misses"]
    assert vm["never_measured"] == []
    assert vm["facts_unsupported"] == ["cycles"]
    chosen = support.loc["chosen"]
    assert chosen["perf_runs"] == 1
    assert chosen["not_supported"] == ["cycles:u"]
    # -e task-clock,page-faults,cycles:u: the other counters were not asked for.
    assert chosen["never_measured"] == [
        "context-switches",
        "cpu-migrations",
        "instructions",
        "branches",
        "branch-misses",
    ]
    assert support.loc["nodes", "perf_runs"] == 0  # only in facts


def test_the_practical_threshold_reaches_every_verdict(runs):
    # t2 is 1.82x t1 (interval 1.30-2.56), inside ±200 % but not inside ±2 %: no detectable change
    # at the one, faster at the other, in both tables.
    lenient = flag_set_table(runs, min_effect=2.0)
    m = scaling_table(lenient, min_effect=2.0)
    m = m[m["model"] == "m"].set_index("threads")
    assert m.loc[2, "speedup_verdict"] == "no detectable change"
    assert (
        scaling_table(flag_set_table(runs))
        .set_index(["model", "threads"])
        .loc[("m", 2), "speedup_verdict"]
        == "faster"
    )
