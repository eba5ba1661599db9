"""Findings on constructed sweeps whose answers are known: one memory-bound, one
compute-bound (the same runs under a far higher bandwidth), one whose thread scaling has
a knee, one against the seed's published figures, and one that supports no sentence."""

import math

import numpy as np
import pandas as pd
import pytest
from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_plan import is_openmp
from scipy.stats import norm

from collect.analysis import analyse
from collect.checks import SUSPECT, Check
from collect.findings import NEAR_BOUND
from collect.report import render_report
from collect.roofline import KNOWN_CHECKPOINT_BYTES, bound_tok_s
from collect.runs import runs_table
from collect.stats import add_derived_metrics
from collect.summary import render_summary
from collect.sweepfiles import SweepFiles
from collect.verdicts import prediction_interval

pytestmark = pytest.mark.unit

MODEL = "stories15M"
CFLAGS = {"O3": "-O3", "O3-openmp": "-O3 -fopenmp", "Ofast": "-Ofast -fopenmp"}
REPETITIONS = 5
SPREAD = 0.01  # relative standard deviation of a configuration's runs


def ideal(median: float, runs: int = REPETITIONS, spread: float = SPREAD) -> list[float]:
    """runs evenly spaced quantiles of a normal distribution around median: no luck."""
    return list(median * (1 + spread * norm.ppf((np.arange(runs) + 0.5) / runs)))


def sweep(
    medians: dict[tuple[str, int], float],
    partition: str = "p",
    runs: int = REPETITIONS,
    spread: float = SPREAD,
):
    """A runs table: for each (flag set, threads) its median, runs ideal runs, rounds of
    repetitions in the sweep's order."""
    records = []
    for repetition in range(runs):
        for (flag_set, threads), median in medians.items():
            records.append(
                {
                    "index": len(records),
                    "sweep_id": "s",
                    "partition": partition,
                    "model": MODEL,
                    "flag_set": flag_set,
                    "cflags": CFLAGS[flag_set],
                    "openmp": is_openmp(CFLAGS[flag_set]),  # as the plan records it
                    "threads": threads,
                    "repetition": repetition + 1,
                    "status": "ok",
                    "tok_s": ideal(median, runs, spread)[repetition],
                    "steps": 256,
                }
            )
    return add_derived_metrics(runs_table(records))


def bandwidth(gb_s: float, threads: list[int], partition: str = "p") -> SweepFiles:
    rows = [
        {
            "partition": partition,
            "threads": count,
            "label": MODEL,
            "working_set_bytes": KNOWN_CHECKPOINT_BYTES[MODEL],
            "best_gb_s": gb_s,
            "trials": 5,
            "host": "h",
            "file": f"bandwidth/{count}.json",
        }
        for count in threads
    ]
    return SweepFiles(bandwidth=pd.DataFrame(rows))


# O3 (serial) 20 tok/s; OpenMP 20, 38, 72 at 1, 2, 4 threads; Ofast the same as O3-openmp.
SCALING = {
    ("O3", 1): 20.0,
    ("O3-openmp", 1): 20.0,
    ("O3-openmp", 2): 38.0,
    ("O3-openmp", 4): 72.0,
    ("Ofast", 1): 20.0,
    ("Ofast", 2): 38.0,
    ("Ofast", 4): 72.0,
}
FASTEST = 72.0


def by_topic(findings, topic):
    (finding,) = [item for item in findings if item.topic == topic]
    return finding


def gb_s_for(fraction: float) -> float:
    """The bandwidth at which the fastest configuration reaches fraction of its bound."""
    return FASTEST / fraction * KNOWN_CHECKPOINT_BYTES[MODEL] / 1e9


def test_memory_bound_sweep():
    files = bandwidth(gb_s_for(0.9), [1, 2, 4])
    findings = analyse(sweep(SCALING), files).findings
    roofline = by_topic(findings, "roofline")
    assert roofline.supported
    assert (
        roofline.conclusion
        == "O3-openmp at 4 threads is memory-bound (90% of its bandwidth bound)."
    )
    assert "at 4 threads runs at 90% of its memory-bandwidth bound" in roofline.text
    bound = bound_tok_s(gb_s_for(0.9), KNOWN_CHECKPOINT_BYTES[MODEL])
    assert f"bound of {bound:.2f} tok/s" in roofline.evidence

    fastest = by_topic(findings, "fastest")
    assert "against the baseline O3 at 1 thread" in fastest.text
    assert ": faster)" in fastest.text
    # O3-openmp and Ofast at 4 threads are the same distribution: no clear winner, so
    # not "the fastest", and not supported.
    assert "not distinguishable from the runner-up" in fastest.text
    assert fastest.conclusion.startswith("O3-openmp at 4 threads has the highest median: 3.6")
    assert fastest.conclusion.endswith("× O3 at 1 thread, faster.")
    assert not fastest.supported

    flags = by_topic(findings, "flags")
    assert "help: O3 → O3-openmp (adding -fopenmp)" in flags.text
    assert "O3-openmp → Ofast (-O3 → -Ofast)" in flags.text
    assert "help: O3 → O3-openmp" in flags.text and "hurt" not in flags.text

    scaling = by_topic(findings, "scaling")
    assert scaling.supported
    assert scaling.conclusion == (
        "O3-openmp still scales at 4 threads, the most run: every step is faster."
    )
    assert "4 threads against 2 threads: 1.89× (99 % interval" in scaling.text
    assert f"4: {72 / 20:.2f}× ({72 / 20 / 4:.0%})" in scaling.evidence


def test_compute_bound_sweep():
    files = bandwidth(gb_s_for(0.1), [1, 2, 4])
    roofline = by_topic(analyse(sweep(SCALING), files).findings, "roofline")
    assert roofline.supported
    assert roofline.conclusion.endswith("is far from its bandwidth bound (10% of it).")
    assert "runs at 10% of its memory-bandwidth bound: limited by computation" in roofline.text


def test_a_roofline_interval_too_wide_to_tell():
    # 40 % spread, 3 runs: the fastest's median interval spans far and near alike.
    files = bandwidth(gb_s_for(0.6), [1, 2, 4])
    roofline = by_topic(analyse(sweep(SCALING, runs=3, spread=0.4), files).findings, "roofline")
    assert not roofline.supported
    assert roofline.text.endswith("but its interval is too wide to tell.")
    # 3 runs: the range of the runs, which holds the median 75 % of the time, says so.
    assert roofline.confidence.startswith("75.0 % interval of the fraction")


def test_in_between_says_neither():
    files = bandwidth(gb_s_for((NEAR_BOUND + 0.4) / 2), [1, 2, 4])
    roofline = by_topic(analyse(sweep(SCALING), files).findings, "roofline")
    assert "is neither clearly memory-bound nor far from its bound" in roofline.conclusion


def test_scaling_knee_comes_from_decided_steps():
    # 1, 2, 4, 8, 16 threads: each step decided faster up to 8 threads; 16 gives the same
    # as 8 (no gain): scaling stops paying after 8 threads only because that step is
    # decided "no detectable change" (20 runs a side at 0.2 % spread).
    medians = {("O3-openmp", threads): tok_s for threads, tok_s in
               [(1, 20.0), (2, 39.0), (4, 74.0), (8, 85.0), (16, 85.0)]}  # fmt: skip
    scaling = by_topic(analyse(sweep(medians, runs=20, spread=0.002)).findings, "scaling")
    assert scaling.supported
    assert scaling.conclusion == (
        "O3-openmp stops paying after 8 threads: 16 threads give 1.00×, no detectable change."
    )
    # The same curve at 5 runs and 1 % spread: the 8 -> 16 step is not decided, and the
    # finding says so instead of placing a knee.
    noisy = by_topic(analyse(sweep(medians)).findings, "scaling")
    assert not noisy.supported
    assert noisy.conclusion.startswith(
        "Whether O3-openmp gains from 16 threads over 8 threads is not decided (too few runs"
    )


def test_against_the_seed():
    # The seed: -O3 4.79, -O3 -fopenmp 16.98 tok/s on mcimone-nodes (4 cores).
    runs = sweep({("O3", 1): 6.0, ("O3-openmp", 4): 17.0}, partition="mcimone-nodes")
    runs["nproc"] = 4
    (seed,) = [item for item in analyse(runs).findings if item.topic == "seed"]
    assert seed.supported
    assert seed.conclusion == "1 of 2 of the seed's figures lie outside where a run here lands."
    assert "stories15M -O3 at 1 thread: median 6.00, a run lands in " in seed.text
    assert "against 4.79 (1.25×, the seed's figure below where a run here lands)" in seed.text
    assert "stories15M -O3 -fopenmp at 4 threads: median 17.00" in seed.text
    assert "(1.00×, the seed's figure where a run here lands)" in seed.text
    assert "not run here: stories15M -Ofast -fopenmp, stories42M -O3" in seed.text
    assert "prediction intervals of a single run here" in seed.confidence


def test_against_the_seed_with_the_thread_count_unknown():
    """A run whose thread count was not recorded has no best thread count: the seed's figure
    is still placed against its configuration, and the only configuration is said to be the
    only one (both raised IndexError)."""
    runs = sweep({("O3", 1): 6.0}, partition="mcimone-nodes")
    runs["threads"] = None
    (seed,) = [item for item in analyse(runs).findings if item.topic == "seed"]
    assert "stories15M -O3 at an unknown thread count: median 6.00" in seed.text
    (fastest,) = [item for item in analyse(runs).findings if item.topic == "fastest"]
    assert fastest.conclusion == "O3 at an unknown thread count is the only configuration run."


def test_a_single_run_lands_in_the_prediction_interval_as_often_as_it_says():
    # Runs and one more run from the same lognormal distribution: the 99 % prediction
    # interval holds the extra run about 99 % of the time (a median interval would not).
    rng = np.random.default_rng(5)
    samples = rng.lognormal(0, 0.05, (2000, 4))
    inside = [
        low <= one <= high for *runs, one in samples for low, high in [prediction_interval(runs)]
    ]
    assert 0.985 <= np.mean(inside) <= 0.995


def test_data_that_supports_no_sentence_says_what_is_missing():
    # Two flag sets, one run each, one thread count, no bandwidth, a partition the seed
    # never ran on.
    findings = analyse(sweep({("O3", 1): 20.0, ("O3-openmp", 1): 21.0}, runs=1)).findings
    assert not any(finding.supported for finding in findings)
    fastest = by_topic(findings, "fastest")
    assert "too few runs to tell (needs ~3 runs each)" in fastest.text
    assert fastest.conclusion == (
        "O3-openmp at 1 thread has the highest median: 1.05× O3 at 1 thread, too few runs to "
        "tell (needs ~3 runs each)."
    )
    assert "no OpenMP flag set ran several thread counts" in by_topic(findings, "scaling").text
    roofline = by_topic(findings, "roofline")
    assert roofline.conclusion == "Whether O3-openmp at 1 thread is memory-bound is unknown."
    assert roofline.text.endswith("no bandwidth measurement at 1 threads.")
    assert by_topic(findings, "seed").conclusion == "Nothing to compare with the seed's tables."
    single = analyse(sweep({("O3", 1): 20.0})).findings
    assert by_topic(single, "flags").conclusion == "No flag change to judge."


def test_a_suspect_flag_set_is_never_called_the_fastest():
    runs = sweep({("O3", 1): 20.0, ("Ofast", 1): 80.0})
    check = Check("p", MODEL, "Ofast", "p/O3", SUSPECT, "suspect: diverges at word 1 of 32", "d")
    fastest = by_topic(analyse(runs, SweepFiles(checks=[check])).findings, "fastest")
    assert not fastest.supported
    assert fastest.conclusion == (
        "Ofast at 1 thread has the highest median, but its output is suspect: not ranked."
    )
    assert "its check run: suspect: diverges at word 1 of 32" in fastest.text
    checked = analyse(runs, SweepFiles(checks=[check]))
    assert "| Ofast (suspect output) |" in render_summary(checked)
    assert "<td>Ofast (suspect output)</td>" in render_report(checked)
    unchecked = by_topic(analyse(runs).findings, "fastest")
    assert unchecked.conclusion.startswith("Ofast at 1 thread is the fastest: ")


def test_a_baseline_that_is_fastest_is_said_so_only_when_decided():
    ahead = by_topic(analyse(sweep({("O3", 1): 30.0, ("O3-openmp", 1): 20.0})).findings, "fastest")
    assert ahead.supported
    assert ahead.conclusion == (
        "The baseline O3 at 1 thread is the fastest: 1.50× the runner-up O3-openmp at 1 "
        "thread, faster."
    )
    close = by_topic(analyse(sweep({("O3", 1): 20.2, ("O3-openmp", 1): 20.0})).findings, "fastest")
    assert not close.supported
    assert close.conclusion.startswith("The baseline O3 at 1 thread has the highest median: ")
    alone = by_topic(analyse(sweep({("O3", 1): 20.0})).findings, "fastest")
    assert (
        not alone.supported and alone.conclusion == "O3 at 1 thread is the only configuration run."
    )


def test_findings_are_reproducible():
    files = bandwidth(gb_s_for(0.9), [1, 2, 4])
    assert analyse(sweep(SCALING), files).findings == analyse(sweep(SCALING), files).findings


def test_runs_that_stopped_early_are_named_and_left_out_of_the_comparisons():
    runs = sweep({("O3", 1): 20.0, ("Ofast", 1): 80.0})
    assert "stopped early" not in render_summary(analyse(runs))
    runs["stopped_early"] = runs["flag_set"] == "Ofast"
    summary = render_summary(analyse(runs))
    assert f"{REPETITIONS} runs stopped early (run.c sampled BOS" in summary
    assert "stopped_early): Ofast at 1 thread." in summary
    # Their tok/s is over fewer tokens: left out of every statistic and comparison.
    assert "Ofast at 1 thread is the fastest" in render_summary(
        analyse(sweep({("O3", 1): 20.0, ("Ofast", 1): 80.0}))
    )
    assert "Ofast at 1 thread is the fastest" not in summary
    table = analyse(runs).table.set_index("flag_set")
    assert table.loc["Ofast", "runs_ok"] == 0 and math.isnan(table.loc["Ofast", "median"])
    assert table.loc["O3", "runs_ok"] == REPETITIONS
