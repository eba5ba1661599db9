#!/usr/bin/env python3
"""Progress of a Slurm sweep, and the scheduler's state of its jobs, in one call.

Usage: slurm_progress.py SWEEP_DIR

Prints one line, "pending 3, running 1, done 5 (1 failed) of 12 runs", that starts with
"finished" once no job of the sweep is pending or running any more. Writes
SWEEP_DIR/scheduler.json: each partition's build job and each run's array task as last seen
(state, reason, exit code, node), merged with what earlier calls saw, so that the states
outlive the scheduler's memory of finished jobs (MinJobAge). The runs' own status files are
the ground truth; scheduler.json is for what a run cannot write itself (TIMEOUT, CANCELLED,
a build that failed so the run never started).

Queries `squeue --json` and, when accounting exists and squeue no longer lists a job,
`sacct --json`, both with jmespath. Runs on the cluster's login node with the Python Ansible
uses there (jmespath is copied beside it when that Python lacks it). Exit status 0 whatever
the scheduler says (a failed query is reported and retried at the next poll); 2 on bad usage.
"""

import datetime
import json
import os
import subprocess
import sys

import jmespath

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

# One record per job or array task; squeue --json of Slurm 22.05 (v0.0.38) and later.
SQUEUE_FIELDS = (
    "{job_id: job_id, array_job_id: array_job_id, array_task_id: array_task_id, "
    "array_tasks: array_task_string, state: job_state, reason: state_reason, "
    "exit_code: exit_code, node: nodes, name: name}"
)
SACCT_FIELDS = (
    "{job_id: job_id, array_job_id: array.job_id, array_task_id: array.task_id, "
    "state: state.current, reason: state.reason, exit_code: exit_code, node: nodes, name: name}"
)
QUERY_TIMEOUT = 120  # seconds


def read_jobs(sweep_dir):
    """slurm-jobs.tsv, written at submit time: partition, build job, the run arrays' job ids
    (comma-joined: one array per thread count when not exclusive; their task ids all count
    from offset), offset, the arrays' tasks (its runs, after its bandwidth measurements and
    warm-up runs), and the profiling array job ("-" for none) and its tasks (the manifest
    lines after the runs)."""
    partitions = []
    with open(os.path.join(sweep_dir, "slurm-jobs.tsv")) as jobs:
        for line in jobs:
            name, build, arrays, offset, runs, *profiles = line.rstrip("\n").split("\t")
            profile_job, profile_tasks = profiles or ("-", "0")
            partitions.append(
                {
                    "name": name,
                    "build_job_id": int(build),
                    "array_job_ids": [int(array) for array in arrays.split(",")],
                    "offset": int(offset),
                    "runs": int(runs),
                    "profile_job_id": None if profile_job == "-" else int(profile_job),
                    "profile_tasks": int(profile_tasks),
                }
            )
    return partitions


def arrays_of(partitions):
    """Array job id -> (manifest index of its task 0, its tasks): runs and profiling runs."""
    arrays = {}
    for partition in partitions:
        for array in partition["array_job_ids"]:
            arrays[array] = (partition["offset"], partition["runs"])
        if partition["profile_job_id"] is not None:
            first = partition["offset"] + partition["runs"]
            arrays[partition["profile_job_id"]] = (first, partition["profile_tasks"])
    return arrays


def read_run_names(sweep_dir):
    """Manifest index -> run name (manifest.tsv's first two columns)."""
    names = {}
    with open(os.path.join(sweep_dir, "manifest.tsv")) as manifest:
        for line in manifest:
            fields = line.split("\t", 2)
            if len(fields) >= 2:
                names[int(fields[0])] = fields[1]
    return names


def ours(job_ids):
    """A jmespath filter keeping the records of these jobs and of their array tasks."""
    literal = json.dumps(sorted(job_ids))
    return f"[?contains(`{literal}`, job_id) || contains(`{literal}`, array_job_id)]"


def query(command, fields, job_ids):
    """Run a scheduler command printing JSON; our jobs' records through jmespath."""
    answer = subprocess.run(
        command, capture_output=True, text=True, timeout=QUERY_TIMEOUT, check=False
    )
    if answer.returncode != 0:
        raise RuntimeError(" ".join(answer.stderr.split())[:300] or f"exit {answer.returncode}")
    records = jmespath.search(f"jobs[].{fields} | {ours(job_ids)}", json.loads(answer.stdout))
    return [normalise(record) for record in records or []]


def normalise(record):
    """Plain values whatever the Slurm version: state a string, exit code "RC:SIGNAL"."""
    state = record.get("state")
    if isinstance(state, list):  # Slurm 23.02+: a list of flags, the base state first
        state = state[0] if state else None
    record["state"] = state or "UNKNOWN"
    record["exit_code"] = exit_code_text(record.get("exit_code"))
    for key in ("job_id", "array_job_id", "array_task_id"):
        record[key] = number(record.get(key))
    return record


def number(value):
    """An integer from Slurm's JSON: a plain int, or {set, infinite, number} (23.02+)."""
    if isinstance(value, dict):
        value = value.get("number") if value.get("set", True) else None
    return value if isinstance(value, int) else None


def exit_code_text(code):
    """Slurm's "RETURN_CODE:SIGNAL": from a raw wait status (22.05) or a mapping (sacct, 23+)."""
    if isinstance(code, dict):
        signal = code.get("signal") or {}
        signal = signal.get("signal_id", signal.get("id", 0)) if isinstance(signal, dict) else 0
        return f"{number(code.get('return_code')) or 0}:{number(signal) or 0}"
    if isinstance(code, int):
        return f"{code >> 8}:{code & 0x7F}"
    return None


def task_ids(text, count):
    """Task ids of an array_task_string such as "0-11%1", "3,5-7" or "0-15:4"."""
    text = (text or "").split("%")[0]
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
    """Fold scheduler records into state["builds"] and state["runs"] (by manifest index)."""
    builds = {p["build_job_id"]: p for p in partitions}
    arrays = arrays_of(partitions)
    seen = set()
    for record in records:
        entry = {
            key: record.get(key)
            for key in ("job_id", "array_job_id", "state", "reason", "exit_code", "node")
        }
        if record["job_id"] in builds and not record.get("array_job_id"):
            partition = builds[record["job_id"]]
            state["builds"][partition["name"]] = entry
            seen.add(record["job_id"])
            continue
        if record["array_job_id"] not in arrays:
            continue
        first, count = arrays[record["array_job_id"]]
        seen.add(record["array_job_id"])
        if record["array_task_id"] is not None and not record.get("array_tasks"):
            tasks = [record["array_task_id"]]
        else:  # one record for the tasks that have not started (or never will)
            tasks = task_ids(record.get("array_tasks"), count)
            entry["job_id"] = None
        for task in tasks:
            if not 0 <= task < count:
                continue
            state["runs"][str(first + task)] = {**entry, "array_task_id": task}
    return seen


def run_progress(sweep_dir, partitions, run_names, state, active_arrays):
    """Counts of runs pending, running, done and failed; the status files are ground truth.
    Bandwidth measurements and warm-up runs (names with a '/') are not runs."""
    counts = {"pending": 0, "running": 0, "done": 0, "failed": 0}
    runs_dir = os.path.join(sweep_dir, "runs")
    for partition in partitions:
        for index in range(partition["offset"], partition["offset"] + partition["runs"]):
            if "/" in run_names.get(index, ""):
                continue
            status = read_status(os.path.join(runs_dir, run_names.get(index, ""), "status"))
            scheduled = state["runs"].get(str(index), {}).get("state")
            if status is not None:
                counts["done"] += 1
                counts["failed"] += status != "0"
            elif scheduled in FINAL_STATES:
                counts["done"] += 1
                counts["failed"] += 1
            elif scheduled in WAITING_STATES or (
                scheduled is None and not active_arrays.isdisjoint(partition["array_job_ids"])
            ):
                counts["pending"] += 1
            elif scheduled is None:
                counts["done"] += 1
                counts["failed"] += 1
            else:
                counts["running"] += 1
    return counts


def read_status(path):
    try:
        with open(path) as status:
            return status.read().strip()
    except OSError:
        return None


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
    partitions = read_jobs(sweep_dir)
    run_names = read_run_names(sweep_dir)
    state_path = os.path.join(sweep_dir, "scheduler.json")
    state = load_state(state_path)
    job_ids = {p["build_job_id"] for p in partitions} | set(arrays_of(partitions))
    try:
        current = query(["squeue", "--json"], SQUEUE_FIELDS, job_ids)
    except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as error:
        return f"squeue failed ({error}); asking again at the next poll"
    listed = {r["job_id"] for r in current} | {r["array_job_id"] for r in current}
    if job_ids - listed and state["accounting"] is not False:
        # Some job left squeue (MinJobAge): accounting, when there is any, knows how it ended.
        ids = ",".join(str(job) for job in sorted(job_ids))
        try:
            older = query(["sacct", "--json", f"--jobs={ids}"], SACCT_FIELDS, job_ids)
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
    counts = run_progress(sweep_dir, partitions, run_names, state, active)
    state["updated"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    state["finished"] = finished
    save_state(state_path, state)
    line = (
        f"pending {counts['pending']}, running {counts['running']}, done {counts['done']} "
        f"({counts['failed']} failed) of "
        f"{counts['pending'] + counts['running'] + counts['done']} runs"
    )
    builds = []
    for partition in partitions:
        build = (
            state["builds"]
            .get(partition["name"], {})
            .get("state", "UNKNOWN" if finished else "PENDING")
        )
        if build != "COMPLETED":
            builds.append(f"{partition['name']} {build}")
    if builds:
        line += "; builds: " + ", ".join(builds)
    profiles = [
        name[len("profile/") :] for name in run_names.values() if name.startswith("profile/")
    ]
    if profiles:
        recorded = sum(
            os.path.isfile(os.path.join(sweep_dir, "profiles", name, "profile.json"))
            for name in profiles
        )
        line += f"; profiles {recorded}/{len(profiles)}"
    return f"finished: {line}" if finished else line


def main(argv):
    if len(argv) != 2 or not os.path.isfile(os.path.join(argv[1], "slurm-jobs.tsv")):
        print(f"usage: {argv[0]} SWEEP_DIR (a submitted Slurm sweep)", file=sys.stderr)
        return 2
    print(progress(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
