"""The files of a results directory beside runs/ (docs/results-layout.md): sweep.json,
the scripts that ran, builds/, and the characterisation files facts/, bandwidth/,
warmup/ and profiles/. Every reader tolerates a missing or malformed file: the report
then says what is missing instead of failing. Only regular text files inside the results
directory are read (collect/datafiles.py).
"""

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from collect.datafiles import read_text
from collect.profiles import fold_perf_script, format_folded
from collect.roofline import BANDWIDTH_COLUMNS
from collect.runs import (
    RunFiles,
    SweepFacts,
    read_manifest_lines,
    read_run_files,
    read_sweep_facts,
    run_record,
    runs_table,
    slurm_facts,
    slurm_status,
)

# Longest text of one recorded file shown in the report (a manifest of 10,000 runs is
# not): longer files are cut, saying so.
MAX_RECORDED_TEXT = 20_000

# `perf script` output of a profiling run, folded by the collector when the run has no
# profile.folded: the sweep leaves it when FlameGraph could not fold it on the node.
PERF_SCRIPT_FILE = "perf.script"
# Run names of the manifest's profiling lines: profile/<name> runs in profiles/<name>/.
PROFILE_PREFIX = "profile/"


@dataclass
class Profile:
    """One profiling run, profiles/<run_name>/."""

    run_name: str
    info: dict  # profile.json
    folded_text: str | None
    svg_text: str | None

    @property
    def status(self) -> str:
        """ "ok", or why the profile failed (profile.json's status, else what is missing)."""
        if not self.info:
            return "no profile.json"
        return str(self.info.get("status") or "no status in profile.json")


@dataclass
class SweepFiles:
    """Everything of a results directory that is not a benchmark run."""

    sweep_json: dict = field(default_factory=dict)
    facts: dict[str, dict] = field(default_factory=dict)
    bandwidth: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(columns=list(BANDWIDTH_COLUMNS))
    )
    warmups: pd.DataFrame | None = None
    profiles: list[Profile] | None = None  # None: no profiles/ directory
    recorded: list[tuple[str, str]] = field(default_factory=list)  # (path, text)


def read_sweep_files(results_dir: Path) -> SweepFiles:
    """Read the non-run files of a results directory."""
    return SweepFiles(
        sweep_json=_read_json_object(results_dir / "sweep.json", results_dir) or {},
        facts=read_facts(results_dir),
        bandwidth=read_bandwidth(results_dir),
        warmups=read_warmups(results_dir),
        profiles=read_profiles(results_dir),
        recorded=read_recorded(results_dir),
    )


def read_facts(results_dir: Path) -> dict[str, dict]:
    """partition -> facts/<partition>.json (the partition named by the file)."""
    return {
        path.stem: facts
        for path in _sorted_files(results_dir / "facts", ".json")
        if (facts := _read_json_object(path, results_dir)) is not None
    }


def read_bandwidth(results_dir: Path) -> pd.DataFrame:
    """One row per bandwidth/*.json measurement (BANDWIDTH_COLUMNS, then file)."""
    records = []
    for path in _sorted_files(results_dir / "bandwidth", ".json"):
        measurement = _read_json_object(path, results_dir)
        if measurement is None:
            continue
        records.append(
            {column: measurement.get(column) for column in BANDWIDTH_COLUMNS}
            | {"file": f"bandwidth/{path.name}"}
        )
    table = pd.DataFrame.from_records(records, columns=[*BANDWIDTH_COLUMNS, "file"])
    for column in ("threads", "working_set_bytes", "trials"):
        table[column] = pd.to_numeric(table[column], errors="coerce").astype("Int64")
    table["best_gb_s"] = pd.to_numeric(table["best_gb_s"], errors="coerce").astype("float64")
    return table


def read_warmups(results_dir: Path) -> pd.DataFrame | None:
    """The warm-up runs under warmup/ as runs rows (run_dir = warmup/<name>); None when
    the sweep made no warm-up runs. They are never rows of runs.csv."""
    warmup_dir = results_dir / "warmup"
    if not warmup_dir.is_dir():
        return None
    sweep = SweepFacts(results_dir.resolve().name, {}, {}, {})
    records = []
    for entry in sorted(os.scandir(warmup_dir), key=lambda entry: entry.name):
        if not entry.is_dir():
            continue
        files: RunFiles = read_run_files(entry.path, results_dir)
        record = run_record(files, sweep)
        record["run_dir"] = f"warmup/{entry.name}"
        records.append(record)
    return runs_table(records)


def read_profiles(results_dir: Path) -> list[Profile] | None:
    """The profiling runs, by name: every directory under profiles/ and every profile/ line
    of the manifest. One that left no profile.json gets the manifest's facts and a status
    saying why (the scheduler's view on Slurm: timeout, cancelled, ...). None when the sweep
    planned none and wrote no profiles/ directory."""
    profiles_dir = results_dir / "profiles"
    planned = {
        fields[1].removeprefix(PROFILE_PREFIX): meta
        for fields, meta in read_manifest_lines(
            read_text(results_dir / "manifest.tsv", results_dir) or ""
        )
        if fields[1].startswith(PROFILE_PREFIX)
    }
    if not planned and not profiles_dir.is_dir():
        return None
    started = (
        {path.name for path in profiles_dir.iterdir() if path.is_dir()}
        if profiles_dir.is_dir()
        else set()
    )
    sweep = None  # read once, when a profile needs the scheduler's view
    profiles = []
    for name in sorted(started | planned.keys()):
        path = profiles_dir / name
        info = _read_json_object(path / "profile.json", results_dir)
        if info is None:
            sweep = sweep or read_sweep_facts(results_dir)
            status = _unfinished_status(
                path, results_dir, name in started, planned.get(name, {}), sweep
            )
            info = {**planned.get(name, {}), "status": status}
        profiles.append(
            Profile(
                run_name=name,
                info=info,
                folded_text=_folded_text(path, results_dir),
                svg_text=read_text(path / "flamegraph.svg", results_dir),
            )
        )
    return profiles


def _unfinished_status(
    path: Path, results_dir: Path, started: bool, planned: dict, sweep: SweepFacts
) -> str:
    """Why a profiling run left no profile.json."""
    slurm_text = read_text(path / "slurm.out", results_dir)
    files = RunFiles(path.name, started=started, slurm_text=slurm_text)
    scheduled = slurm_status(files, slurm_facts(planned, sweep))
    if scheduled is not None:
        return scheduled[1]
    if started:
        return "profiling run did not finish (no profile.json)"
    return "profiling run never started (no directory under profiles/)"


def _folded_text(profile_dir: Path, results_dir: Path) -> str | None:
    # profile.folded, else the collector folds `perf script` output left as perf.script
    # (for nodes without FlameGraph's stackcollapse-perf.pl).
    folded = read_text(profile_dir / "profile.folded", results_dir)
    if folded is not None:
        return folded
    script = read_text(profile_dir / PERF_SCRIPT_FILE, results_dir)
    return None if script is None else format_folded(fold_perf_script(script))


def read_recorded(results_dir: Path) -> list[tuple[str, str]]:
    """(path relative to results_dir, text) of the files that say exactly what ran:
    sweep.json, the rendered scripts (*.sh), the first lines of manifest.tsv, and every
    builds/ record (compile commands, compiler versions). Long files are cut."""
    paths = [results_dir / "sweep.json", *_sorted_files(results_dir, ".sh")]
    paths += sorted(path for path in (results_dir / "builds").rglob("*") if path.is_file())
    recorded = []
    for path in paths:
        text = read_text(path, results_dir)
        if text is not None:
            recorded.append((path.relative_to(results_dir).as_posix(), _cut(text)))
    manifest = read_text(results_dir / "manifest.tsv", results_dir)
    if manifest is not None:
        lines = manifest.splitlines()
        head = "\n".join(lines[:3])
        more = f"\n… ({len(lines)} lines in all, one a run)" if len(lines) > 3 else ""
        recorded.append(("manifest.tsv", head + more))
    return recorded


def _cut(text: str) -> str:
    if len(text) <= MAX_RECORDED_TEXT:
        return text
    return text[:MAX_RECORDED_TEXT] + f"\n… (cut: {len(text):,} characters in all)"


def _sorted_files(directory: Path, suffix: str) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if path.suffix == suffix and path.is_file())


def _read_json_object(path: Path, results_dir: Path) -> dict | None:
    text = read_text(path, results_dir)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None
