"""report.html: one self-contained page of a sweep's analysis (no network needed).

Plots are PNGs embedded as data URIs. The page runs nothing from the results: its
Content-Security-Policy forbids every network access and every script but FlameGraph's own
(allowed by hash: search and zoom work). Each flame graph is its own document in a
sandboxed frame (`srcdoc`, an opaque origin: it cannot reach the page's DOM or navigate
it; the policy is inherited, so a navigation of the frame itself is refused too). Only an
SVG of FlameGraph's elements is embedded: a `<meta>` refresh or `<link rel=preconnect>`
opens a connection no policy forbids. The frame's URL cannot change, so a one-line shim
makes `history.replaceState` (FlameGraph's way of keeping the zoom in the URL) a no-op
there. Every text from the sweep is escaped, its line breaks and control characters as
character references: no text from the sweep starts a line of the file (written over a
file read by lines, such as authorized_keys, a line of its own would be one of the
attacker's).
"""

import base64
import hashlib
import html
import json
import platform
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd

from collect.analysis import TOP_FUNCTIONS, Analysis, ProfileAnalysis
from collect.checks import flag_set_label
from collect.document import Cell, Code, Facts, Flagged, Section, Table
from collect.formatting import (
    cell_text,
    count_text,
    cv_text,
    decimal_text,
    joined_text,
    known_text,
    percent_text,
    ratio_text,
    runs_ok_text,
    thread_count_text,
)
from collect.perf_metrics import REPORTED_METRICS
from collect.plots import PLOTS_BY_FILE
from collect.riscv import emulated_outcomes, riscv_builds
from collect.sections import (
    checks_section,
    dropped_flag_sets_section,
    failures_section,
    files_not_read_section,
    overview_section,
    warmup_text,
)
from collect.stats import noise_band_text
from collect.verdicts import interval_text

REPORT_FILE = "report.html"
# Control characters, newlines among them, and what else ends a line for some reader: never
# written as they are from the sweep's text into report.html or runs.csv.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f\x85\u2028\u2029]")

_REPLACE_STATE_SHIM = (
    "(function () { var replace = history.replaceState.bind(history);"
    " history.replaceState = function (state, title, url) {"
    " try { replace(state, title, url); } catch (error) {} }; })();"
)
# The script flamegraph.pl writes (its text content: the CDATA markers dropped) at the
# pinned flamegraph_version with profile.sh's options, and its root's onload handler. A new
# flamegraph_version changes the script: tests/test_report_browser.py says the hash to add.
FLAMEGRAPH_SCRIPT_HASHES = ("HU57XJ3OJyar8UQV2tw+JC1WPVuuSgpi4VMQfUV6Zaw=",)
FLAMEGRAPH_ONLOAD = "init(evt)"
# What flamegraph.pl writes (without --nameattr's links): an SVG with any other tag (<meta>,
# <link>, <a>: a connection or a navigation without a script) is not embedded.
_FLAMEGRAPH_ELEMENTS = frozenset(
    ("svg", "defs", "linearGradient", "stop", "style", "script", "rect", "text", "g", "title")
)
_TAG = re.compile(r"</?([A-Za-z][^\s/>]*)")
_SVG_OPEN_TAG = re.compile(r"<svg\b[^>]*>")
_SVG_SIZE = re.compile(r'\b(width|height)="(\d+(?:\.\d+)?)"')


def script_hash(text: str) -> str:
    """A CSP source allowing the script (or event handler) whose text is text."""
    return f"'sha256-{base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()}'"


# No request of any kind (default-src 'none'), images and styles inline only, scripts
# FlameGraph's and the shim's alone. frame-src 'none' still loads the srcdoc frames (no
# request) but refuses any navigation of them; each frame inherits the whole policy.
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "img-src data:",
        "style-src 'unsafe-inline'",
        "script-src 'unsafe-hashes' "
        + " ".join(
            [f"'sha256-{digest}'" for digest in FLAMEGRAPH_SCRIPT_HASHES]
            + [script_hash(FLAMEGRAPH_ONLOAD), script_hash(_REPLACE_STATE_SHIM)]
        ),
        "frame-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    )
)

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1280px;
       padding: 0 1rem; color: #1d1d1f; line-height: 1.4; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 2px solid #ccd; padding-bottom: .2rem;
     margin-top: 2.2rem; } h3 { margin-top: 1.6rem; } h4 { margin: 1rem 0 .3rem; }
table { border-collapse: collapse; margin: .4rem 0 1rem; font-size: .85rem; }
th, td { border: 1px solid #ccd; padding: .2rem .45rem; vertical-align: top; }
th { background: #eef; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
thead ~ tbody td:nth-child(-n+2) { white-space: nowrap; }  /* names in tables */
tr.best td { font-weight: 600; }
.noisy { background: #fde2c8; }
td.failed { background: #f9d6d5; }
.off { background: #fff4d6; border-left: 4px solid #e0a800; padding: .4rem .7rem; }
.note { color: #555; font-size: .85rem; }
.flex { display: flex; gap: 1.5rem; flex-wrap: wrap; align-items: flex-start; }
pre { background: #f6f6f9; padding: .5rem; overflow-x: auto; font-size: .8rem;
      white-space: pre-wrap; word-break: break-all; }
.plots { display: grid; gap: 1.5rem; }
figure { margin: 0; } figcaption { font-weight: 600; margin-bottom: .3rem; }
figcaption .note { font-weight: normal; display: block; }
img.plot { max-width: 100%; border: 1px solid #ddd; }
.flamegraph { overflow-x: auto; border: 1px solid #ddd; }
nav ul { columns: 2; }
code { background: #f3f3f6; padding: 0 .2rem; }
"""


class Html(str):
    """Markup that is already safe: not escaped again."""


def render_report(
    analysis: Analysis,
    plots: Mapping[Path, bytes] | None = None,
    files_not_read: dict[str, str] | None = None,
) -> str:
    """The report page of a sweep (see the module docstring); plots: each plot's path and
    PNG to embed; files_not_read: path -> why (collect/datafiles.py)."""
    partitions = analysis.partitions
    sections: list[tuple[str, str, str]] = [
        ("findings", "Findings", _findings(analysis)),
    ]
    overview = overview_section(analysis)
    sections.append((overview.anchor, overview.title, html_blocks(overview)))
    not_read = files_not_read_section(files_not_read or {})
    if not_read:
        sections.append((not_read.anchor, not_read.title, html_blocks(not_read)))
    sections.append(("plots", "Plots", _plots(plots or {})))
    for number, partition in enumerate(partitions):
        sections.append(
            (f"partition-{number}", f"Partition {partition}", _partition(analysis, partition))
        )
    checks = checks_section(analysis.files.checks)
    if checks:
        sections.append((checks.anchor, checks.title, html_blocks(checks)))
    emulated = emulated_outcomes(analysis.emulated, analysis.files.builds)
    if not emulated.empty:
        sections.append(("emulated", "Emulated (qemu) partitions", _emulated(emulated, analysis)))
    builds = riscv_builds(analysis.files.builds)
    if not builds.empty:
        sections.append(("riscv-builds", "RISC-V builds", _riscv_builds(builds, analysis)))
    orphans = _profiles_of(analysis, None, exclude=partitions)
    if orphans:
        sections.append(("other-profiles", "Other profiles", _profiles_html(orphans)))
    sections.append(("warmup", "Warm-up runs", _warmups(analysis)))
    dropped = dropped_flag_sets_section(analysis.files.dropped_flag_sets)
    if dropped:
        sections.append((dropped.anchor, dropped.title, html_blocks(dropped)))
    failures = failures_section(analysis)
    sections.append((failures.anchor, failures.title, html_blocks(failures)))
    sections.append(("commands", "Commands and versions", _commands(analysis)))
    nav = "".join(
        f'<li><a href="#{anchor}">{escape(title)}</a></li>' for anchor, title, _ in sections
    )
    body = "".join(
        f'<section id="{anchor}"><h2>{escape(title)}</h2>{content}</section>'
        for anchor, title, content in sections
    )
    title = f"llamasweep report: sweep {analysis.sweep_id}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1><nav><ul>{nav}</ul></nav>{body}</body></html>\n"
    )


# --- sections ---------------------------------------------------------------------------


def _findings(analysis: Analysis) -> str:
    items = []
    for finding in analysis.findings:
        support = "; ".join(part for part in (finding.evidence, finding.confidence) if part)
        small = f"<br><small>{escape(support)}</small>" if support else ""
        items.append(
            f"<li><strong>{escape(finding.conclusion)}</strong> {escape(finding.text)}{small}</li>"
        )
    return f"<ul>{''.join(items)}</ul>" if items else "<p>No findings: no run is ok.</p>"


def _plots(plots: Mapping[Path, bytes]) -> str:
    if not plots:
        return "<p>No plots: no run is ok.</p>"
    parts = []
    for path, png in plots.items():
        data = base64.b64encode(png).decode("ascii")
        plot = PLOTS_BY_FILE[path.name]
        title, reading = plot.title, plot.reading
        parts.append(
            f"<figure><figcaption>{escape(title)} (<code>plots/{escape(path.name)}</code>)"
            f'<span class="note">{escape(reading)}</span></figcaption><img class="plot" '
            f'alt="{escape(title)}" src="data:image/png;base64,{data}"></figure>'
        )
    return (
        '<p class="note">A panel per partition and model; a flag set has the same colour '
        "in every panel; error bars are the range (min–max) of the repetitions. Emulated (qemu) "
        "partitions are in no plot.</p>"
        f'<div class="plots">{"".join(parts)}</div>'
    )


def _partition(analysis: Analysis, partition: str) -> str:
    runs = analysis.runs[analysis.runs["partition"] == partition]
    parts = ["<h3>Hardware</h3>", _hardware(analysis, partition, runs)]
    parts += [
        "<h3>Throughput (tok/s)</h3>",
        _throughput(analysis.table, partition, analysis.suspect),
        f'<p class="note">{escape(noise_band_text(analysis.noise, partition))}</p>',
    ]
    scaling = analysis.scaling[analysis.scaling["partition"] == partition]
    notes = analysis.single_thread_notes(partition)
    if not scaling.empty or notes:
        parts += ["<h3>Thread scaling</h3>", _scaling(scaling) if not scaling.empty else ""]
        parts += [f'<p class="note">{escape(note)}.</p>' for note in notes]
    parts += ["<h3>Memory-bandwidth roofline</h3>", _roofline(analysis, partition)]
    parts += ["<h3>perf stat counters</h3>", _perf(analysis, partition)]
    parts += ["<h3>Flame graphs</h3>"]
    profiles = _profiles_of(analysis, partition)
    parts.append(
        _profiles_html(profiles)
        if profiles
        else f'<p class="off">{escape(_no_profiles_line(analysis, partition))}</p>'
    )
    return "".join(parts)


def _hardware(analysis: Analysis, partition: str, runs: pd.DataFrame) -> str:
    facts = analysis.files.facts.get(partition)
    seen = [
        ("hosts that ran benchmarks", joined_text(runs["host"])),
        ("CPU model (runs)", joined_text(runs["cpu_model"])),
        ("nproc (runs)", joined_text(runs["nproc"])),
    ]
    if facts is None:
        return (
            f'<p class="off">No facts/{escape(partition)}.json: the sweep recorded no '
            "hardware facts for this partition.</p>" + _key_values(seen)
        )
    rows = [(key, _value_text(value)) for key, value in facts.items()]
    if "mem_total_kb" in facts and isinstance(facts["mem_total_kb"], int | float):
        rows.append(("memory", f"{facts['mem_total_kb'] / 1024**2:.1f} GiB"))
    return _key_values(rows + seen)


def _throughput(table: pd.DataFrame, partition: str, suspect: dict) -> str:
    rows = table[table["partition"] == partition]
    header = ["model", "flag set", "cflags", "threads", "runs ok", "median", "min", "max"]
    header += ["CV", "speedup", "interval", "verdict"]
    body = []
    for row in rows.itertuples(index=False):
        cv_class = "noisy" if row.noisy else ""
        body.append(
            (
                [
                    row.model,
                    flag_set_label(row.flag_set, partition, row.model, suspect),
                    Html(f"<code>{escape(cell_text(row.cflags))}</code>"),
                    thread_count_text(row.threads),
                    runs_ok_text(row.runs_ok, row.runs_total),
                    decimal_text(row.median),
                    decimal_text(row.min),
                    decimal_text(row.max),
                    cv_text(row.cv, row.noisy),
                    ratio_text(row.speedup),
                    interval_text(row.speedup_low, row.speedup_high),
                    row.speedup_verdict_text,
                ],
                {"CV": cv_class},
                "",
            )
        )
    return _table(header, body, numeric=set(header[3:-1]))


def _scaling(scaling: pd.DataFrame) -> str:
    header = ["model", "flag set", "threads", "median tok/s", "CV", "speedup", "interval"]
    header += ["efficiency", "verdict", "best"]
    body = [
        (
            [
                row.model,
                row.flag_set,
                thread_count_text(row.threads),
                decimal_text(row.median),
                cv_text(row.cv, row.noisy),
                ratio_text(row.speedup) + f" vs {thread_count_text(row.baseline_threads)}",
                interval_text(row.speedup_low, row.speedup_high),
                percent_text(row.efficiency),
                row.speedup_verdict_text,
                "best" if row.best else "",
            ],
            {"CV": "noisy" if row.noisy else ""},
            "best" if row.best else "",
        )
        for row in scaling.itertuples(index=False)
    ]
    return _table(header, body, numeric=set(header[2:8]))


def _roofline(analysis: Analysis, partition: str) -> str:
    rows = analysis.roofline[analysis.roofline["partition"] == partition]
    bandwidth = analysis.files.bandwidth
    measured = bandwidth[bandwidth["partition"] == partition]
    parts = []
    if measured.empty:
        parts.append(
            f'<p class="off">No bandwidth measurement for {escape(partition)} '
            "(bandwidth/*.json): no roofline.</p>"
        )
    header = ["model", "flag set", "threads", "median tok/s", "checkpoint", "working set"]
    header += ["GB/s", "bound tok/s", "of bound", "DRAM GB/s", "DRAM bound", "of DRAM bound"]
    with_notes = bool(rows["note"].astype(bool).any())
    header += ["note"] if with_notes else []
    body = [
        (
            [
                row.model,
                row.flag_set,
                thread_count_text(row.threads),
                decimal_text(row.median),
                _megabytes(row.checkpoint_bytes),
                cell_text(row.working_set) or "—",
                decimal_text(row.gb_s),
                decimal_text(row.bound_tok_s),
                percent_text(row.fraction),
                decimal_text(row.large_gb_s),
                decimal_text(row.large_bound_tok_s),
                percent_text(row.large_fraction),
                *([row.note] if with_notes else []),
            ],
            {},
            "",
        )
        for row in rows.itertuples(index=False)
    ]
    if not measured.empty or not rows["gb_s"].isna().all():
        parts.append(_table(header, body, numeric=set(header[2:12]) - {"working set"}))
    sizes = ", ".join(
        f"{model} {size:,} bytes ({source})"
        for model, (size, source) in analysis.checkpoint_bytes.items()
    )
    if sizes:
        parts.append(f'<p class="note">Checkpoint sizes: {escape(sizes)}.</p>')
    if not measured.empty:
        parts.append("<h4>Bandwidth measurements (STREAM-like triad, best of trials)</h4>")
        measurement_header = ["threads", "working set", "bytes", "best GB/s", "trials", "host"]
        measurement_body = [
            (
                [
                    thread_count_text(row.threads),
                    cell_text(row.label),
                    _megabytes(row.working_set_bytes),
                    decimal_text(row.best_gb_s),
                    count_text(row.trials),
                    cell_text(row.host),
                ],
                {},
                "",
            )
            for row in measured.sort_values(["label", "threads"]).itertuples(index=False)
        ]
        parts.append(
            _table(
                measurement_header,
                measurement_body,
                numeric={"threads", "bytes"} | {"best GB/s", "trials"},
            )
        )
    return "".join(parts)


def _perf(analysis: Analysis, partition: str) -> str:
    support = analysis.perf_support[analysis.perf_support["partition"] == partition]
    parts = []
    if not support.empty:
        row = support.iloc[0]
        lines = []
        if row["perf_runs"] == 0:
            lines.append("No run of this partition has perf stat figures (perf did not run).")
        if row["not_supported"]:
            lines.append(
                "Not supported on this partition (perf printed <not supported> or "
                f"<not counted> in every run): {', '.join(row['not_supported'])}."
            )
        if row["never_measured"]:
            lines.append(
                f"Not measured in any run (not in the event list): "
                f"{', '.join(row['never_measured'])}."
            )
        if row["facts_unsupported"]:
            lines.append(
                "The partition's facts list as unsupported: "
                f"{', '.join(map(str, row['facts_unsupported']))}."
            )
        if row["perf_runs"] and not lines:
            lines.append("Every counter of the event list was counted.")
        warning = bool(row["perf_runs"] == 0 or row["not_supported"])
        parts += [
            f'<p class="{"off" if warning and i == 0 else "note"}">{escape(line)}</p>'
            for i, line in enumerate(lines)
        ]
    metrics = analysis.perf_metrics[analysis.perf_metrics["partition"] == partition]
    metrics = metrics[metrics["perf_runs"] > 0]
    if metrics.empty:
        return "".join(parts)
    shown = [metric for metric in REPORTED_METRICS if metrics[metric.column].notna().any()]
    header = ["model", "flag set", "threads", "perf runs", *[metric.label for metric in shown]]
    body = []
    for row in metrics.to_dict("records"):
        cells = [
            row["model"],
            row["flag_set"],
            thread_count_text(row["threads"]),
            str(row["perf_runs"]),
        ]
        for metric in shown:
            low, high = row[f"{metric.column}_min"], row[f"{metric.column}_max"]
            cells.append(_spread(row[metric.column], low, high, metric.text))
        body.append((cells, {}, ""))
    parts.append(_table(header, body, numeric=set(header[2:])))
    parts.append(
        '<p class="note">Each cell: the median over the ok runs (min–max). Missing columns: '
        "counters with no value in any run.</p>"
    )
    return "".join(parts)


def _profiles_of(
    analysis: Analysis, partition: str | None, exclude: Iterable[str] = ()
) -> list[ProfileAnalysis]:
    if not analysis.profiles:
        return []
    if partition is None:
        excluded = set(exclude)
        return [
            item for item in analysis.profiles if item.profile.info.get("partition") not in excluded
        ]
    return [item for item in analysis.profiles if item.profile.info.get("partition") == partition]


def _no_profiles_line(analysis: Analysis, partition: str) -> str:
    if analysis.profiles is None or not analysis.profiles:
        return analysis.flame_graph_status()
    return f"No profiling run of partition {partition}."


def _profiles_html(profiles: list[ProfileAnalysis]) -> str:
    return "".join(_profile_html(item) for item in profiles)


def _profile_html(item: ProfileAnalysis) -> str:
    profile = item.profile
    info = profile.info
    parts = [f"<h4>{escape(item.label)}</h4>"]
    facts = [
        f"task {profile.dir}",
        *([f"selected as {info['selector']}"] if info.get("selector") else []),
        *([f"its runs' median {info['median']} tok/s"] if "median" in info else []),
        f"event {info.get('event', '?')}",
        f"call graph {info.get('call_graph', '?')}",
        f"{info.get('samples', '?')} samples",
        *([f"{info['duration_s']} s to record and render"] if "duration_s" in info else []),
        f"status {profile.status}",
    ]
    parts.append(f'<p class="note">{escape("; ".join(facts))}</p>')
    if info.get("command"):
        parts.append(f"<pre>{escape(str(info['command']))}</pre>")
    if profile.status != "ok":
        parts.append(f'<p class="off">{escape(f"Profile failed: {profile.status}")}</p>')
    if profile.svg_text:
        parts.append(f'<div class="flamegraph">{_embed_svg(profile.svg_text)}</div>')
    elif profile.status == "ok":
        reason = info.get("svg_off_reason") or "no FlameGraph renderer"
        parts.append(
            f'<p class="off">{escape(f"No flamegraph.svg ({reason})")}: the tables below '
            "are computed from the folded stacks.</p>"
        )
    if item.top is None:
        if profile.status == "ok":
            parts.append('<p class="off">No profile.folded: no top functions.</p>')
        return "".join(parts)
    unit, unit_name = _sample_unit(item, info.get("samples"))
    tables = []
    for title, column in (("by self samples", "self"), ("by total samples", "total")):
        rows = item.top.sort_values(
            [column, "function"], ascending=[False, True], kind="stable"
        ).head(TOP_FUNCTIONS)
        header = ["function", f"self {unit_name}", "self %", f"total {unit_name}", "total %"]
        body = [
            (
                [
                    row.function,
                    f"{row.self / unit:,.0f}",
                    f"{row.self_pct:.1f}",
                    f"{row.total / unit:,.0f}",
                    f"{row.total_pct:.1f}",
                ],
                {},
                "",
            )
            for row in rows.itertuples(index=False)
        ]
        table = _table(header, body, numeric=set(header[1:]))
        tables.append(f"<div><h4>Top functions {title}</h4>{table}</div>")
    parts.append(f'<div class="flex">{"".join(tables)}</div>')
    parts.append(
        '<p class="note">Self: samples where the function is the innermost frame; total: '
        "samples whose stack holds it, once per stack (recursion counted once).</p>"
    )
    return "".join(parts)


def _sample_unit(item: ProfileAnalysis, samples: object) -> tuple[float, str]:
    # stackcollapse-perf.pl counts a sample by its period when perf prints one: when the
    # counts share a period and add up to profile.json's samples, show samples.
    if isinstance(samples, int) and samples > 0:
        for unit in (item.period, 1):
            if unit and item.samples == unit * samples:
                return float(unit), "samples"
    return 1.0, "count"


def _emulated(outcomes: pd.DataFrame, analysis: Analysis) -> str:
    compilers = [
        (
            f"{partition} compiler",
            (analysis.files.facts.get(partition) or {}).get("compiler_version"),
        )
        for partition in analysis.emulated_partitions
    ]
    header = ["partition", "flag set", "compiles", "runs ok", "tokens", "outcome"]
    body = [
        (
            [
                row.partition,
                row.flag_set,
                row.compiles,
                runs_ok_text(row.runs_ok, row.runs),
                "yes" if row.runs_ok else "no",
                row.outcome,
            ],
            {"outcome": "" if row.outcome == "ok" else "failed"},
            "",
        )
        for row in outcomes.itertuples(index=False)
    ]
    return (
        "<p>Whether each flag set compiles, runs and generates tokens under the emulator "
        "(qemu-user). These rows are in no performance table, plot, comparison or "
        "roofline: qemu's speed is not the chip's, and it counts no perf event.</p>"
        + _table(header, body, numeric={"runs ok"})
        + _key_values(compilers)
    )


def _riscv_builds(builds: pd.DataFrame, analysis: Analysis) -> str:
    recorded = {path for path, _ in analysis.files.recorded}
    header = ["partition", "flag set", "-march", "vector instructions", "loops vectorised"]
    header += ["vectors"]
    body = []
    for row in builds.itertuples(index=False):
        report = f"builds/{row.partition}/{row.flag_set}.vec.txt"
        loops = known_text(row.vectorized_loops)
        if report in recorded:
            loops = Html(f'<a href="#{escape(_file_anchor(report))}">{escape(loops)}</a>')
        body.append(
            (
                [
                    row.partition,
                    row.flag_set,
                    Html(f"<code>{escape(row.march or 'default')}</code>"),
                    known_text(row.vector_instructions),
                    loops,
                    "asked for, none in the binary" if row.vectors_missing else "",
                ],
                {"vectors": "failed" if row.vectors_missing else ""},
                "",
            )
        )
    missing = builds[builds["vectors_missing"].astype(bool)]
    warning = (
        f'<p class="off">{escape(", ".join(missing["flag_set"]))}: the -march asks for a '
        "vector extension but the binary holds no vector instruction, so its figures say "
        "nothing about what vectors do.</p>"
        if not missing.empty
        else ""
    )
    return (
        "<p>What each RISC-V binary holds: the vector instructions in it (counted in "
        "<code>objdump -d</code>) and the loops the compiler reported vectorised "
        "(<code>-fopt-info-vec-optimized</code>; the count links to its report).</p>"
        + warning
        + _table(header, body, numeric={"vector instructions", "loops vectorised"})
    )


def _warmups(analysis: Analysis) -> str:
    warmups = analysis.files.warmups
    if warmups is None:
        return "<p>No warm-up runs (the sweep wrote no warmup/ directory).</p>"
    if warmups.empty:
        return "<p>warmup/ is empty.</p>"
    header = ["run", "partition", "model", "flag set", "threads", "status", "tok/s", "reason"]
    body = [
        (
            [
                row.run_dir,
                cell_text(row.partition),
                cell_text(row.model),
                cell_text(row.flag_set),
                thread_count_text(row.threads),
                row.status,
                decimal_text(row.tok_s),
                cell_text(row.reason),
            ],
            {},
            "",
        )
        for row in warmups.itertuples(index=False)
    ]
    return f"<p>{escape(warmup_text(analysis))}</p>" + _table(
        header, body, numeric={"threads", "tok/s"}
    )


def _commands(analysis: Analysis) -> str:
    versions = [
        (
            "collector",
            f"Python {platform.python_version()}, pandas {pd.__version__}, "
            f"numpy {np.__version__}, matplotlib {matplotlib.__version__}",
        ),
        ("report written", datetime.now(UTC).isoformat(timespec="seconds")),
    ]
    sweep = analysis.files.sweep_json
    for key in ("compiler", "ldflags", "flag_sets", "threads", "run_prefix", "prompt"):
        if key in sweep:
            versions.append((f"sweep.json {key}", _value_text(sweep[key])))
    parts = [_key_values(versions)]
    if not analysis.files.recorded:
        parts.append('<p class="off">No sweep.json, scripts or builds/ records found.</p>')
    for path, text in analysis.files.recorded:
        short = len(text) < 2000 and path.startswith("builds/")
        parts.append(
            f'<details id="{escape(_file_anchor(path))}"{" open" if short else ""}>'
            f"<summary><code>{escape(path)}</code></summary><pre>{escape(text)}</pre></details>"
        )
    return "".join(parts)


# --- helpers ----------------------------------------------------------------------------


def escape(text: str) -> str:
    """text as HTML text or attribute value, on one line of the file (a line break shows as
    one: a character reference)."""
    return CONTROL_CHARACTERS.sub(lambda match: f"&#{ord(match.group())};", html.escape(text))


def html_blocks(section: Section) -> str:
    """The paragraphs, tables and facts of a section of the document model
    (collect/document.py) as HTML; its title is the caller's heading."""
    parts = []
    for block in section.blocks:
        if isinstance(block, Table):
            body = [
                (
                    [_html_cell(cell) for cell in row],
                    {
                        name: "failed"
                        for name, cell in zip(block.header, row, strict=True)
                        if isinstance(cell, Flagged)
                    },
                    "",
                )
                for row in block.rows
            ]
            numeric = set(block.header[block.numeric_from :])
            parts.append(_table(block.header, body, numeric))
        elif isinstance(block, Facts):
            parts.append(
                _key_values((_html_cell(name), _html_cell(value)) for name, value in block.pairs)
            )
        else:
            parts.append(f"<p>{escape(block)}</p>")
    return "".join(parts)


def _html_cell(cell: Cell) -> object:
    """A cell's content; a flagged cell's highlight is its <td>'s class (html_blocks)."""
    if isinstance(cell, Code):
        return Html(f"<code>{escape(cell.text)}</code>")
    return cell.text if isinstance(cell, Flagged) else cell


def _file_anchor(path: str) -> str:
    """The id of a recorded file's block in "Commands and versions"."""
    return "file-" + re.sub(r"[^A-Za-z0-9._/-]", "_", path)


def _embed_svg(svg_text: str) -> str:
    match = _SVG_OPEN_TAG.search(svg_text)
    if match is None:
        return '<p class="off">flamegraph.svg holds no &lt;svg&gt; element.</p>'
    foreign = sorted({name for name in _TAG.findall(svg_text)} - _FLAMEGRAPH_ELEMENTS)
    if foreign:
        elements = ", ".join(f"<{name}>" for name in foreign)
        return (
            f'<p class="off">{escape(f"flamegraph.svg not shown: it holds {elements}")}, '
            "which FlameGraph does not write.</p>"
        )
    size = dict(_SVG_SIZE.findall(match.group(0)))
    width, height = size.get("width", "1200"), size.get("height", "600")
    document = (
        f"<!DOCTYPE html><html><head><script>{_REPLACE_STATE_SHIM}</script></head>"
        f'<body style="margin:0">{svg_text[match.start() :]}</body></html>'
    )
    # No allow-same-origin, allow-top-navigation or allow-popups; allow-modals for the
    # prompt of FlameGraph's search.
    return (
        f'<iframe sandbox="allow-scripts allow-modals" width="{width}" height="{height}" '
        f'title="flame graph" srcdoc="{escape(document)}"></iframe>'
    )


def _table(
    header: Sequence[str],
    body: Iterable[tuple[list[object], dict[str, str], str]],
    numeric: set[str],
) -> str:
    """An HTML table; body rows are (cells, column -> extra cell class, row class)."""
    head = "".join(f"<th>{escape(name)}</th>" for name in header)
    rows = []
    for cells, cell_classes, row_class in body:
        tds = []
        for name, cell in zip(header, cells, strict=True):
            classes = " ".join(
                part
                for part in ("num" if name in numeric else "", cell_classes.get(name, ""))
                if part
            )
            attribute = f' class="{classes}"' if classes else ""
            tds.append(f"<td{attribute}>{_cell(cell)}</td>")
        attribute = f' class="{row_class}"' if row_class else ""
        rows.append(f"<tr{attribute}>{''.join(tds)}</tr>")
    if not rows:
        return '<p class="note">(no rows)</p>'
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _key_values(rows: Iterable[tuple[object, object]]) -> str:
    cells = "".join(
        f"<tr><th>{_cell(key)}</th><td>{_cell(value)}</td></tr>"
        for key, value in rows
        if value not in (None, "")
    )
    return f"<table>{cells}</table>"


def _cell(value: object) -> str:
    if isinstance(value, Html):
        return str(value)
    return escape(cell_text(value))


def _value_text(value: object) -> str:
    if isinstance(value, list):
        return (
            ", ".join(map(str, value))
            if all(not isinstance(v, dict | list) for v in value)
            else json.dumps(value)
        )
    if isinstance(value, dict):
        return json.dumps(value)
    return cell_text(value)


def _megabytes(value: object) -> str:
    return "—" if value is None or pd.isna(value) else f"{value / 1e6:,.1f} MB"


def _spread(median: float, low: float, high: float, text: Callable[[float], str]) -> str:
    if pd.isna(median):
        return "—"
    if pd.isna(low) or pd.isna(high) or low == high:
        return text(median)
    return f"{text(median)} ({text(low)}–{text(high)})"
