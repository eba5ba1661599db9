"""Findings: short sentences computed from a sweep's tables, each opening with its
conclusion in one sentence, then its evidence (the figures) and its confidence (the
statistics); marked supported only when the verdicts it rests on decided. summary.md and
report.html open with them.

Per partition and model:

- fastest: the configuration with the highest median against the baseline (the first
  flag set at its fewest threads) and the runner-up; "is the fastest" only when both
  comparisons say faster (the baseline itself: faster than the runner-up);
- flags: each flag set at its best thread count against the baseline flag set, and every
  one-flag change (two flag sets whose cflags differ by one word added or replaced),
  grouped into help, hurt, no detectable change and too few runs to tell;
- scaling: for the fastest OpenMP flag set that ran several thread counts, each step to
  the next thread count judged by its verdict: scaling "stops paying" after a thread
  count only when the step from it is decided no detectable change or slower, "still
  scales" only when every step is decided faster, otherwise it is not decided;
- roofline: whether the fastest configuration is near its memory-bandwidth bound
  (NEAR_BOUND) or far from it (FAR_BOUND), by the interval of its median over the bound;

and per partition, how the sweep compares with the seed's published single runs: each
against the prediction interval of a single run here (verdicts.prediction_interval).
Every comparison is verdicts.compare_samples.
"""

from dataclasses import dataclass
from itertools import pairwise

import pandas as pd

from collect.comparison import flags_keys
from collect.formatting import decimal_text, ratio_text, threads_text
from collect.verdicts import (
    COMPARE_MIN_EFFECT,
    CONFIDENCE_TEXT,
    FASTER,
    NO_CHANGE,
    SLOWER,
    TOO_FEW,
    Verdict,
    compare_samples,
    interval_text,
    median_interval,
    prediction_interval,
)

# Fractions of the memory-bandwidth bound: at or above NEAR_BOUND the configuration is
# memory-bound, below FAR_BOUND far from it (compute- or latency-bound).
NEAR_BOUND = 0.7
FAR_BOUND = 0.4


@dataclass(frozen=True)
class Finding:
    """One finding: topic (fastest, flags, scaling, roofline, seed), where it holds, its
    conclusion (one short sentence), the sentence with the details, its evidence (the
    figures), its confidence (the statistics), and whether the data supports it (False:
    the verdicts it rests on did not decide, or the text says what is missing)."""

    topic: str
    partition: str
    model: str | None
    conclusion: str
    text: str
    evidence: str = ""
    confidence: str = ""
    supported: bool = True


def compute_findings(
    table: pd.DataFrame,
    scaling: pd.DataFrame,
    roofline: pd.DataFrame,
    seed: pd.DataFrame | None = None,
    min_effect: float = COMPARE_MIN_EFFECT,
    suspect: dict[tuple[str, str, str], str] | None = None,
) -> list[Finding]:
    """The findings of a sweep from stats.flag_set_table, stats.scaling_table,
    roofline.roofline_table and the seed's published runs (seed.seed_runs; None: no
    seed comparison); comparisons with the practical threshold min_effect. suspect:
    (partition, model, flag_set) -> its check's sentence (checks.suspects), for builds
    whose greedy text says they compute something else: never called the fastest."""
    findings: list[Finding] = []
    measured = table[table["runs_ok"] > 0]
    for (partition, model), rows in measured.groupby(["partition", "model"], sort=False):
        findings.append(_fastest(partition, model, rows, min_effect, suspect or {}))
        findings.append(_flag_changes(partition, model, rows, min_effect))
        findings.append(_scaling(partition, model, scaling, min_effect))
        findings.append(_roofline(partition, model, rows, roofline))
    if seed is not None:
        findings += _seed(measured, seed)
    return findings


def _fastest(
    partition: str, model: str, rows: pd.DataFrame, min_effect: float, suspect: dict
) -> Finding:
    where = f"{model} on {partition}"
    ranked = rows.sort_values("median", ascending=False, kind="stable")
    best = ranked.iloc[0]
    check = suspect.get((partition, model, best["flag_set"]))
    if check is not None:
        return Finding(
            "fastest",
            partition,
            model,
            f"{_name(best)} has the highest median, but its output is suspect: not ranked.",
            f"{where}: {decimal_text(best['median'])} tok/s; its check run: {check}.",
            _runs(best),
            supported=False,
        )
    baseline = _baseline(rows)
    if _same(best, baseline):
        if len(ranked) == 1:
            return Finding(
                "fastest",
                partition,
                model,
                f"{_name(best)} is the only configuration run.",
                f"{where}: {decimal_text(best['median'])} tok/s.",
                _runs(best),
                supported=False,
            )
        runner_up = ranked.iloc[1]
        lead = compare_samples(runner_up["samples"], best["samples"], min_effect)
        claim = "is the fastest" if lead.verdict == FASTER else "has the highest median"
        return Finding(
            "fastest",
            partition,
            model,
            f"The baseline {_name(best)} {claim}: {ratio_text(lead.ratio)} the runner-up "
            f"{_name(runner_up)}, {lead.text}.",
            f"{where}: {decimal_text(best['median'])} tok/s.",
            f"{_runs(best)}; runner-up {_runs(runner_up)}",
            _confidence(lead),
            lead.verdict == FASTER,
        )
    verdict = compare_samples(baseline["samples"], best["samples"], min_effect)
    text = (
        f"{where}: {_name(best)}, {decimal_text(best['median'])} tok/s, against the baseline "
        f"{_name(baseline)} ({_judged(verdict)})"
    )
    ahead = True
    runner_up = ranked.iloc[1]
    if not _same(runner_up, baseline):  # else the comparison above says it
        lead = compare_samples(runner_up["samples"], best["samples"], min_effect)
        ahead = lead.verdict == FASTER
        if ahead:
            text += f"; ahead of the runner-up {_name(runner_up)} by {ratio_text(lead.ratio)}"
        else:
            text += (
                f"; not distinguishable from the runner-up {_name(runner_up)} "
                f"({ratio_text(lead.ratio)}, {lead.text})"
            )
    decided = verdict.verdict == FASTER and ahead
    claim = "is the fastest" if decided else "has the highest median"
    return Finding(
        "fastest",
        partition,
        model,
        f"{_name(best)} {claim}: {ratio_text(verdict.ratio)} {_name(baseline)}, {verdict.text}.",
        text + ".",
        f"{_runs(best)}; baseline {_runs(baseline)}",
        _confidence(verdict),
        decided,
    )


def _flag_changes(partition: str, model: str, rows: pd.DataFrame, min_effect: float) -> Finding:
    where = f"{model} on {partition}"
    best = rows[rows["best"]].drop_duplicates("flag_set")
    flag_sets = _flag_set_order(best)
    if len(flag_sets) < 2:
        return Finding(
            "flags",
            partition,
            model,
            "No flag change to judge.",
            f"{where}: one flag set ran.",
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
        verdict = compare_samples(a["samples"], b["samples"], min_effect)
        groups[verdict.verdict].append(
            f"{_change(a, b)} {ratio_text(verdict.ratio)} "
            f"({CONFIDENCE_TEXT} interval {verdict.interval}"
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
    counts = ", ".join(
        f"{len(groups[key])} {labels[key]}" for key in (FASTER, SLOWER, NO_CHANGE) if groups[key]
    )
    return Finding(
        "flags",
        partition,
        model,
        f"{decided} of {len(pairs)} flag changes decided" + (f": {counts}." if counts else "."),
        f"{where}, flag changes (each flag set at its best thread count): "
        + " — ".join(parts)
        + ".",
        f"{decided} of {len(pairs)} comparisons decided",
        f"{CONFIDENCE_TEXT} intervals of the ratio of geometric means "
        "(Welch's t-test on log tok/s)",
        decided > 0,
    )


def _scaling(partition: str, model: str, scaling: pd.DataFrame, min_effect: float) -> Finding:
    where = f"{model} on {partition}"
    candidates = scaling[
        (scaling["partition"] == partition)
        & (scaling["model"] == model)
        & ~scaling["openmp"].map(lambda openmp: openmp is False)  # None (not recorded): kept
    ]
    if candidates.empty:
        return Finding(
            "scaling",
            partition,
            model,
            "No thread scaling to judge.",
            f"{where}: no OpenMP flag set ran several thread counts.",
            supported=False,
        )
    fastest = candidates.loc[candidates["median"].idxmax(), "flag_set"]
    curve = candidates[candidates["flag_set"] == fastest].sort_values("threads")
    base = int(curve["baseline_threads"].iloc[0])
    evidence = f"median speedup (efficiency) by threads over {threads_text(base)}: " + ", ".join(
        f"{int(row.threads)}: {ratio_text(row.speedup)} ({row.efficiency:.0%})"
        for row in curve.itertuples(index=False)
    )
    steps = list(pairwise(curve.to_dict("records")))
    for before, after in steps:
        step = compare_samples(before["samples"], after["samples"], min_effect)
        if step.verdict == FASTER:
            continue
        gain = (
            f"{threads_text(after['threads'])} against {threads_text(before['threads'])}: "
            f"{ratio_text(step.ratio)} ({_judged(step)})"
        )
        if step.verdict == TOO_FEW:
            return Finding(
                "scaling",
                partition,
                model,
                f"Whether {fastest} gains from {threads_text(after['threads'])} over "
                f"{threads_text(before['threads'])} is not decided ({step.text}).",
                f"{where}: {gain}.",
                evidence,
                _confidence(step),
                supported=False,
            )
        return Finding(
            "scaling",
            partition,
            model,
            f"{fastest} stops paying after {threads_text(before['threads'])}: "
            f"{threads_text(after['threads'])} give {ratio_text(step.ratio)}, {step.verdict}.",
            f"{where}: {gain}.",
            evidence,
            _confidence(step),
        )
    last = curve.iloc[-1]
    step = compare_samples(steps[-1][0]["samples"], last["samples"], min_effect)
    return Finding(
        "scaling",
        partition,
        model,
        f"{fastest} still scales at {threads_text(last['threads'])}, the most run: every step "
        "is faster.",
        f"{where}: {threads_text(last['threads'])} against "
        f"{threads_text(steps[-1][0]['threads'])}: {ratio_text(step.ratio)} ({_judged(step)}).",
        evidence,
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
            f"Whether {_name(best)} is memory-bound is unknown.",
            f"{where}: {note}.",
            supported=False,
        )
    bound = match.iloc[0]
    low, high, level = median_interval(best["samples"])
    low, high = low / bound["bound_tok_s"], high / bound["bound_tok_s"]
    fraction = bound["fraction"]
    evidence = (
        f"{decimal_text(best['median'])} tok/s against a bound of "
        f"{decimal_text(bound['bound_tok_s'])} tok/s "
        f"({decimal_text(bound['gb_s'])} GB/s at {threads_text(bound['bandwidth_threads'])}, "
        f"{bound['working_set']} working set, "
        f"over {int(bound['checkpoint_bytes']):,} bytes a token)"
    )
    if pd.isna(low):
        low = high = fraction
        confidence = f"{int(best['runs_ok'])} ok run(s): no interval of the median"
    else:
        confidence = (
            f"{100 * level:.1f} % interval of the fraction {low:.0%}–{high:.0%} (order "
            "statistics of the runs: the level they reach)"
        )
    at = f"{where}: {_name(best)} runs at {fraction:.0%} of its memory-bandwidth bound"
    name = _name(best)
    if low >= NEAR_BOUND:
        conclusion = f"{name} is memory-bound ({fraction:.0%} of its bandwidth bound)."
        text = (
            f"{at}: more threads or faster code will not help much, fewer bytes a token (a "
            "smaller or quantised model) would"
            + (" (above the bound: part of the weights is served from cache)" if low > 1 else "")
        )
    elif high < FAR_BOUND:
        conclusion = f"{name} is far from its bandwidth bound ({fraction:.0%} of it)."
        text = f"{at}: limited by computation (or latency), not by memory bandwidth"
    elif low < FAR_BOUND and high >= NEAR_BOUND:
        conclusion = f"Whether {name} is memory-bound is not decided ({fraction:.0%} of its bound)."
        text = f"{at}, but its interval is too wide to tell"
        return Finding(
            "roofline", partition, model, conclusion, text + ".", evidence, confidence, False
        )
    else:
        conclusion = f"{name} is neither clearly memory-bound nor far from its bound."
        text = f"{at}: not ≥ {NEAR_BOUND:.0%} and not < {FAR_BOUND:.0%}"
    return Finding("roofline", partition, model, conclusion, text + ".", evidence, confidence)


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
                "Nothing to compare with the seed's tables.",
                "No partition of this sweep is one the seed published figures for "
                f"({', '.join(published)}).",
                supported=False,
            )
        ]
    findings = []
    for partition in partitions:
        items, missing, outside, placed = [], [], 0, 0
        sweep = measured[measured["partition"] == partition]
        for row in seed[seed["partition"] == partition].itertuples(index=False):
            same = sweep[(sweep["model"] == row.model) & (sweep["flags"] == row.flags)]
            if same.empty:
                missing.append(f"{row.model} {row.cflags}")
                continue
            cores = int(row.nproc) if pd.notna(row.nproc) else None
            at_cores = same[same["threads"] == cores] if cores else same.iloc[0:0]
            # at the seed's core count, else the best thread count; with neither (threads
            # unknown: no best), the first configuration of these flags
            candidates = at_cores if not at_cores.empty else same[same["best"]]
            ours = (candidates if not candidates.empty else same).iloc[0]
            low, high = prediction_interval(ours["samples"])
            if pd.isna(low):
                place = "no prediction (fewer than 3 ok runs)"
            else:
                placed += 1
                inside = low <= row.tok_s <= high
                outside += not inside
                place = (
                    "where a run here lands"
                    if inside
                    else f"{'below' if row.tok_s < low else 'above'} where a run here lands"
                )
            interval = "" if pd.isna(low) else f", a run lands in {interval_text(low, high)}"
            items.append(
                f"{row.model} {row.cflags} at {threads_text(ours['threads'])}: "
                f"median {decimal_text(ours['median'])}{interval}, "
                f"against {decimal_text(row.tok_s)} "
                f"({ratio_text(ours['median'] / row.tok_s)}, the seed's figure {place})"
            )
        text = f"Against the seed's published tok/s on {partition}: " + (
            "; ".join(items) if items else "no configuration of the seed's ran"
        )
        if missing:
            text += f"; not run here: {', '.join(missing)}"
        conclusion = (
            f"{outside} of {placed} of the seed's figures lie outside where a run here lands."
            if placed
            else "None of the seed's figures can be placed (too few runs here)."
        )
        findings.append(
            Finding(
                "seed",
                partition,
                None,
                conclusion,
                text + ".",
                "the seed: one run per configuration, threads not recorded (every core)",
                f"{CONFIDENCE_TEXT} prediction intervals of a single run here (t on log tok/s), "
                "each published figure being a single run",
                placed > 0,
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
    """Whether two rows of one table are the same configuration: the same row (an unknown
    thread count, NaN, equals no other, not even its own)."""
    return a.name == b.name


def _name(row: pd.Series) -> str:
    return f"{row['flag_set']} at {threads_text(row['threads'])}"


def _runs(row: pd.Series) -> str:
    return (
        f"{_name(row)}: median {decimal_text(row['median'])} tok/s "
        f"over {int(row['runs_ok'])} ok runs"
    )


def _judged(verdict: Verdict) -> str:
    return f"{CONFIDENCE_TEXT} interval {verdict.interval}: {verdict.text}"


def _confidence(verdict: Verdict) -> str:
    text = f"{CONFIDENCE_TEXT} interval of the ratio of geometric means {verdict.interval}"
    if not pd.isna(verdict.p_value):
        text += f", Welch p = {verdict.p_value:.2g}"
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
