"""Every table of a sweep's analysis, computed once from the runs table and the sweep's
other files, so summary.md, report.html and the plots show the same figures."""

from dataclasses import dataclass, field
from functools import reduce
from math import gcd

import pandas as pd

from collect.checks import suspects
from collect.drift import drift_table
from collect.findings import Finding, compute_findings
from collect.profiles import parse_folded, top_functions
from collect.roofline import bound_table, checkpoint_bytes_by_model, roofline_table
from collect.runs import emulated_rows
from collect.seed import seed_runs
from collect.stats import (
    flag_set_table,
    noise_bands,
    perf_metrics_table,
    perf_support,
    scaling_table,
)
from collect.sweepfiles import Profile, SweepFiles
from collect.verdicts import COMPARE_MIN_EFFECT

# Rows of each top-functions table in the report.
TOP_FUNCTIONS = 15


@dataclass
class ProfileAnalysis:
    """A profiling run and the top functions of its folded stacks (None without them)."""

    profile: Profile
    top: pd.DataFrame | None
    samples: int  # folded stacks' summed counts
    period: int  # their greatest common divisor (a sample's period when perf printed one)

    @property
    def label(self) -> str:
        info = self.profile.info
        parts = [info.get(key) for key in ("partition", "model", "flag_set")]
        threads = info.get("threads")
        text = " / ".join(str(part) for part in parts if part not in (None, ""))
        if threads not in (None, ""):
            text += " / 1 thread" if threads == 1 else f" / {threads} threads"
        return text or self.profile.dir


@dataclass
class Analysis:
    """The tables of one sweep; runs holds add_derived_metrics's columns. Rows of emulated
    partitions move from runs to emulated: no performance table sees them."""

    runs: pd.DataFrame
    files: SweepFiles = field(default_factory=SweepFiles)
    # The practical threshold of every comparison (verdicts.COMPARE_MIN_EFFECT).
    min_effect: float = COMPARE_MIN_EFFECT
    table: pd.DataFrame = field(init=False)
    scaling: pd.DataFrame = field(init=False)
    roofline: pd.DataFrame = field(init=False)
    perf_metrics: pd.DataFrame = field(init=False)
    perf_support: pd.DataFrame = field(init=False)
    checkpoint_bytes: dict[str, tuple[int, str]] = field(init=False)
    profiles: list[ProfileAnalysis] | None = field(init=False)
    emulated: pd.DataFrame = field(init=False)
    drift: pd.DataFrame = field(init=False)
    noise: pd.DataFrame = field(init=False)
    findings: list[Finding] = field(init=False)
    # (partition, model, flag_set) -> its check's sentence, for each suspect build
    suspect: dict[tuple[str, str, str], str] = field(init=False)

    def __post_init__(self) -> None:
        emulated = emulated_rows(self.runs)
        self.emulated = self.runs[emulated]
        self.runs = self.runs[~emulated]
        self.table = flag_set_table(self.runs, self.min_effect)
        self.scaling = scaling_table(self.table, self.min_effect)
        self.checkpoint_bytes = checkpoint_bytes_by_model(self.runs)
        self.roofline = roofline_table(self.table, self.files.bandwidth, self.checkpoint_bytes)
        self.perf_metrics = perf_metrics_table(self.runs, self.table)
        self.perf_support = perf_support(self.runs, self.files.facts)
        self.drift = drift_table(self.runs)
        self.noise = noise_bands(self.table)
        self.suspect = suspects(self.files.checks)
        self.findings = compute_findings(
            self.table,
            self.scaling,
            self.roofline,
            seed_runs(),
            self.min_effect,
            self.suspect,
        )
        self.profiles = (
            None
            if self.files.profiles is None
            else [_profile_analysis(profile) for profile in self.files.profiles]
        )

    @property
    def bounds(self) -> pd.DataFrame:
        """The memory-bandwidth bounds of the roofline plot (roofline.bound_table)."""
        return bound_table(self.files.bandwidth, self.checkpoint_bytes)

    @property
    def sweep_id(self) -> str:
        ids = list(dict.fromkeys(self.runs["sweep_id"].dropna()))
        return ", ".join(ids) or str(self.files.sweep_json.get("sweep_id") or "?")

    @property
    def partitions(self) -> list[str]:
        """Partitions in the sweep's order (of flag_set_table), then ones only in facts;
        not the emulated ones."""
        emulated = set(self.emulated_partitions)
        names = dict.fromkeys([*self.table["partition"], *self.files.facts])
        return [name for name in names if name not in emulated]

    @property
    def emulated_partitions(self) -> list[str]:
        """The emulated (qemu) partitions: of sweep.json, and of the emulated runs."""
        named = self.files.sweep_json.get("emulated_partitions") or []
        return list(dict.fromkeys([*named, *self.emulated["partition"].dropna()]))

    def single_thread_notes(self, partition: str) -> list[str]:
        """One sentence per flag set of the partition built without OpenMP (plan.json):
        it ran at one thread only, so no best thread count is named for it."""
        return [
            f"{flag_set}: no OpenMP, run at 1 thread only"
            for flag_set in self.files.single_thread_flag_sets.get(partition, [])
        ]

    def flame_graph_status(self) -> str:
        """One line: whether flame graphs were recorded, and why not."""
        reason = self.files.sweep_json.get("profiles_off_reason")
        if self.profiles is None:
            because = f": {reason}" if reason else " (the plan holds no profile task)"
            return f"Flame graphs were not recorded{because}."
        if not self.profiles:
            because = f": {reason}" if reason else ""
            return f"Flame graphs were not recorded: profiles/ is empty{because}."
        ok = [item for item in self.profiles if item.profile.status == "ok"]
        svgs = [item for item in ok if item.profile.svg_text]
        line = (
            f"{len(ok)} of {len(self.profiles)} profiling runs ok, {len(svgs)} with a flame graph"
        )
        methods = sorted(
            {
                f"{item.profile.info.get('event', '?')}, "
                f"{_call_graph_text(item.profile.info.get('call_graph'))}"
                for item in ok
            }
        )
        if methods:
            line += f" (perf record -e {'; '.join(methods)})"
        line += "."
        failures = sorted({item.profile.status for item in self.profiles} - {"ok"})
        if failures:
            line += f" Failed: {'; '.join(failures)}."
        emulated = [
            item
            for item in self.profiles
            if item.profile.status != "ok" and item.profile.info.get("emulated") is True
        ]
        if emulated:
            line += (
                f" {len(emulated)} failed on nodes under qemu-user, which does not emulate "
                "perf_event_open: perf record cannot sample there."
            )
        reasons = sorted({_svg_off_reason(item) for item in ok if not item.profile.svg_text})
        if reasons:
            line += f" Without an SVG ({'; '.join(reasons)}): their top functions are still listed."
        return line


def analyse(
    runs: pd.DataFrame,
    files: SweepFiles | None = None,
    min_effect: float = COMPARE_MIN_EFFECT,
) -> Analysis:
    """The analysis of a runs table (with derived metrics) and the sweep's other files,
    comparisons with the practical threshold min_effect."""
    return Analysis(runs, files or SweepFiles(), min_effect)


def _profile_analysis(profile: Profile) -> ProfileAnalysis:
    if profile.folded_text is None:
        return ProfileAnalysis(profile, None, 0, 0)
    stacks = parse_folded(profile.folded_text)
    counts = [count for _, count in stacks]
    return ProfileAnalysis(profile, top_functions(stacks), sum(counts), reduce(gcd, counts, 0))


def _svg_off_reason(item: ProfileAnalysis) -> str:
    return str(item.profile.info.get("svg_off_reason") or "no flamegraph.svg")


def _call_graph_text(call_graph: object) -> str:
    return {
        "dwarf": "dwarf call graphs",
        "fp": "frame-pointer call graphs (-fno-omit-frame-pointer)",
    }.get(str(call_graph), f"call graph {call_graph}")
