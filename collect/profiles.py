"""Where time goes: `perf script` output folded into stacks, and the top functions of
folded stacks (pure: text in, tables out).

Folded stacks are FlameGraph's format, one line a distinct stack: `frame;frame;frame
count`, the outermost frame first. stackcollapse-perf.pl (run on the node by the sweep)
puts the process name first and counts each sample by its period when `perf script`
prints one (`2004008 cpu-clock:`: nanoseconds of a cpu-clock sample), else by 1; shares
of the total are the same either way when every sample has the same period.
"""

import re
from collections import Counter
from collections.abc import Iterable

import pandas as pd

# "run 12731  2421.081034:    2004008 cpu-clock: " (comm may hold spaces; pid/tid, a
# [cpu] field and the period are optional depending on perf script's -F fields).
_SAMPLE_HEADER = re.compile(r"^(?P<comm>\S.+?)\s+(?P<pid>\d+)/*(?P<tid>\d+)*\s+")
_SAMPLE_EVENT = re.compile(r":\s*(?P<period>\d+)*\s+(?P<event>\S+):\s*$")
# "\tffffffff821e86a7 clear_page_erms+0x7 ([kernel.kallsyms])"
_STACK_LINE = re.compile(r"^\s*(?P<pc>\w+)\s*(?P<symbol>.+) \((?P<module>.*)\)")
_OFFSET = re.compile(r"\+0x[\da-f]+$")
# Everything from the first "(" that does not open "(anonymous namespace)": C++ arguments.
_ARGUMENTS = re.compile(r"\((?!anonymous namespace\)).*")
_GO_METHOD = re.compile(r"\.\(.*\)\.")


def fold_perf_script(text: str) -> dict[str, int]:
    """Folded stacks of `perf script` output, as FlameGraph's stackcollapse-perf.pl
    folds it with its default options: stack -> summed count, sorted by stack.

    The process name is the first frame; a sample counts its period when perf prints
    one; only samples of the first event type are kept; `[unknown]` symbols become
    the module's file name (`[libgomp.so.1.0.0]`) or `[unknown]`; offsets (`+0x1a`) and
    C++ argument lists are dropped. Unlike the Perl script, a last sample without a
    closing blank line still counts.
    """
    folded: Counter[str] = Counter()
    stack: list[str] = []
    process_name: str | None = None
    period = 1
    event_filter: str | None = None
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        if not line.strip():
            if process_name is not None and stack:
                folded[";".join([process_name, *reversed(stack)])] += period
            stack, process_name = [], None
            continue
        if header := _SAMPLE_HEADER.match(line):
            process_name = None
            if event := _SAMPLE_EVENT.search(line):
                if event_filter is None:
                    event_filter = event["event"]
                elif event["event"] != event_filter:
                    continue
                period = int(event["period"]) if event["period"] else 1
            else:
                period = 1
            process_name = header["comm"].replace(" ", "_")
            continue
        if process_name is None:
            continue
        if frame := _STACK_LINE.match(line):
            stack.extend(reversed(_frame_names(frame["symbol"], frame["module"])))
    if process_name is not None and stack:
        folded[";".join([process_name, *reversed(stack)])] += period
    return dict(sorted(folded.items()))


def format_folded(folded: dict[str, int]) -> str:
    """Folded stacks as text, one `stack count` line each (stackcollapse's output)."""
    return "".join(f"{stack} {count}\n" for stack, count in folded.items())


def parse_folded(text: str) -> list[tuple[list[str], int]]:
    """(frames, count) per line of folded-stack text; lines without a count are skipped."""
    stacks = []
    for line in text.splitlines():
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        stacks.append((stack.split(";"), int(count)))
    return stacks


def top_functions(
    stacks: Iterable[tuple[list[str], int]],
    limit: int | None = None,
    process_frame: bool = True,
) -> pd.DataFrame:
    """Functions by self and total samples of folded stacks.

    Self: the samples where the function is the innermost frame. Total (inclusive): the
    samples whose stack holds the function, counted once per stack however often it
    recurses. Columns: function, self, self_pct, total, total_pct (percent of all
    samples); sorted by self, then total, then name; the first `limit` rows. With
    process_frame (stackcollapse-perf.pl's default), the first frame is the process
    name, not a function, and is left out.
    """
    self_counts: Counter[str] = Counter()
    total_counts: Counter[str] = Counter()
    all_samples = 0
    for frames, count in stacks:
        functions = frames[1:] if process_frame else frames
        all_samples += count
        if not functions:
            continue
        self_counts[functions[-1]] += count
        for function in set(functions):
            total_counts[function] += count
    table = pd.DataFrame(
        {
            "function": list(total_counts),
            "self": [self_counts[function] for function in total_counts],
            "total": list(total_counts.values()),
        },
        columns=["function", "self", "total"],
    )
    share = 100.0 / all_samples if all_samples else float("nan")
    table.insert(2, "self_pct", table["self"] * share)
    table["total_pct"] = table["total"] * share
    table = table.sort_values(
        ["self", "total", "function"], ascending=[False, False, True], kind="stable"
    ).reset_index(drop=True)
    return table if limit is None else table.head(limit)


def _frame_names(symbol: str, module: str) -> list[str]:
    # One perf frame can name several functions joined by "->" (inlined); outer first.
    symbol = _OFFSET.sub("", symbol)
    if symbol.startswith("("):
        return []
    names = []
    for function in symbol.split("->"):
        if function == "[unknown]":
            function = f"[{module.rsplit('/', 1)[-1]}]" if module != "[unknown]" else "[unknown]"
        function = function.replace(";", ":")
        if not _GO_METHOD.search(function):
            function = _ARGUMENTS.sub("", function)
        function = function.replace('"', "").replace("'", "")
        if names and "_[i]" not in function:
            function += "_[i]"  # the functions after the first were inlined into it
        names.append(function)
    return names
