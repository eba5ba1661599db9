"""The rules of a sweep's figures, each written once: what a run's tok/s is, whether a run is
ok, a configuration's figure (the median over its runs), a flag set's best thread count, and
which configuration a profiling run profiles.

Standard library only: the collector imports it, and profiling tasks run it on the cluster's
nodes (copied into the sweep's tools/) to pick their configuration from the finished runs:

    python3 tools/sweep_rules.py select-profile SWEEP_DIR INDEX

reads SWEEP_DIR/plan.json, the profiling task INDEX and the runs of its partition and model,
writes the choice to the task's selection.json and prints "THREADS<TAB>BINARY";

    python3 tools/sweep_rules.py unfinished SWEEP_DIR

prints the index of every task of the sweep without an ok result, one a line (what a resumed
sweep runs again);

    python3 tools/sweep_rules.py requeue SWEEP_DIR

removes the directory of each of those tasks (no status or execution.txt of an earlier try
survives), writes their indices to SWEEP_DIR/queue.txt (what run-local.sh runs: every task of
a new sweep) and prints them;

    python3 tools/sweep_rules.py noisy SWEEP_DIR

prints, as a JSON list, the configurations (partition, model, flag_set, threads) whose CV of
tok/s is above NOISY_CV (what -e sweep_topup repeats).
"""

import json
import math
import os
import re
import shutil
import statistics
import sys

# run.c's `achieved tok/s: %f\n`; a line without its newline was cut short (a run killed
# while writing it) and is no figure.
_TOK_S_LINE = re.compile(r"achieved tok/s:[ \t]*(\S*)[ \t\r]*\n")
_TOK_S_VALUE = re.compile(r"[0-9]+(?:\.[0-9]*)?")

# Profile selectors that are not flag-set names.
RANKED_SELECTORS = ("fastest", "slowest")

# What makes a configuration: its runs are its repetitions.
CONFIGURATION = ("partition", "model", "flag_set", "threads")

# A configuration whose CV of tok/s is above this is noisy (flagged in the report, topped
# up by -e sweep_topup).
NOISY_CV = 0.05

# A run's status in runs.csv.
STATUS_OK = "ok"
STATUS_FAILED = "failed"
STATUS_TIMEOUT = "timeout"  # killed by the scheduler's time limit
STATUS_CANCELLED = "cancelled"  # by its owner (scancel), or preempted


def parse_tok_s(text):
    """tok/s from run.c's `achieved tok/s: 123.456000` line (the last complete one if
    several); None when there is none or its value is no finite number (nan, inf)."""
    matches = _TOK_S_LINE.findall(text or "")
    if not matches or not _TOK_S_VALUE.fullmatch(matches[-1]):
        return None
    tok_s = float(matches[-1])
    return tok_s if math.isfinite(tok_s) else None


def exit_status(status_text):
    """The integer of a task's status file, None when absent or unreadable."""
    try:
        return int(status_text)
    except (TypeError, ValueError):
        return None


def run_ok(status_text, stderr_text):
    """A run is ok when it exited 0 and printed a tok/s figure."""
    return exit_status(status_text) == 0 and parse_tok_s(stderr_text) is not None


def task_ok(kind, status_text, stderr_text):
    """Whether a task of the plan has its result: a run or a warm-up is ok (run_ok), a
    check run, a bandwidth measurement or a profiling run exited 0."""
    if kind in ("run", "warmup"):
        return run_ok(status_text, stderr_text)
    return exit_status(status_text) == 0


def coefficient_of_variation(values):
    """A configuration's CV of tok/s: the sample standard deviation (ddof=1) over the mean of
    its ok runs' figures; None with fewer than two."""
    values = [float(value) for value in values]
    if len(values) < 2:
        return None
    return statistics.stdev(values) / statistics.fmean(values)


def is_noisy(cv):
    """Whether a configuration with this CV is noisy (no CV: not)."""
    return cv is not None and not math.isnan(cv) and cv > NOISY_CV


def configuration_medians(rows):
    """{(flag_set, threads): (median tok/s, runs)} over rows (dicts with flag_set, threads
    and tok_s; rows without a tok_s do not count), in the order first seen."""
    samples = {}
    for row in rows:
        tok_s = row.get("tok_s")
        if tok_s is None or (isinstance(tok_s, float) and math.isnan(tok_s)):
            continue
        samples.setdefault((row["flag_set"], int(row["threads"])), []).append(float(tok_s))
    return {key: (statistics.median(values), len(values)) for key, values in samples.items()}


def best_configurations(rows):
    """{flag_set: {"flag_set", "threads", "median", "runs"}}: each flag set at its best
    thread count, the one with the highest median tok/s (a tie goes to fewer threads).
    Flag sets in the order first seen in rows."""
    best = {}
    for (flag_set, threads), (median, runs) in configuration_medians(rows).items():
        current = best.get(flag_set)
        if (
            current is None
            or median > current["median"]
            or (median == current["median"] and threads < current["threads"])
        ):
            best[flag_set] = {
                "flag_set": flag_set,
                "threads": threads,
                "median": median,
                "runs": runs,
            }
    return best


def select_profile(rows, selector):
    """The configuration to profile, one of best_configurations(rows): fastest or slowest
    (the flag set whose best is highest or lowest; a tie goes to the flag set seen first),
    or the flag set named by selector. None when no run of it is ok."""
    best = best_configurations(rows)
    if selector == "fastest":
        return max(best.values(), key=lambda c: c["median"], default=None)
    if selector == "slowest":
        return min(best.values(), key=lambda c: c["median"], default=None)
    return best.get(selector)


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def read_status(path):
    """A small file's text without surrounding whitespace (a status, a pid, a reason); None
    when it cannot be read. The progress scripts' reader too."""
    text = _read(path)
    return None if text is None else text.strip()


def profile_candidates(sweep_dir, plan, profile):
    """Rows (flag_set, threads, tok_s) of the ok runs a profiling task selects from: the
    run tasks of its partition and model."""
    rows = []
    for task in plan["tasks"]:
        if (
            task.get("kind") != "run"
            or task.get("partition") != profile["partition"]
            or task.get("model") != profile["model"]
        ):
            continue
        run_dir = os.path.join(sweep_dir, task["dir"])
        stderr_text = _read(os.path.join(run_dir, "stderr.txt"))
        if task_ok("run", _read(os.path.join(run_dir, "status")), stderr_text):
            rows.append(
                {
                    "flag_set": task["flag_set"],
                    "threads": task["threads"],
                    "tok_s": parse_tok_s(stderr_text),
                }
            )
    return rows


def _load_plan(sweep_dir):
    with open(os.path.join(sweep_dir, "plan.json"), encoding="utf-8") as handle:
        return json.load(handle)


def task_dir_ok(sweep_dir, task, status_text):
    """task_ok of a plan's task record: status_text is its status file's (the caller has
    read it), the stderr.txt of its directory is read here."""
    stderr_text = _read(os.path.join(sweep_dir, task["dir"], "stderr.txt"))
    return task_ok(task["kind"], status_text, stderr_text)


def unfinished_tasks(sweep_dir):
    """The indices of the sweep's tasks without an ok result (task_ok), in plan order."""
    unfinished = []
    for task in _load_plan(sweep_dir)["tasks"]:
        status_text = read_status(os.path.join(sweep_dir, task["dir"], "status"))
        if not task_dir_ok(sweep_dir, task, status_text):
            unfinished.append(task["index"])
    return unfinished


def requeue(sweep_dir):
    """Make the unfinished tasks ready to run again: remove their directories, write their
    indices to queue.txt (beside, then renamed) and return them."""
    tasks = _load_plan(sweep_dir)["tasks"]
    unfinished = unfinished_tasks(sweep_dir)
    for index in unfinished:
        task_dir = tasks[index]["dir"]
        if os.path.isabs(task_dir) or ".." in task_dir.split("/"):
            raise ValueError(f"task {index} of {sweep_dir}/plan.json has dir {task_dir!r}")
        shutil.rmtree(os.path.join(sweep_dir, task_dir), ignore_errors=True)
    path = os.path.join(sweep_dir, "queue.txt")
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        handle.writelines(f"{index}\n" for index in unfinished)
    os.replace(path + ".tmp", path)
    return unfinished


def noisy_configurations(sweep_dir):
    """The run configurations of the sweep (partition, model, flag_set, threads) whose CV of
    tok/s over their ok runs is noisy (is_noisy), in plan order."""
    figures = {}
    for task in _load_plan(sweep_dir)["tasks"]:
        if task.get("kind") != "run":
            continue
        key = tuple(task[field] for field in CONFIGURATION)
        run_dir = os.path.join(sweep_dir, task["dir"])
        stderr_text = _read(os.path.join(run_dir, "stderr.txt"))
        figures.setdefault(key, [])
        if run_ok(_read(os.path.join(run_dir, "status")), stderr_text):
            figures[key].append(parse_tok_s(stderr_text))
    return [
        {field: key[position] for position, field in enumerate(CONFIGURATION)}
        for key, values in figures.items()
        if is_noisy(coefficient_of_variation(values))
    ]


def select_profile_task(sweep_dir, index):
    """Choose the configuration of profiling task INDEX of the sweep in sweep_dir, write it
    to the task's selection.json (beside, then renamed) and return (threads, binary).
    Raises LookupError with the reason when there is nothing to choose."""
    plan = _load_plan(sweep_dir)
    profile = plan["tasks"][index]
    if profile.get("kind") != "profile":
        raise LookupError(f"task {index} of {sweep_dir}/plan.json is no profiling task")
    rows = profile_candidates(sweep_dir, plan, profile)
    chosen = select_profile(rows, profile["selector"])
    if chosen is None:
        raise LookupError(
            f"no finished run of {profile['model']} on {profile['partition']} to select from"
        )
    binary = profile["binaries"][chosen["flag_set"]]
    selection = {
        **chosen,
        "selector": profile["selector"],
        "binary": binary,
        "runs_considered": len(rows),
    }
    task_dir = os.path.join(sweep_dir, profile["dir"])
    os.makedirs(task_dir, exist_ok=True)
    path = os.path.join(task_dir, "selection.json")
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(selection, handle, indent=2)
        handle.write("\n")
    os.replace(path + ".tmp", path)
    return chosen["threads"], binary


def main(argv):
    command = argv[1] if len(argv) > 1 else ""
    try:
        if command == "select-profile" and len(argv) == 4 and argv[3].isdigit():
            threads, binary = select_profile_task(argv[2], int(argv[3]))
            print(f"{threads}\t{binary}")
            return 0
        if command == "noisy" and len(argv) == 3:
            print(json.dumps(noisy_configurations(argv[2])))
            return 0
        if command in ("unfinished", "requeue") and len(argv) == 3:
            for index in (unfinished_tasks if command == "unfinished" else requeue)(argv[2]):
                print(index)
            return 0
    except LookupError as error:  # nothing to select: the reason is the profile's failure
        print(error, file=sys.stderr)
        return 1
    except (OSError, ValueError) as error:
        print(f"{command}: {error}", file=sys.stderr)
        return 1
    print(
        f"usage: {argv[0]} select-profile SWEEP_DIR INDEX | unfinished SWEEP_DIR"
        " | requeue SWEEP_DIR | noisy SWEEP_DIR",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
