#!/usr/bin/env python3
"""The Slurm backend (the interface: backends.py): the partition query's reading
(partitions), Slurm's final job states and the status each gives a run (FINAL_STATES,
scheduled_status, which the collector calls), and the progress report of a submitted sweep,
which the wait runs on the cluster's login node:

Usage: backend_slurm.py SWEEP_DIR   (the sweep's tools/backend_slurm.py)

Prints one line, "pending 3 (Dependency 3), running 1, done 5 (1 failed) of 12 runs", that
starts with "finished" once every task of the sweep and every build job has ended on
evidence: the task's own status file, or a final scheduler record (squeue's or sacct's) whose
state does not say it will run again. A job in neither answer is "not seen", never failed: the
wait asks again. A task that stays in neither answer and wrote no status file for the
cluster's MinJobAge and LOST_AFTER_POLLS queries is "lost" (its last known state kept) where
the cluster has no accounting, or where accounting answers about its array but has no record
of it (dropped_tasks); the wait goes on for the rest. Writes SWEEP_DIR/scheduler.json:
each partition's build job and each task's array task as last seen (state, reason, exit
code, node), merged with what earlier calls saw, so that the states outlive the scheduler's
memory of finished jobs. The status files are the ground truth; scheduler.json is for what a
run cannot write itself (TIMEOUT, CANCELLED, a build that failed so the run never started).

Asks the scheduler rarely, and only about the sweep's own jobs (--me, --jobs=): squeue and,
for the tasks squeue does not list, sacct (unless the scheduler said accounting is off), at
most once per sweep.json's slurm.query_interval; between queries progress comes from the
status files, and the end of the sweep (every task settled by its files) is checked with one
query at once.
A failed sacct call is transient: asked again at the next query. Every Slurm from 22.05 to
25.11: each record is normalised first (numbers from 23.02's {"set", "infinite", "number"},
state lists, exit codes as raw wait statuses or structured, sacct's hexadecimal bitmask of an
array's never-started tasks), then the sweep's are kept with jmespath. Where Slurm was built
without JSON (sweep.json's slurm.query is "text", probed once at submit time) the same
records come from `squeue --format` and `sacct --parsable2`. Runs on the cluster's login node
with the Python Ansible uses there (3.7 or later; jmespath is copied beside it when that
Python lacks it). Exit status 0 whatever the scheduler says (a failed query is reported and
retried at the next poll); 2 on bad usage.
"""

import collections
import datetime
import json
import os
import re
import subprocess
import sys
import time

import jmespath

try:  # in the collection: the controller (the plan's filters, the collector)
    from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_rules import (
        STATUS_CANCELLED,
        STATUS_FAILED,
        STATUS_TIMEOUT,
        read_status,
        task_dir_ok,
    )
except ImportError:  # on the cluster: the sweep's tools/, beside sweep_rules.py
    from sweep_rules import (
        STATUS_CANCELLED,
        STATUS_FAILED,
        STATUS_TIMEOUT,
        read_status,
        task_dir_ok,
    )

NAME = "slurm"
# The sweep lives on cluster storage; the controller's results/<id>/ holds remote.json.
REMOTE = True
# A task's facts that run-task.sh reads (backends.TASK_FIELDS), each from this variable of
# the array task's environment.
TASK_ENVIRONMENT = {
    "array_task_id": "SLURM_ARRAY_TASK_ID",
    "array_job_id": "SLURM_ARRAY_JOB_ID",
    "job_id": "SLURM_JOB_ID",
}
# Where Slurm writes an array task's output, in the sweep's directory: submit-slurm.sh's
# --output, and run-task.sh's slurm.out link to it (%A: the array's job id, %a: the task id).
TASK_OUTPUT = "slurm/%A_%a.out"

# Job states, one name each as Slurm's job_state_string() gives it (squeue --format=%T, 22.05
# and 23.02's JSON): a state flag, when set, names the state in place of the base state, the
# first of STATE_FLAGS (its order in src/common/slurm_protocol_defs.c). 23.11+ JSON lists the
# base state then its flags: state_name() applies the same order, so the JSON and the text
# paths name a job alike. Meanings: squeue(1), JOB STATE CODES,
# https://slurm.schedmd.com/squeue.html#SECTION_JOB-STATE-CODES, and sacct(1), JOB STATE CODES.
STATE_FLAGS = (
    "COMPLETING",  # "in the process of completing": processes may still be active
    "STAGE_OUT",  # "staging out files": not ended yet
    "CONFIGURING",  # "allocated resources, but waiting for them to become ready"
    "RESIZING",  # "about to change size"
    "REQUEUED",  # "completing job is being requeued": runs again
    "REQUEUE_FED",  # "being requeued by a federation": runs again
    "REQUEUE_HOLD",  # "held job is being requeued": runs again once released
    "SPECIAL_EXIT",  # "requeued in a special state" (held): runs again once released
    "STOPPED",  # "execution has been stopped with SIGSTOP": holds its CPUs
    "REVOKED",  # "sibling was removed ... due to other cluster starting the job": runs there
    "RESV_DEL_HOLD",  # "held after requested reservation was deleted": runs once released
    "SIGNALING",  # "being signaled": not ended yet
)
# Slurm's final job states (squeue(1) and sacct(1), JOB STATE CODES: ended, and without a
# requeue flag not to run again), and the status each gives a run that wrote no status file
# of its own (None: the state says nothing of how the run ended). The progress report ends
# the wait on them; the collector's row takes the status (scheduled_status).
FINAL_STATES = {
    "COMPLETED": None,
    "FAILED": STATUS_FAILED,
    "OUT_OF_MEMORY": STATUS_FAILED,
    "NODE_FAIL": STATUS_FAILED,
    "BOOT_FAIL": STATUS_FAILED,
    "DEADLINE": STATUS_FAILED,
    "TIMEOUT": STATUS_TIMEOUT,
    "CANCELLED": STATUS_CANCELLED,
    "PREEMPTED": STATUS_CANCELLED,  # "terminated due to preemption"
}


def partitions(lines):
    """{"cores": {partition: CPUs per node}, "nodes": {partition: node count}} from the lines
    of `sinfo --noheader --format='%R %c %D'` (the role's query). sinfo gives a partition one
    line per group of nodes (of one state and configuration; "64+" is the least of a group):
    a partition's nodes are the sum of its lines, its CPUs per node the least, so that a task
    fits on any of its nodes."""
    cores, nodes = {}, {}
    for line in lines:
        name, cpus, count = line.split()
        cpus = int(cpus.rstrip("+"))
        cores[name] = min(cpus, cores.get(name, cpus))
        nodes[name] = nodes.get(name, 0) + int(count)
    return {"cores": cores, "nodes": nodes}


def scheduled_status(started, output_text, job, build, build_error, partition):
    """(status, reason) of a task that left no status file, from the scheduler's last view
    (scheduler.json): its array task (job) and its partition's build job (build), with the
    first line of the build's build.err (build_error) and Slurm's output of the task
    (output_text: slurm.out); started: whether its directory exists. None when they say
    nothing of how it ended."""
    state = job.get("state")
    job_name = f"Slurm job {job.get('job_id') or job.get('array_job_id', '?')}"
    if job.get("array_task_id") is not None and job.get("array_job_id"):
        job_name += f" ({job['array_job_id']}_{job['array_task_id']})"
    build_state = build.get("state")
    if not started and build_state not in (None, "COMPLETED", "PENDING", "RUNNING", "UNKNOWN"):
        error = f": {build_error}" if build_error else ""
        return STATUS_FAILED, (
            f"build job {build.get('job_id')} of partition {partition} ended "
            f"{build_state} (exit {build.get('exit_code')}), so the run never started{error}"
        )
    ended = FINAL_STATES.get(state)
    if ended == STATUS_TIMEOUT or "DUE TO TIME LIMIT" in output_text:
        return STATUS_TIMEOUT, f"{job_name} reached its time limit (TIMEOUT)"
    if ended == STATUS_CANCELLED or (state is None and "CANCELLED AT" in output_text):
        reason = job.get("reason")
        detail = f", {reason}" if reason and reason != "None" else ""
        return STATUS_CANCELLED, f"{job_name} was cancelled ({state or 'CANCELLED'}{detail})"
    if ended == STATUS_FAILED:
        return STATUS_FAILED, (
            f"{job_name} ended {state} (exit {job.get('exit_code')}, reason {job.get('reason')})"
        )
    if "oom_kill" in output_text or "oom-kill" in output_text:
        return STATUS_FAILED, f"{job_name} ran out of memory (OUT_OF_MEMORY)"
    if job.get("lost"):  # the progress report's word: no answer had it, nor will
        return STATUS_FAILED, (
            f"{job_name} was lost: in neither squeue nor sacct, no status file "
            f"(last seen {state or 'never'}); make resume runs it again"
        )
    return None


# Not started yet, or ended and to run again later.
WAITING_STATES = frozenset(
    ("PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SPECIAL_EXIT", "RESV_DEL_HOLD")
)
# Started and not ended. Any other name (a state this code does not know, or none at all)
# counts as not final too, and as running in the progress line.
STARTED_STATES = frozenset(
    (
        "RUNNING",
        "SUSPENDED",
        "CONFIGURING",
        "COMPLETING",
        "STAGE_OUT",
        "RESIZING",
        "STOPPED",
        "SIGNALING",
        "REVOKED",
    )
)
# Slurm's "no value" and "infinite" in a uint32 (22.05 prints them as plain numbers).
NO_VALUE = 0xFFFFFFFE
# A job's node list before it ran: squeue's and sacct's.
NO_NODE = (None, "", "None assigned")

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
# What sacct (and its JSON) says on a cluster without accounting; any other failure of sacct
# (slurmdbd down, a timeout) is transient.
ACCOUNTING_OFF = re.compile(r"accounting storage is disabled", re.IGNORECASE)
QUERY_TIMEOUT = 120  # seconds
# At most one squeue (and one sacct) per this many seconds where sweep.json does not say
# (its slurm.query_interval, the sweep's sweep_poll_max_interval): 2 scheduler calls a minute.
DEFAULT_QUERY_INTERVAL_S = 60
# A task in neither answer (and without a status file) for this many queries, and for
# longer than the cluster's MinJobAge, is lost where accounting has no record of it.
LOST_AFTER_POLLS = 3
DEFAULT_MIN_JOB_AGE_S = 300  # Slurm's default, where scontrol cannot say
# Full array task lists: without it Slurm cuts them at 64 characters and adds "...".
QUERY_ENVIRONMENT = {**os.environ, "SLURM_BITSTR_LEN": "0"}


def read_jobs(sweep_dir):
    """The sweep's submissions and plan: plan.json, and a record per line of
    slurm-jobs.tsv (written at submit time: partition, build job, the job ids of its arrays
    comma-joined, its profiling array's job or "-", and the arrays as submitted,
    FIRST_INDEX:ARRAY space-separated, runs then profiles; a line without them has the
    plan's arrays). A resumed sweep adds lines for the same partitions. Each record gets
    "jobs": {array job id: (first_index, task ids)} (task id i runs task first_index + i)."""
    with open(os.path.join(sweep_dir, "plan.json"), encoding="utf-8") as plan_file:
        plan = json.load(plan_file)
    planned = {partition["name"]: partition for partition in plan["partitions"]}
    partitions = []
    with open(os.path.join(sweep_dir, "slurm-jobs.tsv"), encoding="utf-8") as jobs:
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
    return partitions, plan


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
    """A scheduler command's stdout; RuntimeError with its message when it fails. Decoded
    here, never failing: any user's job name may hold bytes that are no UTF-8 (22.05's squeue
    lists other users' jobs whatever --me says), and no such byte may fail a poll."""
    answer = subprocess.run(
        command,
        capture_output=True,
        timeout=QUERY_TIMEOUT,
        check=False,
        env=QUERY_ENVIRONMENT,
    )
    if answer.returncode != 0:
        message = (answer.stderr or answer.stdout).decode("utf-8", "replace")
        raise RuntimeError(" ".join(message.split())[:300] or f"exit {answer.returncode}")
    return answer.stdout.decode("utf-8", "replace")


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
        answer = run_query(["sacct", "--json", jobs_option(job_ids)])
        accounting_off(answer)
        raw = jmespath.search(SACCT_JSON_FIELDS, json.loads(answer))
    else:
        command = ["sacct", "--parsable2", "--noheader", "--allocations", jobs_option(job_ids)]
        answer = run_query([*command, f"--format={SACCT_TEXT_FORMAT}"])
        accounting_off(answer)
        raw = [sacct_text_record(line) for line in answer.splitlines() if line.strip()]
    return selected(raw, job_ids)


def accounting_off(answer):
    """RuntimeError with sacct's words where it says, even with exit 0, that there is no
    accounting."""
    if ACCOUNTING_OFF.search(answer):
        raise RuntimeError(" ".join(answer.split())[:300])


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
    """Plain values whatever the Slurm version: state one name (state_name), exit code
    "RC:SIGNAL", ids integers or None (None, not 0, for a job that is no array)."""
    record["state"] = state_name(record.get("state"))
    record["exit_code"] = exit_code_text(record.get("exit_code"))
    for key in ("job_id", "array_job_id", "array_task_id"):
        record[key] = number(record.get(key))
    record["array_job_id"] = record["array_job_id"] or None
    tasks = record.get("array_tasks")
    record["array_tasks"] = tasks if isinstance(tasks, str) else ""
    return record


def state_name(state):
    """A job's state as one name, the one squeue --format=%T prints: a string as it is (22.05,
    23.02, squeue's text), the first word of sacct's "CANCELLED by 1000"; of 23.11's list (the
    base state, then its flags) the first of STATE_FLAGS set, else the base state. None when
    the record has no state."""
    if isinstance(state, list):
        names = [name for name in state if isinstance(name, str)]
        flags = [flag for flag in STATE_FLAGS if flag in names[1:]]
        state = (flags or names or [None])[0]
    if isinstance(state, str) and state.split():
        return state.split()[0]
    return None


def is_final(entry):
    """Whether a scheduler record says its job ended and will not run again."""
    return (entry or {}).get("state") in FINAL_STATES


def started(entry):
    """Whether a scheduler record shows its job started: running, or ended on a node."""
    state = (entry or {}).get("state")
    node = (entry or {}).get("node")
    return state in STARTED_STATES or (state in FINAL_STATES and node not in NO_NODE)


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


def current_jobs(partitions):
    """The sweep's jobs as last submitted (a resumed sweep's lines take over the tasks they run
    again; job ids grow): {task index: (array job id, task id)} and {partition: (build job
    id, its run arrays' job ids)}."""
    owners, builds = {}, {}
    for partition in partitions:
        builds[partition["name"]] = (partition["build_job_id"], set(partition["array_job_ids"]))
        for job, (first, ids) in partition["jobs"].items():
            for task in ids:
                owners[first + task] = (job, task)
    return owners, builds


def apply(records, partitions, state, listed=None):
    """Fold scheduler records into state["builds"] and state["runs"] (by task index); the
    units they show of the sweep's current jobs: ("build", partition), ("task", index).
    Accounting's records (listed: the units squeue's answer showed) fill only the others:
    squeue's are fresher."""
    from_accounting = listed is not None
    owners, builds = current_jobs(partitions)
    build_names = {p["build_job_id"]: p["name"] for p in partitions}
    arrays = arrays_of(partitions)
    seen = set()
    for record in records:
        entry = {
            key: record.get(key)
            for key in ("job_id", "array_job_id", "state", "reason", "exit_code", "node")
        }
        if record["job_id"] in build_names and not record.get("array_job_id"):
            name = build_names[record["job_id"]]
            if from_accounting and ("build", name) in listed:
                continue
            if builds[name][0] == record["job_id"]:
                seen.add(("build", name))
            update(state["builds"], name, entry, "job_id", from_accounting)
            continue
        if record["array_job_id"] not in arrays:
            continue
        first, ids = arrays[record["array_job_id"]]
        if record["array_task_id"] is not None and not record.get("array_tasks"):
            tasks = [record["array_task_id"]]
        elif record.get("array_tasks"):  # one record for the tasks not started (or never to)
            tasks = task_ids(record["array_tasks"], max(ids) + 1)
            entry["job_id"] = None
        else:  # no task id: the task this job id was seen to run, if any
            tasks = [
                run["array_task_id"]
                for run in state["runs"].values()
                if record["job_id"] is not None
                and (run.get("job_id"), run.get("array_job_id"))
                == (record["job_id"], record["array_job_id"])
            ]
            if not tasks:
                state["unattributed"].append(record["job_id"] or record["array_job_id"])
        for task in tasks:
            index = first + task
            if task not in ids or (from_accounting and ("task", index) in listed):
                continue
            if owners[index] == (record["array_job_id"], task):
                seen.add(("task", index))
            update(state["runs"], str(index), {**entry, "array_task_id": task}, "array_job_id",
                   from_accounting)  # fmt: skip
    return seen


def update(entries, key, entry, job_key, from_accounting):
    """entries[key] = entry, unless an earlier submission's (newest), or what entries[key]
    knows of the same job is better: a record without a state only says the job is listed,
    and accounting lags behind squeue (a non-final record of a job seen final is older)."""
    previous = entries.get(key) or {}
    if not newest(previous, entry, job_key):
        return
    if previous.get(job_key) == entry[job_key] and (
        entry["state"] is None or (from_accounting and is_final(previous) and not is_final(entry))
    ):
        return
    entries[key] = entry


def task_standing(entry, job, settled_by_status):
    """Where a task stands: "status" (its status file), "final" (a final record of its
    current array job), "lost", "unseen" (no record of its current job, or in neither answer
    at the last query), "waiting" or "running"."""
    entry = entry or {}
    if settled_by_status:
        return "status"
    if entry.get("lost") and entry.get("unseen_job") == job:
        return "lost"
    if entry.get("array_job_id") != job or entry.get("unseen_polls"):
        return "unseen"
    if is_final(entry):
        return "final"
    return "waiting" if entry.get("state") in WAITING_STATES else "running"


def build_standing(entry, job, runs_started):
    """Where a build job stands, as task_standing. Where its runs started it has completed
    (they depend on it afterok), whatever an older record or no answer says."""
    entry = entry or {}
    if (is_final(entry) and entry.get("job_id") == job) or runs_started:
        return "final"
    if entry.get("job_id") != job or entry.get("unseen_polls"):
        return "lost" if entry.get("lost") and entry.get("unseen_job") == job else "unseen"
    return "waiting" if entry.get("state") in WAITING_STATES else "running"


SETTLED = frozenset(("status", "final", "lost"))
STANDINGS = (*SETTLED, "unseen", "waiting", "running")


def standings(partitions, state, statuses):
    """{unit: standing} of the sweep's current tasks and builds (statuses: {task index: its
    status file's (text, mtime)}). A status file settles its task, unless a query saw the
    task waiting to run again after it was written (requeued: {index: when})."""
    owners, builds = current_jobs(partitions)
    requeued = state.get("requeued", {})
    result = {}
    for index, (job, _) in owners.items():
        status = statuses.get(index)
        by_status = status is not None and status[1] >= requeued.get(str(index), 0)
        result[("task", index)] = task_standing(state["runs"].get(str(index)), job, by_status)
    for name, (job, arrays) in builds.items():
        runs_started = any(
            result[("task", index)] == "status"
            or (
                state["runs"].get(str(index), {}).get("array_job_id") == array
                and started(state["runs"][str(index)])
            )
            for index, (array, _) in owners.items()
            if array in arrays
        )
        build = state["builds"].get(name) or {}
        result[("build", name)] = build_standing(build, job, runs_started)
        if result[("build", name)] == "final" and not (
            is_final(build) and build.get("job_id") == job
        ):
            state["builds"][name] = {
                "job_id": job, "array_job_id": None, "state": "COMPLETED",
                "reason": "its runs started (afterok)", "exit_code": None, "node": None,
            }  # fmt: skip
    return result


def unit_job(unit, current):
    """The job id of a unit's current job (current: current_jobs' answer)."""
    owners, builds = current
    kind, key = unit
    return owners[key][0] if kind == "task" else builds[key][0]


def unit_entry(state, unit):
    kind, key = unit
    return state["runs" if kind == "task" else "builds"].setdefault(str(key), {})


def query(way, partitions, state, statuses, now):
    """Ask the scheduler about the sweep's unsettled units (once every task is settled, about
    every current job: how each ended, and whether one was requeued), fold the answers into
    state and keep count of the units in neither."""
    current = current_jobs(partitions)
    units = standings(partitions, state, statuses)
    unsettled = {unit for unit, standing in units.items() if standing not in SETTLED}
    asked = unsettled if any(kind == "task" for kind, _ in unsettled) else set(units)
    state["unattributed"] = []
    seen = apply(squeue(way, {unit_job(unit, current) for unit in asked}), partitions, state)
    # A task seen waiting though it wrote its status file was requeued: that file is no end
    # until the task writes it again.
    requeued = state.get("requeued", {})
    for index in statuses:
        if ("task", index) in seen and state["runs"][str(index)]["state"] in WAITING_STATES:
            requeued.setdefault(str(index), now)
    state["requeued"] = {
        index: when
        for index, when in requeued.items()
        if int(index) in statuses and statuses[int(index)][1] < when
    }
    absent = unsettled - seen
    dropped = set()
    if absent and state["accounting"] is not False:
        # Jobs squeue does not list (MinJobAge, or never seen): accounting, when there is any,
        # knows how they ended, or that they still run (slurmdbd lags on a busy cluster).
        try:
            older = sacct(way, {unit_job(unit, current) for unit in absent})
            seen |= apply(older, partitions, state, listed=set(seen))
            dropped = dropped_tasks(older, absent - seen, current)
            state["accounting"] = True
            state.pop("accounting_error", None)
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as error:
            if ACCOUNTING_OFF.search(str(error)):
                state["accounting"] = False
            else:  # slurmdbd down or slow: asked again at the next query
                state["accounting_error"] = str(error)
    for unit in unsettled & seen:
        for key in ("unseen_job", "unseen_polls", "unseen_since", "lost"):
            unit_entry(state, unit).pop(key, None)
    for unit in unsettled - seen:
        entry = unit_entry(state, unit)
        job = unit_job(unit, current)
        if entry.get("unseen_job") != job:  # counted afresh for a resumed sweep's new job
            entry.update(unseen_job=job, unseen_polls=0, unseen_since=now)
            entry.pop("lost", None)
        entry["unseen_polls"] += 1
        unrecorded = state["accounting"] is False or unit in dropped
        if unrecorded and entry["unseen_polls"] >= LOST_AFTER_POLLS:
            if now - entry["unseen_since"] >= min_job_age(state):
                entry["lost"] = True
    state["queried"] = now


def dropped_tasks(records, units, current):
    """The tasks of units that accounting will never have a record of: it answered about
    their array job, but no record names them, not even its record of the tasks still to
    start. Slurm 24.11 drops an array task cancelled while pending that way (from squeue at
    once, and from the array's pending record in sacct; tests/data/slurm/24.11-accounting).
    Until slurmdbd has heard that a task started, its array's pending record still lists it,
    so a task that has started is not one of these."""
    answered = {record["array_job_id"] for record in records if record.get("array_job_id")}
    owners = current[0]
    return {
        (kind, index) for kind, index in units if kind == "task" and owners[index][0] in answered
    }


def min_job_age(state):
    """The cluster's MinJobAge in seconds (asked once a sweep, when first needed): how long
    slurmctld keeps a finished job, so how long squeue can miss one that ended unseen."""
    if "min_job_age" not in state:
        try:
            config = run_query(["scontrol", "show", "config"])
            found = re.search(r"^MinJobAge\s*=\s*(\d+)", config, re.MULTILINE)
        except (RuntimeError, OSError, subprocess.TimeoutExpired):
            found = None
        state["min_job_age"] = int(found.group(1)) if found else DEFAULT_MIN_JOB_AGE_S
    return state["min_job_age"]


def read_statuses(sweep_dir, tasks, partitions, outcomes):
    """{task index: (status text, mtime, ok)} of the sweep's current tasks with a status
    file; ok: sweep_rules.task_ok of its files, read once a status file (the task's last
    word: its stderr is complete) and kept in outcomes ({index: [mtime, ok]})."""
    owners, _ = current_jobs(partitions)
    statuses = {}
    for index in owners:
        path = os.path.join(sweep_dir, tasks[index]["dir"], "status")
        text = read_status(path)
        if text is None:
            continue
        try:
            mtime = os.stat(path).st_mtime
        except OSError:
            continue
        known = outcomes.get(str(index))
        if not known or known[0] != mtime:
            known = outcomes[str(index)] = [mtime, task_dir_ok(sweep_dir, tasks[index], text)]
        statuses[index] = (text, mtime, known[1])
    return statuses


def known_reason(reason):
    """A pending reason worth showing (Slurm says "None" when it has none)."""
    return reason not in (None, "", "None")


def slurm_settings(sweep_dir):
    """sweep.json's slurm: how the scheduler is asked ("json", or "text" where Slurm was
    built without JSON support; probed once at submit time) and at most how often (seconds:
    the sweep's sweep_poll_max_interval)."""
    try:
        with open(os.path.join(sweep_dir, "sweep.json")) as sweep:
            settings = jmespath.search("slurm", json.load(sweep)) or {}
    except (OSError, ValueError):
        settings = {}
    way = settings.get("query")
    try:
        interval = max(1, int(settings.get("query_interval")))
    except (TypeError, ValueError):
        interval = DEFAULT_QUERY_INTERVAL_S
    return (way if way in ("json", "text") else "json"), interval


def load_state(path):
    try:
        with open(path) as previous:
            state = json.load(previous)
    except (OSError, ValueError):
        state = {}
    state.setdefault("builds", {})
    state.setdefault("runs", {})
    state.setdefault("accounting", None)
    state.setdefault("unattributed", [])
    state.setdefault("outcomes", {})
    return state


def save_state(path, state):
    temporary = f"{path}.{os.getpid()}.tmp"
    with open(temporary, "w") as out:
        json.dump(state, out, indent=1, sort_keys=True)
        out.write("\n")
    os.replace(temporary, path)


def progress(sweep_dir):
    """The progress line; updates sweep_dir/scheduler.json."""
    partitions, plan = read_jobs(sweep_dir)
    tasks = {task["index"]: task for task in plan["tasks"]}
    state_path = os.path.join(sweep_dir, "scheduler.json")
    state = load_state(state_path)
    statuses = read_statuses(sweep_dir, tasks, partitions, state["outcomes"])
    now = time.time()
    settled = set(standings(partitions, state, statuses).values()) <= SETTLED
    way, query_interval = slurm_settings(sweep_dir)
    # The scheduler is asked once a query_interval, and once more when the files say every
    # task ended (how each job ended, and none was requeued); the files say the rest.
    asked = not 0 <= now - (state.get("queried") or 0) < query_interval or (
        settled and not state.get("finished")
    )
    if asked:
        try:
            query(way, partitions, state, statuses, now)
        except (RuntimeError, OSError, ValueError, subprocess.TimeoutExpired) as error:
            return f"squeue failed ({error}); asking again at the next poll"
    units = standings(partitions, state, statuses)
    finished = set(units.values()) <= SETTLED and bool(asked or state.get("finished"))
    state["backend"] = NAME  # whose states these are: the collector reads them by its rules
    state["updated"] = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    state["finished"] = finished
    save_state(state_path, state)
    line = runs_line(units, tasks, state, statuses)
    builds = []
    for name in dict.fromkeys(partition["name"] for partition in partitions):
        build = state["builds"].get(name, {})
        standing = units[("build", name)]
        build_state = {"unseen": "not seen", "lost": "lost"}.get(
            standing, build.get("state") or "state not given"
        )
        if standing == "waiting" and known_reason(build.get("reason")):
            build_state += f" ({build['reason']})"
        if build_state != "COMPLETED":
            builds.append(f"{name} {build_state}")
    if builds:
        line += "; builds: " + ", ".join(builds)
    profiles = [task["dir"] for task in tasks.values() if task["kind"] == "profile"]
    if profiles:
        recorded = sum(os.path.isfile(os.path.join(sweep_dir, path, "status")) for path in profiles)
        line += f"; profiles {recorded}/{len(profiles)}"
    if state["unattributed"]:
        line += f"; records without a task id: jobs {', '.join(map(str, state['unattributed']))}"
    if finished and any(standing == "lost" for standing in units.values()):
        line += f"; `make resume SWEEP={plan['sweep_id']}` runs them again"
    return f"finished: {line}" if finished else line


def runs_line(units, tasks, state, statuses):
    """ "pending P (REASON n, ...), running R[, not seen U (why)], done D (F failed) of N runs
    [; lost L (...)]": the plan's runs (not warm-ups, bandwidth or profiling tasks)."""
    counts = collections.Counter()
    reasons = collections.Counter()
    lost = collections.Counter()
    for (kind, index), standing in units.items():
        if kind != "task" or tasks[index]["kind"] != "run":
            continue
        entry = state["runs"].get(str(index), {})
        counts[standing] += 1
        if standing == "status":
            counts["failed"] += not statuses[index][2]
        elif standing in ("final", "lost"):
            counts["failed"] += 1
        if standing == "lost":
            lost[f"last seen {entry['state']}" if entry.get("state") else "never seen"] += 1
        if standing == "waiting" and known_reason(entry.get("reason")):
            reasons[entry["reason"]] += 1
    done = counts["status"] + counts["final"] + counts["lost"]
    waiting = ", ".join(f"{reason} {count}" for reason, count in reasons.most_common())
    line = f"pending {counts['waiting']}{f' ({waiting})' if waiting else ''}, "
    line += f"running {counts['running']}, "
    if counts["unseen"]:
        why = state.get("accounting_error")
        line += f"not seen {counts['unseen']}{f' (sacct failed: {why})' if why else ''}, "
    line += f"done {done} ({counts['failed']} failed) of {sum(counts[s] for s in STANDINGS)} runs"
    if lost:
        kinds = ", ".join(f"{what} {count}" for what, count in lost.most_common())
        line += (
            f"; lost {counts['lost']} ({kinds}): in neither squeue nor sacct for"
            f" {state.get('min_job_age', DEFAULT_MIN_JOB_AGE_S)} s, no status file"
        )
    return line


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
