"""Pure parsers for one run's logs: `perf stat` output (run.c's tok/s line is
sweep_rules.parse_tok_s, the rule the node's profile selection uses too).

Every function here takes text and returns plain values, so they can be tested on
captured outputs without touching the file system.
"""

import re

from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_rules

from collect.perf_metrics import EVENT_COLUMNS, FIGURE_COLUMNS, PERF_FIGURES

_TIME_FIGURES = {figure.time_line: figure.column for figure in PERF_FIGURES if figure.time_line}

_NOT_MEASURED = ("<not supported>", "<not counted>")

# Thousands separators perf prints with --big-num, depending on the locale.
_THOUSANDS_SEPARATORS = str.maketrans("", "", ",'’")

# What the line patterns take for a number; _number says whether it reads as one.
_NUMBER = r"[0-9][0-9.,'’]*"

# Numbers as perf prints them with a C-locale decimal point: times and metrics plain
# (0.414690113, 43.524), counts maybe grouped in threes by one separator (72,184.53,
# 203’626’444). Anything else (1.2.3, a comma-decimal locale's 1.234.567, 0,414690113
# or 43,524 CPUs) has no single reading: no figure rather than a wrong one.
_PLAIN_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?")
_GROUPED_NUMBER = re.compile(r"[0-9]{1,3}([,'’])[0-9]{3}(?:\1[0-9]{3})*(?:\.[0-9]+)?")

# perf prints counts as whole numbers (%.0f), but for clocks in msec (%.2f): a fraction in
# another count (a comma-decimal locale's grouping: 5.640 page-faults) has no reading.
_FRACTIONAL_COUNTS = {
    figure.column for figure in PERF_FIGURES if figure.events and not figure.integer
}

# Human form: "  72,184.53 msec task-clock:u   #  43.524 CPUs utilized  (83.33%)",
# old form "72184.531234  task-clock (msec)  # ...", and "<not supported>  cycles".
_HUMAN_COUNTER_LINE = re.compile(
    rf"^\s*(?P<value>{_NUMBER}|<not supported>|<not counted>)\s+"
    r"(?:msec\s+)?(?P<event>[^\s#]+)(?P<metrics>.*)$"
)

# "0.414690113 seconds time elapsed", "0.48182 +- 0.00941 seconds time elapsed".
_TIME_LINE = re.compile(
    rf"^\s*(?P<value>{_NUMBER})(?:\s+\+-\s+{_NUMBER})?\s+seconds\s+"
    r"(?P<kind>time elapsed|user|sys)\b"
)

# Metrics perf derives from the counts (after "#", or as CSV fields); newer perf prints
# "2.4 CPUs  CPUs_utilized" and "2.9 instructions  insn_per_cycle" instead.
_CPUS_UTILIZED_METRIC = re.compile(rf"(?P<value>{_NUMBER})\s+CPUs(?:\s+utilized|\s+CPUs_utilized)")
_IPC_METRIC = re.compile(
    rf"(?P<value>{_NUMBER})\s+(?:insns? per cycle|instructions\s+insn_per_cycle)"
)

# Text on the lines that open a perf block: "# started on ..." (with -o), the header.
_BLOCK_STARTS = ("# started on ", "Performance counter stats for ")

# Hybrid and per-PMU events are printed as "cpu_core/cycles/" or "armv8_pmuv3_0/cycles/".
_PMU_EVENT = re.compile(r"^[\w.-]+/(?P<event>[^/]+)/\w*$")


def parse_perf_stat(text: str) -> dict[str, float | None]:
    """Every figure of perf_metrics.PERF_FIGURES found in `perf stat` output, human or
    `-x,` CSV, by column.

    Figures that are absent, `<not supported>`, `<not counted>` or not readable as one
    number (see _PLAIN_NUMBER) are None. Events counted on several PMUs (hybrid CPUs)
    are summed. When the text holds several perf blocks (`--append`), the last one counts.
    """
    figures: dict[str, float | None] = dict.fromkeys(FIGURE_COLUMNS)
    unreadable = set()  # a sum missing an unreadable part would be a wrong figure
    ipc_metrics = []
    for line in _last_block(text).splitlines():
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        if time_match := _TIME_LINE.match(line):
            figures[_TIME_FIGURES[time_match["kind"]]] = _number(time_match["value"])
            continue
        counter = _parse_human_counter(line) or _parse_csv_counter(line)
        if counter is None:
            continue
        event, count, metrics = counter
        figure = EVENT_COLUMNS.get(_base_event_name(event))
        if figure is not None and count not in _NOT_MEASURED:
            value = _number(count, grouped=True)
            if value is None or figure not in _FRACTIONAL_COUNTS and not isinstance(value, int):
                unreadable.add(figure)
            else:
                previous = figures[figure]
                figures[figure] = value if previous is None else previous + value
        if cpus_match := _CPUS_UTILIZED_METRIC.search(metrics):
            figures["cpus_utilized"] = _number(cpus_match["value"])
        if ipc_match := _IPC_METRIC.search(metrics):
            ipc_metrics.append(_number(ipc_match["value"]))
    figures.update(dict.fromkeys(unreadable))
    figures["ipc"] = _ipc(ipc_metrics, figures["instructions"], figures["cycles"])
    return figures


def unsupported_events(text: str) -> list[str]:
    """Events perf printed as `<not supported>` or `<not counted>` (human or CSV form),
    in order, as printed (e.g. `cycles:u`); the last perf block counts."""
    if "<not " not in text:
        return []
    events = []
    for line in _last_block(text).splitlines():
        if "<not " not in line:
            continue
        counter = _parse_human_counter(line) or _parse_csv_counter(line)
        if counter is not None and counter[1] in _NOT_MEASURED and counter[0] not in events:
            events.append(counter[0])
    return events


def parse_run_log(text: str) -> dict[str, float | None]:
    """tok_s plus every perf figure found in one log (e.g. stderr with perf's block)."""
    return {"tok_s": sweep_rules.parse_tok_s(text), **parse_perf_stat(text)}


def generated_tokens(tok_s: float | None, positions: int | None) -> tuple[int | None, bool | None]:
    """(tokens, stopped_early) of a run from its tok/s and the positions it was asked for
    (steps capped at seq_len: the plan's `positions`); (None, None) without either.

    run.c prints no token count, and its text has no token boundaries, but its tok/s is
    (pos - 1) / ms * 1000 over whole milliseconds (time_in_ms), printed to six decimals. A
    run that went through every position has pos = positions, so (positions - 1) * 1000 /
    tok_s is a whole number of milliseconds; when it is not, the run stopped early (it
    sampled BOS). Its tokens are then the one smaller pos that gives whole milliseconds, or
    None when several do. (A run that stopped early passes for a full one only when its
    milliseconds happen to fit: when pos - 1 divides (positions - 1) * ms.)"""
    if tok_s is None or positions is None or not tok_s > 0:
        return None, None
    fitting = [pos for pos in range(positions, 1, -1) if _whole_milliseconds(pos - 1, tok_s)]
    if fitting[:1] == [positions]:
        return positions, False
    return (fitting[0] if len(fitting) == 1 else None), True


def _whole_milliseconds(steps_timed: int, tok_s: float) -> bool:
    milliseconds = steps_timed * 1000 / tok_s
    # tok/s to six decimals: its rounding (5e-7) moves the milliseconds by this much at most.
    return abs(milliseconds - round(milliseconds)) <= milliseconds * 1e-6 / tok_s + 1e-9


def _last_block(text: str) -> str:
    block_start = max(text.rfind(marker) for marker in _BLOCK_STARTS)
    if block_start < 0:
        return text
    line_end = text.find("\n", block_start)
    return "" if line_end < 0 else text[line_end + 1 :]


def _parse_human_counter(line: str) -> tuple[str, str, str] | None:
    """A counter line's event, count as printed (or a _NOT_MEASURED marker) and metrics."""
    match = _HUMAN_COUNTER_LINE.match(line)
    if match is None:
        return None
    return match["event"], match["value"], match["metrics"]


def _parse_csv_counter(line: str) -> tuple[str, str, str] | None:
    # perf stat -x, : value,unit,event,runtime,pct[,metric value,metric unit]; with -r a
    # variance field shifts the metric, so the metric is searched in all later fields.
    fields = line.split(",")
    if len(fields) < 3 or not fields[2]:
        return None
    value = fields[0].strip()
    if value not in _NOT_MEASURED and not re.fullmatch(r"[0-9]+(?:\.[0-9]*)?", value):
        return None
    return fields[2], value, "  ".join(fields[3:])


def _base_event_name(event: str) -> str:
    if pmu_match := _PMU_EVENT.match(event):
        event = pmu_match["event"]
    # Modifiers: "cycles:u", "cycles:ukP".
    return event.split(":", 1)[0]


def _number(text: str, grouped: bool = False) -> float | None:
    if not (_PLAIN_NUMBER.fullmatch(text) or grouped and _GROUPED_NUMBER.fullmatch(text)):
        return None
    digits = text.translate(_THOUSANDS_SEPARATORS)
    return float(digits) if "." in digits else int(digits)


def _ipc(
    ipc_metrics: list[float | None],
    instructions: float | None,
    cycles: float | None,
) -> float | None:
    # A single readable metric is perf's own figure; hybrid CPUs print one per PMU: recompute.
    if len(ipc_metrics) == 1 and ipc_metrics[0] is not None:
        return float(ipc_metrics[0])
    if instructions is not None and cycles:
        return instructions / cycles
    return None
