"""The RISC-V tables summary.md and report.html both show, from the emulated partitions'
runs and the build records (collect/builds.py): whether each flag set compiles, runs and
generates tokens under qemu, and what each RISC-V binary holds."""

import pandas as pd

from collect.builds import asks_for_vectors, is_riscv, march, rejection, vector_count
from collect.formatting import cell_text
from collect.runs import STATUS_OK

EMULATED_COLUMNS = ("partition", "flag_set", "compiles", "runs_ok", "runs", "outcome")
RISCV_BUILD_COLUMNS = (
    "partition",
    "flag_set",
    "march",
    "vector_instructions",
    "vectorized_loops",
    "vectors_missing",
    "undecoded_instructions",
)


def emulated_outcomes(emulated: pd.DataFrame, builds: dict[tuple[str, str], dict]) -> pd.DataFrame:
    """Per emulated partition and flag set (emulated: the runs of emulated partitions):
    compiles ("yes", "no" when the compiler rejected it, "?" without a build record),
    runs_ok of runs, and outcome: "ok", or the first failed run's reason. Never a
    performance figure: qemu's tok/s says nothing of the chip. Columns: EMULATED_COLUMNS."""
    records = []
    for (partition, flag_set), rows in emulated.groupby(["partition", "flag_set"], sort=False):
        record = builds.get((partition, flag_set))
        failed = rows[rows["status"] != STATUS_OK]
        records.append(
            {
                "partition": partition,
                "flag_set": flag_set,
                "compiles": "no" if rejection(flag_set, record) else ("yes" if record else "?"),
                "runs_ok": len(rows) - len(failed),
                "runs": len(rows),
                "outcome": "ok" if failed.empty else cell_text(failed["reason"].iloc[0]),
            }
        )
    return pd.DataFrame.from_records(records, columns=list(EMULATED_COLUMNS))


def riscv_builds(builds: dict[tuple[str, str], dict]) -> pd.DataFrame:
    """Per RISC-V build the compiler accepted (emulated or on a cluster's nodes): its
    -march, vector_instructions in the binary and vectorized_loops the compiler reported
    (None when not counted), and vectors_missing: its -march asks for a vector extension
    and the binary holds no vector instruction, so its figures say nothing about what
    vectors do; undecoded_instructions: words the node's objdump could not decode (an
    extension its binutils do not know), which no vector count includes. Columns:
    RISCV_BUILD_COLUMNS."""
    records = [
        {
            "partition": partition,
            "flag_set": flag_set,
            "march": march(record),
            "vector_instructions": vector_count(record),
            "vectorized_loops": record.get("vectorized_loops"),
            "vectors_missing": vector_count(record) == 0
            and asks_for_vectors(march(record))
            and not vector_count(record, "undecoded_instructions"),
            "undecoded_instructions": vector_count(record, "undecoded_instructions"),
        }
        for (partition, flag_set), record in builds.items()
        if is_riscv(record) and not rejection(flag_set, record)
    ]
    # object columns: counts stay ints, a missing one None
    return pd.DataFrame(records, columns=list(RISCV_BUILD_COLUMNS), dtype=object)
