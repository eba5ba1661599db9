"""The drift of tok/s over a sweep (collect/drift.py) on constructed runs tables with known
answers: one drifting, one flat, one too short to tell."""

import numpy as np
import pandas as pd
import pytest

from collect.analysis import analyse
from collect.drift import drift_sentence, drift_table
from collect.report import render_report
from collect.runs import runs_table
from collect.stats import add_derived_metrics
from collect.summary import render_summary

pytestmark = pytest.mark.unit

START = pd.Timestamp("2026-11-27T13:00:00.000+00:00")
FLAG_SETS = ["O3", "O3-openmp", "Ofast-openmp"]
THREADS = [1, 2, 4]


def constructed_runs(drift, rounds=4, noise=0.003, seconds_apart=10, partition="p", seed=0):
    """Runs of 9 configurations (one model, 3 flag sets x 3 thread counts), rounds one
    after another, each round shuffled, started seconds_apart; tok/s = the configuration's
    level x (1 + drift x elapsed / span) x (1 + noise): drift is the change from the
    first start to the last."""
    generator = np.random.default_rng(seed)
    configurations = [(f, t) for f in FLAG_SETS for t in THREADS]
    span = (rounds * len(configurations) - 1) * seconds_apart
    rows = []
    for repetition in range(1, rounds + 1):
        for position in generator.permutation(len(configurations)):
            flag_set, threads = configurations[position]
            elapsed = len(rows) * seconds_apart
            level = 50.0 * (1 + position) * (1 + drift * elapsed / span)
            rows.append(
                {
                    "index": len(rows),
                    "partition": partition,
                    "model": "stories15M",
                    "flag_set": flag_set,
                    "threads": threads,
                    "repetition": repetition,
                    "status": "ok",
                    "tok_s": level * (1 + generator.normal(0, noise)),
                    "start_time": (START + pd.Timedelta(seconds=elapsed)).isoformat(),
                }
            )
    return pd.DataFrame(rows)


@pytest.mark.parametrize("drift", [-0.06, 0.03])
def test_a_drifting_sweep_has_a_detectable_drift_whose_interval_covers_the_true_one(drift):
    (row,) = drift_table(constructed_runs(drift)).itertuples(index=False)
    # each run is compared with its configuration's median, the level of mid-sweep: the
    # true change over the sweep relative to it
    true = drift / (1 + drift / 2)
    assert row.low <= true <= row.high, row
    assert row.detectable and np.sign(row.drift) == np.sign(drift)
    assert (row.configurations, row.runs, row.span_s) == (9, 4 * 9, (4 * 9 - 1) * 10)
    sentence = drift_sentence(row)
    assert sentence.startswith(f"tok/s drifted by {row.drift * 100:+.1f} % over the sweep")
    assert f"{100 * row.level:.1f} % interval" in sentence and row.level >= 0.95
    assert "36 ok runs of 9 configurations over 6 min" in sentence
    assert drift_table(constructed_runs(drift)).equals(drift_table(constructed_runs(drift)))


def test_a_flat_sweep_has_no_detectable_drift():
    (row,) = drift_table(constructed_runs(0.0)).itertuples(index=False)
    assert row.low <= 0 <= row.high and not row.detectable
    assert drift_sentence(row).startswith(f"no detectable drift ({row.drift * 100:+.1f} %")


def test_one_disturbed_run_does_not_make_a_drift():
    runs = constructed_runs(0.0)
    runs.loc[len(runs) - 1, "tok_s"] *= 0.5  # the last run shared the node with a compile
    (row,) = drift_table(runs).itertuples(index=False)
    assert not row.detectable, row


def test_runs_that_cannot_show_drift_say_so():
    once = constructed_runs(-0.06, rounds=1)  # every configuration its own median
    failed = constructed_runs(0.0, partition="q").assign(status="failed")
    (first, second) = drift_table(pd.concat([once, failed])).itertuples(index=False)
    assert (first.partition, first.runs, second.partition, second.runs) == ("p", 0, "q", 0)
    assert np.isnan(first.drift) and not first.detectable
    assert drift_sentence(first).startswith("too few runs to tell drift (0 configurations")
    # two configurations run twice: a slope each, too few for an interval
    two = constructed_runs(-0.06)
    two = two[two["flag_set"].eq("O3") & two["threads"].le(2) & two["repetition"].le(2)]
    (row,) = drift_table(two).itertuples(index=False)
    assert (row.configurations, row.runs) == (2, 4) and np.isnan(row.drift)
    # runs without a readable start time are left out
    unknown = constructed_runs(-0.06).assign(start_time=None)
    (row,) = drift_table(unknown).itertuples(index=False)
    assert row.runs == 0 and np.isnan(row.drift)


def test_the_summary_has_a_drift_line_per_partition():
    runs = pd.concat([constructed_runs(-0.06), constructed_runs(0.0, partition="q", seed=1)])
    records = runs.assign(sweep_id="s", index=range(len(runs))).to_dict("records")
    analysis = analyse(add_derived_metrics(runs_table(records)))
    summary = render_summary(analysis)
    section = summary.split("## Drift over the sweep\n")[1].split("\n## ")[0]
    lines = [line for line in section.splitlines() if line.startswith("- ")]
    assert lines[0].startswith("- `p`: tok/s drifted by -")
    assert lines[1].startswith("- `q`: no detectable drift (")
    # report.html's overview says the same
    report = render_report(analysis)
    (drift_row,) = [row for row in report.split("<tr>") if "drift over the sweep" in row]
    assert "p: tok/s drifted by -" in drift_row and "q: no detectable drift (" in drift_row
