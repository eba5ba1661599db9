"""The seed's published tok/s (collect/reference/seed-throughput.csv) read as a runs table:
what `compare` and the findings hold a sweep against."""

from pathlib import Path

import pandas as pd

from collect.runs import STATUS_OK, runs_table

SEED = "seed"
SEED_REFERENCE = Path(__file__).parent / "reference" / "seed-throughput.csv"


def seed_runs(path: Path = SEED_REFERENCE) -> pd.DataFrame:
    """The seed's published tok/s as a runs table: one ok run per configuration,
    threads unknown (NaN), nproc = the partition's cores."""
    seed = pd.read_csv(path)
    records = [
        {
            "index": position,
            "sweep_id": SEED,
            "partition": row.partition,
            "nproc": row.cores,
            "model": row.model,
            "flag_set": row.flags,
            "cflags": row.cflags,
            "threads": None,
            "repetition": 1,
            "status": STATUS_OK,
            "reason": "",
            "tok_s": row.tok_s,
            "run_dir": f"{path.name}:{position + 2}",
        }
        for position, row in enumerate(seed.itertuples(index=False))
    ]
    return runs_table(records)
