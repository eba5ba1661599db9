"""The memory-bandwidth roofline: bound_tok_s = bandwidth / checkpoint bytes, and the
roofline table's choice of measurement, on figures checked by hand."""

import math

import pandas as pd
import pytest
from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_plan import is_openmp

from collect.roofline import (
    KNOWN_CHECKPOINT_BYTES,
    bound_tok_s,
    checkpoint_bytes_by_model,
    roofline_table,
)
from collect.runs import runs_table
from collect.stats import flag_set_table

pytestmark = pytest.mark.unit


def test_monte_cimone_sifive_bound_from_the_published_stream_figure():
    # 1.1 GB/s STREAM (Monte Cimone v2 paper) over stories15M's 60,816,028 bytes.
    bound = bound_tok_s(1.1, KNOWN_CHECKPOINT_BYTES["stories15M"])
    assert bound == pytest.approx(18.0873, rel=1e-5)
    # The seed measured 17.17 tok/s (-Ofast -fopenmp): 94.9 % of the bound.
    assert 17.170330 / bound == pytest.approx(0.9493, rel=1e-4)


def test_this_machines_bound_for_stories110m():
    # 37 GB/s (two-thread triad over 3 x 64 MiB) over 438,381,596 bytes: 84.40 tok/s; the
    # issue reports llama2.c -Ofast -fopenmp at roughly 70 % of it.
    assert bound_tok_s(37.0, 438_381_596) == pytest.approx(84.4013, rel=1e-5)
    assert bound_tok_s(31.0, 438_381_596) == pytest.approx(70.7146, rel=1e-5)


def test_the_plans_openmp_record_chooses_the_bandwidths_threads():
    # The plan records sweep_plan.is_openmp: -qopenmp, or OpenMP through sweep_ldflags,
    # runs on every thread as -fopenmp does; the roofline takes that record, not the CFLAGS.
    table = configuration_table(
        ("x86", "stories15M", "qomp", "-O3 -qopenmp", 2, 100.0),
        ("x86", "stories15M", "ld", "-O3", 2, 100.0, is_openmp("-O3", "-fopenmp")),
        ("x86", "stories15M", "O3", "-O3", 2, 50.0),
    )
    measured = bandwidth(("x86", 2, "large", 20.0), ("x86", 1, "large", 10.0))
    sizes = {"stories15M": (60_816_028, "plan.json")}
    roofline = roofline_table(table, measured, sizes).set_index("flag_set")
    assert list(roofline["bandwidth_threads"]) == [2, 2, 1]
    assert roofline.loc["O3", "note"].startswith("not an OpenMP build")


def test_checkpoint_bytes_from_plan_json_else_the_published_size():
    runs = pd.DataFrame(
        {
            "model": ["stories15M", "stories15M", "stories42M", "tiny"],
            "checkpoint_bytes": [1000, None, None, None],
        }
    )
    assert checkpoint_bytes_by_model(runs) == {
        "stories15M": (1000, "plan.json"),
        "stories42M": (167_020_572, "published size"),
    }
    without_column = checkpoint_bytes_by_model(pd.DataFrame({"model": ["stories110M"]}))
    assert without_column == {"stories110M": (438_381_596, "published size")}


def bandwidth(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["partition", "threads", "label", "best_gb_s"])


def configuration_table(*rows) -> pd.DataFrame:
    """flag_set_table of one ok run per row (partition, model, flag_set, cflags, threads,
    tok_s[, openmp]); openmp as the plan records it, from the CFLAGS alone by default."""
    records = [
        {
            "index": index,
            "partition": partition,
            "model": model,
            "flag_set": flag_set,
            "cflags": cflags,
            "openmp": openmp[0] if openmp else is_openmp(cflags),
            "threads": threads,
            "status": "ok",
            "tok_s": tok_s,
        }
        for index, (partition, model, flag_set, cflags, threads, tok_s, *openmp) in enumerate(rows)
    ]
    return flag_set_table(runs_table(records))


def test_roofline_table_prefers_the_models_working_set_and_says_when_it_falls_back():
    table = configuration_table(
        ("sg2042", "stories15M", "omp", "-O3 -fopenmp", 64, 150.0),
        ("sg2042", "stories42M", "omp", "-O3 -fopenmp", 64, 40.0),
        ("sg2042", "stories42M", "O3", "-O3", 64, 14.0),
        ("sg2042", "stories42M", "omp", "-O3 -fopenmp", 32, 30.0),
    )
    measured = bandwidth(
        ("sg2042", 64, "large", 20.0),
        ("sg2042", 64, "stories15M", 50.0),  # 60.8 MB fits the 64 MB L3
        ("sg2042", 1, "large", 4.0),
        ("sg2042", 1, "large", 5.0),  # a repeated measurement: the best counts
    )
    sizes = {"stories15M": (60_816_028, "plan.json"), "stories42M": (167_020_572, "x")}
    roofline = roofline_table(table, measured, sizes).set_index(["model", "flag_set", "threads"])

    own = roofline.loc[("stories15M", "omp", 64)]
    assert own["working_set"] == "stories15M"
    assert own["bound_tok_s"] == pytest.approx(50e9 / 60_816_028)  # 822.15
    assert own["fraction"] == pytest.approx(150 / 822.1516, rel=1e-6)
    assert own["large_bound_tok_s"] == pytest.approx(20e9 / 60_816_028)
    assert own["note"] == ""

    fallback = roofline.loc[("stories42M", "omp", 64)]
    assert fallback["working_set"] == "large"
    assert fallback["bound_tok_s"] == pytest.approx(119.7457, rel=1e-6)
    assert fallback["fraction"] == pytest.approx(40 / 119.7457, rel=1e-6)
    assert "large working set" in fallback["note"]

    serial = roofline.loc[("stories42M", "O3", 64)]
    assert (serial["bandwidth_threads"], serial["gb_s"]) == (1, 5.0)
    assert serial["bound_tok_s"] == pytest.approx(29.9364, rel=1e-5)
    assert serial["note"].startswith("not an OpenMP build: one thread's bandwidth")

    missing = roofline.loc[("stories42M", "omp", 32)]
    assert math.isnan(missing["bound_tok_s"]) and math.isnan(missing["fraction"])
    assert missing["note"] == "no bandwidth measurement at 32 threads"


def test_roofline_without_any_bandwidth_measurement():
    table = configuration_table(("local", "stories15M", "omp", "-O3 -fopenmp", 2, 300.0))
    empty = pd.DataFrame(columns=["partition", "threads", "label", "best_gb_s"])
    roofline = roofline_table(table, empty, {"stories15M": (60_816_028, "plan.json")})
    assert len(roofline) == 1
    assert roofline["fraction"].isna().all()
    assert roofline.iloc[0]["note"] == "no bandwidth measurement at 2 threads"
