"""Findings: short sentences computed from a sweep's tables, each with its evidence and
its confidence, written only when the data supports them (otherwise the sentence says
what is missing). summary.md and report.html open with them.

Per partition and model:

- fastest: the configuration with the highest median, how it compares with the baseline
  (the first flag set at its fewest threads) and whether it is ahead of the runner-up;
- flags: each flag set at its best thread count against the baseline flag set, and every
  one-flag change (two flag sets whose cflags differ by one word added or replaced),
  grouped into help, hurt, no detectable change and too few runs to tell;
- scaling: for the fastest OpenMP flag set that ran several thread counts, the thread
  count where parallel efficiency falls below EFFICIENCY_THRESHOLD and whether the step to
  it still gains anything detectable;
- roofline: whether the fastest configuration is near its memory-bandwidth bound
  (NEAR_BOUND) or far from it (FAR_BOUND), by the interval of its median over the bound;

and per partition, how the sweep compares with the seed's published single runs.
Every comparison is verdicts.compare_samples, with the partition's measured noise band.
"""

from dataclasses import dataclass

import pandas as pd

from collect.compare import flags_keys
from collect.roofline import uses_openmp
from collect.verdicts import (
    CONFIDENCE,
    FASTER,
    NO_CHANGE,
    SLOWER,
    TOO_FEW,
    Verdict,
    compare_samples,
    median_interval,
)

# Parallel efficiency (speedup / thread ratio) below which more threads stop paying: more
# than half of the added cores' time is lost.
EFFICIENCY_THRESHOLD = 0.5
# Fractions of the memory-bandwidth bound: at or above NEAR_BOUND the configuration is
# memory-bound, below FAR_BOUND far from it (compute- or latency-bound).
NEAR_BOUND = 0.7
FAR_BOUND = 0.4

_LEVEL = f"{100 * CONFIDENCE:.0f} %"


@dataclass(frozen=True)
class Finding:
    """One sentence: topic (fastest, flags, scaling, roofline, seed), where it holds, the
    sentence, its evidence (the figures), its confidence (the statistics), and whether
    the data supports it (False: the text says what is missing)."""

    topic: str
    partition: str
    model: str | None
    text: str
    evidence: str = ""
    confidence: str = ""
    supported: bool = True


def compute_findings(
    table: pd.DataFrame,
    scaling: pd.DataFrame,
    roofline: pd.DataFrame,
    seed: pd.DataFrame | None = None,
) -> list[Finding]:
    """The findings of a sweep from stats.flag_set_table, stats.scaling_table,
    roofline.roofline_table and the seed's published runs (compare.seed_runs; None: no
    seed comparison)."""
    findings: list[Finding] = []
    measured = table[table["runs_ok"] > 0]
    for (partition, model), rows in measured.groupby(["partition", "model"], sort=False):
        findings.append(_fastest(partition, model, rows))
        findings.append(_flag_changes(partition, model, rows))
        findings.append(_scaling(partition, model, rows, scaling))
        findings.append(_roofline(partition, model, rows, roofline))
    if seed is not None:
        findings += _seed(measured, seed)
    return findings


def _fastest(partition: str, model: str, rows: pd.DataFrame) -> Finding:
    where = f"{model} on {partition}"
    ranked = rows.sort_values("median", ascending=False, kind="stable")
    best = ranked.iloc[0]
    baseline = _baseline(rows)
    if _same(best, baseline):
        return Finding(
            "fastest",
            partition,
            model,
            f"{where}: the baseline {_name(best)} is the fastest configuration run "
            f"({best['median']:.2f} tok/s).",
            _runs(best),
        )
    verdict = compare_samples(baseline["samples"], best["samples"], best["noise_band"])
    text = (
        f"{where}: the fastest configuration is {_name(best)}, {best['median']:.2f} tok/s, "
        f"{verdict.ratio:.2f}× the baseline {_name(baseline)} ({_judged(verdict)})"
    )
    runner_up = ranked.iloc[1]
    if not _same(runner_up, baseline):  # else the comparison above says it
        lead = compare_samples(runner_up["samples"], best["samples"], best["noise_band"])
        if lead.verdict == FASTER:
            text += f"; ahead of the runner-up {_name(runner_up)} by {lead.ratio:.2f}×"
        else:
            text += (
                f"; not distinguishable from the runner-up {_name(runner_up)} "
                f"({lead.ratio:.2f}×, {lead.text})"
            )
    return Finding(
        "fastest",
        partition,
        model,
        text + ".",
        f"{_runs(best)}; baseline {_runs(baseline)}",
        _confidence(verdict),
        verdict.verdict != TOO_FEW,
    )


def _flag_changes(partition: str, model: str, rows: pd.DataFrame) -> Finding:
    where = f"{model} on {partition}"
    best = rows[rows["best"]].drop_duplicates("flag_set")
    flag_sets = _flag_set_order(best)
    if len(flag_sets) < 2:
        return Finding(
            "flags",
            partition,
            model,
            f"{where}: one flag set ran, no flag change to judge.",
            supported=False,
        )
    by_name = {row["flag_set"]: row for _, row in best.iterrows()}
    pairs = [(flag_sets[0], other) for other in flag_sets[1:]]
    pairs += [
        (first, second)
        for position, first in enumerate(flag_sets)
        for second in flag_sets[position + 1 :]
        if (first, second) not in pairs and _one_flag_apart(by_name[first], by_name[second])
    ]
    groups: dict[str, list[str]] = {FASTER: [], SLOWER: [], NO_CHANGE: [], TOO_FEW: []}
    for first, second in pairs:
        a, b = by_name[first], by_name[second]
        verdict = compare_samples(a["samples"], b["samples"], b["noise_band"])
        groups[verdict.verdict].append(
            f"{_change(a, b)} {verdict.ratio:.2f}× ({_LEVEL} interval {verdict.interval}"
            + (f", {verdict.needs}" if verdict.needs else "")
            + ")"
        )
    labels = {
        FASTER: "help",
        SLOWER: "hurt",
        NO_CHANGE: "no detectable change",
        TOO_FEW: "too few runs to tell",
    }
    parts = [f"{labels[key]}: {'; '.join(items)}" for key, items in groups.items() if items]
    decided = sum(len(groups[key]) for key in (FASTER, SLOWER, NO_CHANGE))
    return Finding(
        "flags",
        partition,
        model,
        f"{where}, flag changes (each flag set at its best thread count): "
        + " — ".join(parts)
        + ".",
        f"{decided} of {len(pairs)} comparisons decided",
        f"{_LEVEL} bootstrap intervals of the ratio of medians against the noise band "
        f"±{100 * best['noise_band'].iloc[0]:.1f} %"
        if pd.notna(best["noise_band"].iloc[0])
        else f"{_LEVEL} bootstrap intervals; noise band not measured (1 % floor)",
        decided > 0,
    )


def _scaling(partition: str, model: str, rows: pd.DataFrame, scaling: pd.DataFrame) -> Finding:
    where = f"{model} on {partition}"
    candidates = scaling[
        (scaling["partition"] == partition)
        & (scaling["model"] == model)
        & ~scaling["cflags"].map(uses_openmp).eq(False)  # None (unknown cflags): kept
    ]
    if candidates.empty:
        return Finding(
            "scaling",
            partition,
            model,
            f"{where}: no OpenMP flag set ran several thread counts, no thread scaling to judge.",
            supported=False,
        )
    fastest = candidates.loc[candidates["median"].idxmax(), "flag_set"]
    curve = candidates[candidates["flag_set"] == fastest].sort_values("threads")
    base = int(curve["baseline_threads"].iloc[0])
    below = curve[curve["efficiency"] < EFFICIENCY_THRESHOLD]
    evidence = ", ".join(
        f"{int(row.threads)}: {row.speedup:.2f}× ({row.efficiency:.0%})"
        for row in curve.itertuples(index=False)
    )
    if below.empty:
        last = curve.iloc[-1]
        verdict = compare_samples(curve["samples"].iloc[0], last["samples"], last["noise_band"])
        return Finding(
            "scaling",
            partition,
            model,
            f"{where}: {fastest} still scales at {int(last['threads'])} threads, the most run: "
            f"{last['speedup']:.2f}× over {_threads(base)} ({_judged(verdict)}), efficiency "
            f"{last['efficiency']:.0%} (not below {EFFICIENCY_THRESHOLD:.0%}).",
            f"speedup (efficiency) by threads: {evidence}",
            _confidence(verdict),
            verdict.verdict != TOO_FEW,
        )
    knee = below.iloc[0]
    before = curve[curve["threads"] < knee["threads"]].iloc[-1]
    step = compare_samples(before["samples"], knee["samples"], knee["noise_band"])
    gain = (
        f"{int(knee['threads'])} threads against {int(before['threads'])}: "
        f"{step.ratio:.2f}× ({_judged(step)})"
    )
    return Finding(
        "scaling",
        partition,
        model,
        f"{where}: thread scaling of {fastest} stops paying after {_threads(before['threads'])}: "
        f"at {int(knee['threads'])} threads the efficiency is {knee['efficiency']:.0%} (below "
        f"{EFFICIENCY_THRESHOLD:.0%}); {gain}.",
        f"speedup (efficiency) by threads over {_threads(base)}: {evidence}",
        _confidence(step),
    )


def _roofline(partition: str, model: str, rows: pd.DataFrame, roofline: pd.DataFrame) -> Finding:
    where = f"{model} on {partition}"
    best = rows.sort_values("median", ascending=False, kind="stable").iloc[0]
    match = roofline[
        (roofline["partition"] == partition)
        & (roofline["model"] == model)
        & (roofline["flag_set"] == best["flag_set"])
        & (roofline["threads"] == best["threads"])
    ]
    if match.empty or pd.isna(match["fraction"].iloc[0]):
        note = match["note"].iloc[0] if not match.empty else "no bandwidth measurement"
        return Finding(
            "roofline",
            partition,
            model,
            f"{where}: whether {_name(best)} is memory-bound is unknown ({note}).",
            supported=False,
        )
    bound = match.iloc[0]
    low, high = (value / bound["bound_tok_s"] for value in median_interval(best["samples"]))
    fraction = bound["fraction"]
    evidence = (
        f"{best['median']:.2f} tok/s against a bound of {bound['bound_tok_s']:.2f} tok/s "
        f"({bound['gb_s']:.2f} GB/s at {_threads(bound['bandwidth_threads'])}, "
        f"{bound['working_set']} working set, "
        f"over {int(bound['checkpoint_bytes']):,} bytes a token)"
    )
    if pd.isna(low):
        low = high = fraction
        confidence = f"{int(best['runs_ok'])} ok run(s): no interval of the median"
    else:
        confidence = f"{_LEVEL} interval of the fraction {low:.0%}–{high:.0%}"
    at = f"{where}: {_name(best)} runs at {fraction:.0%} of its memory-bandwidth bound"
    if low >= NEAR_BOUND:
        text = (
            f"{at}: memory-bound; more threads or faster code will not help much, fewer bytes "
            "a token (a smaller or quantised model) would"
            + (" (above the bound: part of the weights is served from cache)" if low > 1 else "")
        )
    elif high < FAR_BOUND:
        text = f"{at}: far from it, limited by computation (or latency), not by memory bandwidth"
    elif low < FAR_BOUND and high >= NEAR_BOUND:
        text = f"{at}, but its interval is too wide to tell whether it is memory-bound"
        return Finding("roofline", partition, model, text + ".", evidence, confidence, False)
    else:
        text = (
            f"{at}: neither clearly memory-bound (≥ {NEAR_BOUND:.0%}) nor far from it "
            f"(< {FAR_BOUND:.0%})"
        )
    return Finding("roofline", partition, model, text + ".", evidence, confidence)


def _seed(measured: pd.DataFrame, seed: pd.DataFrame) -> list[Finding]:
    published = list(dict.fromkeys(seed["partition"]))
    partitions = [p for p in dict.fromkeys(measured["partition"]) if p in published]
    measured = measured.assign(flags=flags_keys(measured))
    seed = seed.assign(flags=flags_keys(seed))
    if not partitions:
        return [
            Finding(
                "seed",
                "",
                None,
                "No partition of this sweep is one the seed published figures for "
                f"({', '.join(published)}): nothing to compare with its tables.",
                supported=False,
            )
        ]
    findings = []
    for partition in partitions:
        items, missing = [], []
        sweep = measured[measured["partition"] == partition]
        for row in seed[seed["partition"] == partition].itertuples(index=False):
            same = sweep[(sweep["model"] == row.model) & (sweep["flags"] == row.flags)]
            if same.empty:
                missing.append(f"{row.model} {row.cflags}")
                continue
            cores = int(row.nproc) if pd.notna(row.nproc) else None
            at_cores = same[same["threads"] == cores] if cores else same.iloc[0:0]
            ours = (at_cores if not at_cores.empty else same[same["best"]].head(1)).iloc[0]
            low, high = median_interval(ours["samples"])
            if pd.isna(low):
                place = "no interval (fewer than 3 ok runs)"
            elif row.tok_s < low:
                place = "below this sweep's interval"
            elif row.tok_s > high:
                place = "above this sweep's interval"
            else:
                place = "inside this sweep's interval"
            interval = "" if pd.isna(low) else f" [{low:.2f}–{high:.2f}]"
            items.append(
                f"{row.model} {row.cflags} at {_threads(ours['threads'])}: "
                f"{ours['median']:.2f}{interval} against {row.tok_s:.2f} "
                f"({ours['median'] / row.tok_s:.2f}×, the seed's figure {place})"
            )
        text = f"Against the seed's published tok/s on {partition}: " + (
            "; ".join(items) if items else "no configuration of the seed's ran"
        )
        if missing:
            text += f"; not run here: {', '.join(missing)}"
        findings.append(
            Finding(
                "seed",
                partition,
                None,
                text + ".",
                "the seed: one run per configuration, threads not recorded (every core)",
                f"{_LEVEL} bootstrap interval of this sweep's median; a single published run "
                "has no interval of its own",
                bool(items),
            )
        )
    return findings


def _flag_set_order(rows: pd.DataFrame) -> list[str]:
    # The sweep's order of flag sets: by their first run.
    return list(rows.groupby("flag_set")["declared_order"].min().sort_values(kind="stable").index)


def _baseline(rows: pd.DataFrame) -> pd.Series:
    """The first flag set (the sweep's order) at its fewest threads."""
    first = rows[rows["flag_set"] == _flag_set_order(rows)[0]]
    return first.sort_values("threads", kind="stable").iloc[0]


def _same(a: pd.Series, b: pd.Series) -> bool:
    return a["flag_set"] == b["flag_set"] and a["threads"] == b["threads"]


def _name(row: pd.Series) -> str:
    return f"{row['flag_set']} at {_threads(row['threads'])}"


def _threads(threads: object) -> str:
    if pd.isna(threads):  # a runs table not from a plan (the history's) may not know it
        return "an unknown thread count"
    return "1 thread" if threads == 1 else f"{int(threads)} threads"


def _runs(row: pd.Series) -> str:
    return f"{_name(row)}: median {row['median']:.2f} tok/s over {int(row['runs_ok'])} ok runs"


def _judged(verdict: Verdict) -> str:
    if verdict.verdict == TOO_FEW:
        return f"{_LEVEL} interval {verdict.interval}: {verdict.text}"
    return f"{_LEVEL} interval {verdict.interval}: {verdict.verdict}"


def _confidence(verdict: Verdict) -> str:
    text = f"{_LEVEL} bootstrap interval {verdict.interval}, noise band ±{100 * verdict.band:.1f} %"
    if not pd.isna(verdict.p_value):
        text += f", Mann-Whitney p = {verdict.p_value:.2g}"
    return text


def _words(row: pd.Series) -> set[str]:
    cflags = row["cflags"]
    return set(cflags.split()) if isinstance(cflags, str) else {row["flag_set"]}


def _one_flag_apart(a: pd.Series, b: pd.Series) -> bool:
    removed, added = _words(a) - _words(b), _words(b) - _words(a)
    return len(removed) <= 1 and len(added) <= 1 and bool(removed | added)


def _change(a: pd.Series, b: pd.Series) -> str:
    removed = " ".join(sorted(_words(a) - _words(b)))
    added = " ".join(sorted(_words(b) - _words(a)))
    if not removed:
        words = f"adding {added}"
    elif not added:
        words = f"removing {removed}"
    else:
        words = f"{removed} → {added}"
    return f"{a['flag_set']} → {b['flag_set']} ({words})"
