#!/usr/bin/env python3
"""Progress of a Slurm sweep, and the scheduler's state of its jobs, in one call.

Usage: slurm_progress.py SWEEP_DIR

Prints one line, "pending 3 (Dependency 3), running 1, done 5 (1 failed) of 12 runs", that
starts with "finished" once no job of the sweep is pending or running any more. Writes
SWEEP_DIR/scheduler.json: each partition's build job and each run's array task as last seen
(state, reason, exit code, node), merged with what earlier calls saw, so that the states
outlive the scheduler's memory of finished jobs (MinJobAge). The runs' own status files are
the ground truth; scheduler.json is for what a run cannot write itself (TIMEOUT, CANCELLED,
a build that failed so the run never started).

Asks only about the sweep's own jobs (--me, --jobs=): squeue at every call and, when
accounting exists, sacct for the jobs squeue no longer lists and not yet seen final. Every
Slurm from 22.05 to 25.11: each record is normalised first (numbers from 23.02's
{"set", "infinite", "number"}, state lists, exit codes as raw wait statuses or structured,
sacct's hexadecimal bitmask of an array's never-started tasks), then the sweep's are kept
with jmespath. Where Slurm was built without JSON (sweep.json's slurm.query is "text",
probed once at submit time) the same records come from `squeue --format` and
`sacct --parsable2`. Runs on the cluster's login node with the Python Ansible uses there
(jmespath is copied beside it when that Python lacks it). Exit status 0 whatever the
scheduler says (a failed query is reported and retried at the next poll); 2 on bad usage.
"""

import collections
import datetime
import json
import os
import re
import subprocess
import sys

import jmespath

# sweep_rules.py is in the sweep's tools/ on the cluster, beside this file in the repository.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "tools"))
from sweep_rules import read_status  # noqa: E402

# States in which a job will not change any more.
FINAL_STATES = frozenset(
    (
        "COMPLETED",
        "FAILED",
        "TIMEOUT",
        "CANCELLED",
        "OUT_OF_MEMORY",
        "NODE_FAIL",
        "BOOT_FAIL",
        "DEADLINE",
        "PREEMPTED",
        "SPECIAL_EXIT",
        "REVOKED",
        "UNKNOWN",
    )
)
# Not started yet (the rest of the active states count as running).
WAITING_STATES = frozenset(("PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESV_DEL_HOLD"))
# Slurm's "no value" and "infinite" in a uint32 (22.05 prints them as plain numbers).
NO_VALUE = 0xFFFFFFFE

# The fields of one record, raw, as squeue --json and sacct --json print them (22.05 to 25.11).
SQUEUE_JSON_FIELDS = (
    "jobs[].{job_id: job_id, array_job_id: array_job_id, array_task_id: array_task_id, "
    "array_tasks: array_task_string, state: job_state, reason: state_reason, "
    "exit_code: exit_code, node: nodes, name: name}"
)
SACCT_JSON_FIELDS = (
    "jobs[].{job_id: job_id, array_job_id: array.job_id, array_task_id: array.task_id, "
    "array_tasks: array.task, state: state.current, reason: state.reason, "
    "exit_code: exit_code, node: nodes, name: name}"
)
# Without JSON: one line a job or array task ("N/A" task: no array), the name last (it may
# hold the separator). squeue's --states=all: finished jobs too, as --json lists them.
SQUEUE_TEXT_FORMAT = "%A|%F|%K|%T|%r|%N|%j"
SACCT_TEXT_FORMAT = "JobID,JobIDRaw,State,Reason,ExitCode,NodeList,JobName"
# sacct's JobID: 12, 11_3 (a task) or 11_[4-7%2] (tasks that never started).
SACCT_JOB_ID = re.compile(r"^(\d+)(?:_(?:(\d+)|\[(.*)\]))?$")
# squeue --jobs= naming only jobs it has forgotten: none of them is listed.
FORGOTTEN = "Invalid job id specified"
QUERY_TIMEOUT = 120  # seconds
# Full array task lists: without it Slurm cuts them at 64 characters and adds "...".
QUERY_ENVIRONMENT = {**os.environ, "SLURM_BITSTR_LEN": "0"}


def read_jobs(sweep_dir):
    """The sweep's submissions and tasks: plan.json's tasks, and a record per line of
    slurm-jobs.tsv (written at submit time: partition, build job, the job ids of its arrays
    comma-joined, its profiling array's job or "-", and the arrays as submitted,
    FIRST_INDEX:ARRAY space-separated, runs then profiles; a line without them has the
    plan's arrays). A resumed sweep adds lines for the same partitions. Each record gets
    "jobs": {array job id: (first_index, task ids)} (task id i runs task first_index + i)."""
    with open(os.path.join(sweep_dir, "plan.json")) as plan_file:
        plan = json.load(plan_file)
    planned = {partition["name"]: partition for partition in plan["partitions"]}
    partitions = []
    with open(os.path.join(sweep_dir, "slurm-jobs.tsv")) as jobs:
        for line in jobs:
            name, build, arrays, profile_job, *submitted = line.rstrip("\n").split("\t")
            partition = planned[name]
            array_jobs = [int(array) for array in arrays.split(",")]
            if submitted:
                specs = [spec.split(":", 1) for spec in submitted[0].split()]
            else:
                specs = [(array["first_index"], array["array"]) for array in partition["arrays"]]
                if profile_job != "-":
                    profile = partition["profile_array"]
                    specs.append((profile["first_index"], profile["array"]))
            job_ids = array_jobs + ([int(profile_job)] if profile_job != "-" else [])
            if len(specs) != len(job_ids):
                raise ValueError(f"slurm-jobs.tsv: {len(job_ids)} jobs for {len(specs)} arrays")
            arrays_by_job = {
                job: (int(specs[i][0]), array_ids(specs[i][1])) for i, job in enumerate(job_ids)
            }
            partitions.append(
                {
                    "name": name,
                    "build_job_id": int(build),
                    "array_job_ids": array_jobs,
                    "jobs": arrays_by_job,
                }
            )
    return partitions, plan["tasks"]


def newest(previous, entry, key):
    """Whether a scheduler record (entry) of a task or build is no older than what state
    holds (previous): a resumed sweep's jobs replace the earlier ones (job ids grow)."""
    return ((previous or {}).get(key) or 0) <= (entry.get(key) or 0)


def array_ids(array):
    """The task ids of a plan's --array list ("0-20:3,22"), a set."""
    ids = set()
    for part in array.split(","):
        span, _, step = part.partition(":")
        first, _, last = span.partition("-")
        ids.update(range(int(first), int(last or first) + 1, int(step or 1)))
    return ids


def arrays_of(partitions):
    """Array job id -> (index of its task 0, its task ids): runs and profiling runs."""
    return {job: array for partition in partitions for job, array in partition["jobs"].items()}


def ours(job_ids):
    """A jmespath filter keeping the records of these jobs and of their array tasks."""
    literal = json.dumps(sorted(job_ids))
    return f"[?contains(`{literal}`, job_id) || contains(`{literal}`, array_job_id)]"


def run_query(command):
    """A scheduler command's stdout; RuntimeError with its message when it fails."""
    answer = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=QUERY_TIMEOUT,
        check=False,
        env=QUERY_ENVIRONMENT,
    )
    if answer.returncode != 0:
        raise RuntimeError(" ".join(answer.stderr.split())[:300] or f"exit {answer.returncode}")
    return answer.stdout


def squeue(way, job_ids):
    """The scheduler's records of these jobs (and their array tasks) that squeue still lists:
    finished ones too (--states=all; 24.11's --json lists them only then)."""
    command = ["squeue", "--me", "--states=all", jobs_option(job_ids)]
    if way == "json":
        command += ["--json"]  # 22.05 ignores the filters with --json: ours() still selects
    else:
        command += ["--noheader", "--array", f"--format={SQUEUE_TEXT_FORMAT}"]
    try:
        answer = run_query(command)
    except RuntimeError as error:
        if FORGOTTEN not in str(error):
            raise
        return []
    if way == "json":
        raw = jmespath.search(SQUEUE_JSON_FIELDS, json.loads(answer))
    else:
        raw = [squeue_text_record(line) for line in answer.splitlines() if line.strip()]
    return selected(raw, job_ids)


def sacct(way, job_ids):
    """Accounting's records of these jobs (and their array tasks)."""
    if way == "json":
        answer = json.loads(run_query(["sacct", "--json", jobs_option(job_ids)]))
        raw = jmespath.search(SACCT_JSON_FIELDS, answer)
    else:
        command = ["sacct", "--parsable2", "--noheader", "--allocations", jobs_option(job_ids)]
        lines = run_query([*command, f"--format={SACCT_TEXT_FORMAT}"]).splitlines()
        raw = [sacct_text_record(line) for line in lines if line.strip()]
    return selected(raw, job_ids)


def jobs_option(job_ids):
    return "--jobs=" + ",".join(str(job) for job in sorted(job_ids))


def selected(raw, job_ids):
    """Normalised records, then only the sweep's: a 23.02+ array_job_id object never equals
    a job id, so selecting first would drop every array task with a job id of its own."""
    records = [normalise(record) for record in raw or [] if record]
    return jmespath.search(ours(job_ids), records) or []


def squeue_text_record(line):
    """A record from squeue's SQUEUE_TEXT_FORMAT line."""
    job_id, array_job_id, task, state, reason, node, name = line.split("|", 6)
    array = task != "N/A"  # squeue prints a plain job's own id as its array job id
    return {
        "job_id": text_number(job_id),
        "array_job_id": text_number(array_job_id) if array else None,
        "array_task_id": text_number(task) if array else None,
        "array_tasks": task if array and text_number(task) is None else "",
        "state": state,
        "reason": reason,
        "exit_code": None,  # squeue --format has no exit code; sacct and the runs' files do
        "node": node,
        "name": name,
    }


def sacct_text_record(line):
    """A record from sacct's SACCT_TEXT_FORMAT line (--parsable2: "|"-separated)."""
    job, raw_id, state, reason, exit_code, node, name = line.split("|", 6)
    parts = SACCT_JOB_ID.match(job)
    if parts is None:
        return None
    array_job_id, task, tasks = parts.groups()
    array = task is not None or tasks is not None
    return {
        "job_id": None if tasks is not None else text_number(raw_id),
        "array_job_id": int(array_job_id) if array else None,
        "array_task_id": text_number(task),
        "array_tasks": tasks or "",
        "state": state,
        "reason": reason,
        "exit_code": exit_code,
        "node": node,
        "name": name,
    }


def text_number(text):
    return int(text) if text and text.isdigit() else None


def normalise(record):
    """Plain values whatever the Slurm version: state a string, exit code "RC:SIGNAL", ids
    integers or None (None, not 0, for a job that is no array)."""
    record["state"] = base_state(record.get("state"))
    record["exit_code"] = exit_code_text(record.get("exit_code"))
    for key in ("job_id", "array_job_id", "array_task_id"):
        record[key] = number(record.get(key))
    record["array_job_id"] = record["array_job_id"] or None
    tasks = record.get("array_tasks")
    record["array_tasks"] = tasks if isinstance(tasks, str) else ""
    return record


def base_state(state):
    """Slurm's base state: a string (22.05, 23.02), a list of flags with the base state
    first (23.11+) or text such as "CANCELLED by 1000" (sacct --parsable2)."""
    if isinstance(state, list):
        state = state[0] if state else None
    if isinstance(state, str) and state.split():
        return state.split()[0]
    return "UNKNOWN"


def number(value):
    """An integer from Slurm's JSON: a plain int, or {set, infinite, number} (23.02+); None
    when unset, infinite or Slurm's NO_VAL."""
    if isinstance(value, dict):
        if not value.get("set", True) or value.get("infinite"):
            return None
        value = value.get("number")
    if isinstance(value, bool) or not isinstance(value, int) or value >= NO_VALUE:
        return None
    return value


def exit_code_text(code):
    """Slurm's "RETURN_CODE:SIGNAL" from any release: text already (sacct --parsable2); a raw
    wait status (22.05's squeue, and 23.02's as {set, infinite, number}: 256 is exit 1, 15 is
    signal 15); or {status, return_code, signal} (sacct, squeue 23.11+), where a signalled
    job's return code may be unset or -127 (23.02's sacct)."""
    if isinstance(code, str):
        return code if re.fullmatch(r"\d+:\d+", code) else None
    if isinstance(code, dict) and code.keys() & {"status", "return_code", "signal"}:
        signal = code.get("signal")
        if isinstance(signal, dict):
            signal = number(signal.get("id", signal.get("signal_id")))
        else:
            signal = None
        return_code = number(code.get("return_code"))
        return f"{max(return_code or 0, 0)}:{signal or 0}"
    status = number(code)
    if status is None:
        return None
    return f"{status >> 8 & 0xFF}:{status & 0x7F}"


def task_ids(text, count):
    """Task ids of an array_task_string such as "0-11%1", "3,5-7" or "0-15:4", or of sacct's
    hexadecimal bitmask of the tasks that never started ("0x7": tasks 0, 1 and 2)."""
    text = (text or "").split("%")[0]
    if text.lower().startswith("0x"):
        try:
            bits = int(text, 16)
        except ValueError:
            return []
        return [task for task in range(count) if bits >> task & 1]
    tasks = []
    for part in filter(None, text.split(",")):
        span, _, step = part.partition(":")
        first, _, last = span.partition("-")
        try:
            tasks += range(int(first), int(last or first) + 1, int(step or 1))
        except ValueError:
            continue
    return [task for task in tasks if 0 <= task < count]


def apply(records, partitions, state):
    """Fold scheduler records into state["builds"] and state["runs"] (by task index)."""
    builds = {p["build_job_id"]: p for p in partitions}
    arrays = arrays_of(partitions)
    seen = set()
    for record in records:
        entry = {
            key: record.get(key)
            for key in ("job_id", "array_job_id", "state", "reason", "exit_code", "node")
        }
        if record["job_id"] in builds and not record.get("array_job_id"):
            name = builds[record["job_id"]]["name"]
            if newest(state["builds"].get(name), entry, "job_id"):
                state["builds"][name] = entry
            seen.add(record["job_id"])
            continue
        if record["array_job_id"] not in arrays:
            continue
        first, ids = arrays[record["array_job_id"]]
        seen.add(record["array_job_id"])
        if record["array_task_id"] is not None and not record.get("array_tasks"):
            tasks = [record["array_task_id"]]
        else:  # one record for the tasks that have not started (or never will)
            tasks = task_ids(record.get("array_tasks"), max(ids) + 1)
            entry["job_id"] = None
        for task in tasks:
            index = str(first + task)
            if task in ids and newest(state["runs"].get(index), entry, "array_job_id"):
                state["runs"][index] = {**entry, "array_task_id": task}
    return seen


def run_progress(sweep_dir, partitions, tasks, state, active_arrays):
    """Counts of runs pending, running, done and failed, and the pending runs' reasons; the
    status files are ground truth. Only the plan's tasks of kind run count."""
    counts = {"pending": 0, "running": 0, "done": 0, "failed": 0}
    reasons = collections.Counter()
    array_jobs = collections.defaultdict(set)
    for partition in partitions:
        array_jobs[partition["name"]].update(partition["array_job_ids"])
    for task in tasks:
        if task["kind"] != "run" or task["partition"] not in array_jobs:
            continue
        status = read_status(os.path.join(sweep_dir, task["dir"], "status"))
        scheduled = state["runs"].get(str(task["index"]), {})
        if status is not None:
            counts["done"] += 1
            counts["failed"] += status != "0"
        elif scheduled.get("state") in FINAL_STATES:
            counts["done"] += 1
            counts["failed"] += 1
        elif scheduled.get("state") in WAITING_STATES or (
            not scheduled and not active_arrays.isdisjoint(array_jobs[task["partition"]])
        ):
            counts["pending"] += 1
            if known_reason(scheduled.get("reason")):
                reasons[scheduled["reason"]] += 1
        elif not scheduled:
            counts["done"] += 1
            counts["failed"] += 1
        else:
            counts["running"] += 1
    return counts, reasons


def known_reason(reason):
    """A pending reason worth showing (Slurm says "None" when it has none)."""
    return reason not in (None, "", "None")


def final_jobs(partitions, state):
    """The sweep's jobs seen in a final state: a build job, or an array whose tasks all were;
    a job whose tasks a later submission (a resumed sweep's) took over counts as final."""
    final = set()
    for partition in partitions:
        build = state["builds"].get(partition["name"], {})
        if (
            build.get("state") in FINAL_STATES
            or (build.get("job_id") or 0) > partition["build_job_id"]
        ):
            final.add(partition["build_job_id"])
    for array, (first, ids) in arrays_of(partitions).items():
        tasks = [state["runs"].get(str(first + task), {}) for task in ids]
        if all(
            task.get("state") in FINAL_STATES or (task.get("array_job_id") or 0) > array
            for task in tasks
        ):
            final.add(array)
    return final


def query_way(sweep_dir):
    """How the scheduler is asked, as probed once at submit time (sweep.json's slurm.query):
    "json", or "text" where Slurm was built without JSON support."""
    try:
        with open(os.path.join(sweep_dir, "sweep.json")) as sweep:
            way = jmespath.search("slurm.query", json.load(sweep))
    except (OSError, ValueError):
        way = None
    return way if way in ("json", "text") else "json"


def load_state(path):
    try:
        with open(path) as previous:
            state = json.load(previous)
    except (OSError, ValueError):
        state = {}
    state.setdefault("builds", {})
    state.setdefault("runs", {})
    state.setdefault("accounting", None)
    return state


def save_state(path, state):
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w") as out:
        json.dump(state, out, indent=1, sort_keys=True)
        out.write("\n")
    os.replace(temporary, path)


def progress(sweep_dir):
    """The progress line; updates sweep_dir/scheduler.json."""
    partitions, tasks = read_jobs(sweep_dir)
    way = query_way(sweep_dir)
    state_path = os.path.join(sweep_dir, "scheduler.json")
    state = load_state(state_path)
    job_ids = {p["build_job_id"] for p in partitions} | set(arrays_of(partitions))
    try:
        current = squeue(way, job_ids)
    except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as error:
        return f"squeue failed ({error}); asking again at the next poll"
    listed = {r["job_id"] for r in current} | {r["array_job_id"] for r in current}
    gone = job_ids - listed - final_jobs(partitions, state)
    if gone and state["accounting"] is not False:
        # Jobs left squeue (MinJobAge) before they were seen to end: accounting, when there
        # is any, knows how they ended.
        try:
            older = sacct(way, gone)
            state["accounting"] = True
            apply([r for r in older if r["state"] in FINAL_STATES], partitions, state)
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired):
            state["accounting"] = False
    apply(current, partitions, state)
    active = {
        job
        for record in current
        if record["state"] not in FINAL_STATES
        for job in (record["job_id"], record["array_job_id"])
    }
    finished = not active & job_ids
    if finished:
        # Whatever is still pending or running here was never seen to end.
        for entry in [*state["runs"].values(), *state["builds"].values()]:
            if entry.get("state") not in FINAL_STATES:
                entry.update(state="UNKNOWN", reason="no longer known to the scheduler")
    counts, reasons = run_progress(sweep_dir, partitions, tasks, state, active)
    state["updated"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    state["finished"] = finished
    save_state(state_path, state)
    waiting = ", ".join(f"{reason} {count}" for reason, count in reasons.most_common())
    line = (
        f"pending {counts['pending']}{f' ({waiting})' if waiting else ''}, "
        f"running {counts['running']}, done {counts['done']} ({counts['failed']} failed) of "
        f"{counts['pending'] + counts['running'] + counts['done']} runs"
    )
    builds = []
    for name in dict.fromkeys(partition["name"] for partition in partitions):
        build = state["builds"].get(name, {})
        build_state = build.get("state", "UNKNOWN" if finished else "PENDING")
        if build_state in WAITING_STATES and known_reason(build.get("reason")):
            build_state += f" ({build['reason']})"
        if build_state != "COMPLETED":
            builds.append(f"{name} {build_state}")
    if builds:
        line += "; builds: " + ", ".join(builds)
    profiles = [task["dir"] for task in tasks if task["kind"] == "profile"]
    if profiles:
        recorded = sum(os.path.isfile(os.path.join(sweep_dir, path, "status")) for path in profiles)
        line += f"; profiles {recorded}/{len(profiles)}"
    return f"finished: {line}" if finished else line


def main(argv):
    if len(argv) != 2 or not all(
        os.path.isfile(os.path.join(argv[1], name)) for name in ("slurm-jobs.tsv", "plan.json")
    ):
        print(f"usage: {argv[0]} SWEEP_DIR (a submitted Slurm sweep)", file=sys.stderr)
        return 2
    print(progress(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
