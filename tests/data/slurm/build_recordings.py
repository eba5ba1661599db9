#!/usr/bin/env python3
"""Writes the recordings of squeue --json and sacct --json that are built from Slurm's
published schema (SchedMD's src/plugins/data_parser/v0.0.39 ... v0.0.44 and openapi v0.0.38),
not captured: <version>/squeue-running.json and <version>/sacct-forgotten.json for each
release below. tests/data/README.md says which files are real captures.

One sweep, the same in every release: partition p1 (build job 100, array 101 of 4 runs),
p2 (build 110, array 111 of 2 runs), and other users' jobs beside it.
  running   (squeue): p1 built; 101_0 COMPLETED (job 102), 101_1 FAILED exit 1 (103),
            101_2 RUNNING (104, on n3), 101_3 PENDING (JobArrayTaskLimit, on the array's
            record 101); p2 built, 111_0 TIMEOUT (112, signal 15), 111_1 CANCELLED (111,
            signal 15).
  forgotten (sacct, squeue has forgotten every job): 100 COMPLETED, 101_0 COMPLETED,
            101_1 FAILED 1, 101_2 CANCELLED by signal 15, 101_3 TIMEOUT; p2's build 110
            FAILED exit 1, its array's never-started remainder one record, task bitmask 0x3.

Usage: python3 tests/data/slurm/build_recordings.py   (rewrites the files beside it)
"""

import json
import signal
from pathlib import Path

HERE = Path(__file__).resolve().parent
NO_VAL = 0xFFFFFFFE

# release -> its data_parser (openapi for 22.05), and how it prints what the sweep reads.
RELEASES = {
    "22.05": {"parser": "openapi/v0.0.38", "squeue": False, "numbers": "plain",
              "state": "string", "exit": "v38"},
    "23.02": {"parser": "data_parser/v0.0.39", "squeue": True, "numbers": "object",
              "state": "string", "exit": "v39"},
    "23.11": {"parser": "data_parser/v0.0.40", "squeue": True, "numbers": "object",
              "state": "list", "exit": "verbose"},
    "24.05": {"parser": "data_parser/v0.0.41", "squeue": True, "numbers": "object",
              "state": "list", "exit": "verbose"},
    "25.05": {"parser": "data_parser/v0.0.43", "squeue": True, "numbers": "object",
              "state": "list", "exit": "verbose"},
    "25.11": {"parser": "data_parser/v0.0.44", "squeue": True, "numbers": "object",
              "state": "list", "exit": "verbose"},
}  # fmt: skip


def number(release, value):
    """uint32 with NO_VAL: a plain number (22.05) or {set, infinite, number} (23.02+)."""
    if release["numbers"] == "plain":
        return NO_VAL if value is None else value
    return {"set": value is not None, "infinite": False, "number": value or 0}


def state(release, value):
    return value if release["state"] == "string" else [value]


def raw_status(return_code, signal_number):
    return signal_number if signal_number else return_code << 8


def exit_code(release, return_code, signal_number, where):
    """A job's exit code as `where` (squeue or sacct) of the release prints it."""
    kind = release["exit"]
    if where == "squeue" and kind in ("v38", "v39"):  # the raw wait status
        status = raw_status(return_code, signal_number)
        return status if kind == "v38" else number(release, status)
    name = signal.Signals(signal_number).name[3:] if signal_number else ""
    status = "SIGNALED" if signal_number else ("SUCCESS" if return_code == 0 else "ERROR")
    if kind == "verbose":
        return {
            "status": [status],
            "return_code": number(release, None if signal_number else return_code),
            "signal": {"id": number(release, signal_number or None), "name": name},
        }
    # 23.02's sacct gives a signalled job the return code -127
    signalled_code = -127 if kind == "v39" else return_code
    code = {"status": status, "return_code": signalled_code if signal_number else return_code}
    if signal_number:
        code["signal"] = {"signal_id": signal_number, "name": name}
    return code


def squeue_job(release, job_id, array_job_id, task, tasks, value, reason, code, node, name):
    return {
        "job_id": job_id,
        "array_job_id": number(release, array_job_id or 0),
        "array_task_id": number(release, task),
        "array_task_string": tasks,
        "job_state": state(release, value),
        "state_reason": reason,
        "exit_code": exit_code(release, *code, "squeue"),
        "nodes": node,
        "name": name,
        "user_name": "student" if name.startswith("llamasweep-") else "other",
    }


def sacct_job(release, job_id, array_job_id, task, tasks, value, reason, code, node, name):
    return {
        "job_id": job_id,
        "array": {
            "job_id": array_job_id or 0,
            "limits": {"max": {"running": {"tasks": 0}}},
            "task_id": number(release, task),
            "task": tasks,
        },
        "state": {"current": state(release, value), "reason": reason},
        "exit_code": exit_code(release, *code, "sacct"),
        "nodes": node,
        "name": name,
        "user": "student",
    }


SWEEP = "llamasweep-20261127-101500"
RUNNING = [
    (100, None, None, "", "COMPLETED", "None", (0, 0), "n1", f"{SWEEP}-build-p1"),
    (102, 101, 0, "", "COMPLETED", "None", (0, 0), "n1", f"{SWEEP}-p1"),
    (103, 101, 1, "", "FAILED", "NonZeroExitCode", (1, 0), "n2", f"{SWEEP}-p1"),
    (104, 101, 2, "", "RUNNING", "None", (0, 0), "n3", f"{SWEEP}-p1"),
    (101, 101, None, "3", "PENDING", "JobArrayTaskLimit", (0, 0), "", f"{SWEEP}-p1"),
    (110, None, None, "", "COMPLETED", "None", (0, 0), "n1", f"{SWEEP}-build-p2"),
    (112, 111, 0, "", "TIMEOUT", "TimeLimit", (0, 15), "n4", f"{SWEEP}-p2"),
    (111, 111, 1, "", "CANCELLED", "None", (0, 15), "n5", f"{SWEEP}-p2"),
    # other users' jobs: a plain one, and an array task with the sweep's task numbers
    (200, None, None, "", "RUNNING", "None", (0, 0), "n6", "train"),
    (201, 199, 2, "", "RUNNING", "None", (0, 0), "n7", "sweep-of-someone-else"),
]
FORGOTTEN = [
    (100, None, None, "", "COMPLETED", "None", (0, 0), "n1", f"{SWEEP}-build-p1"),
    (102, 101, 0, "", "COMPLETED", "None", (0, 0), "n1", f"{SWEEP}-p1"),
    (103, 101, 1, "", "FAILED", "NonZeroExitCode", (1, 0), "n2", f"{SWEEP}-p1"),
    (104, 101, 2, "", "CANCELLED", "None", (0, 15), "n3", f"{SWEEP}-p1"),
    (101, 101, 3, "", "TIMEOUT", "TimeLimit", (0, 15), "n1", f"{SWEEP}-p1"),
    (110, None, None, "", "FAILED", "NonZeroExitCode", (1, 0), "n1", f"{SWEEP}-build-p2"),
    (111, 111, None, "0x3", "CANCELLED", "DependencyNeverSatisfied", (0, 0), "None assigned",
     f"{SWEEP}-p2"),
]  # fmt: skip


def meta(version, release, command):
    major, minor = version.split(".")
    return {
        "plugins": {"data_parser": release["parser"], "accounting_storage": "slurmdbd"},
        "command": command,
        "slurm": {
            "version": {"major": major, "minor": minor, "micro": "1"},
            "release": f"{version}.1",
            "cluster": "teaching",
        },
    }


def write(path, version, release, command, jobs):
    """A response of command (squeue or sacct) listing jobs, as that release prints it."""
    document = {
        "meta": meta(version, release, [command, "--json"]),
        "jobs": jobs,
        "warnings": [],
        "errors": [],
    }
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(document, indent=2) + "\n")


def main():
    for version, release in RELEASES.items():
        if release["squeue"]:
            jobs = [squeue_job(release, *job) for job in RUNNING]
            write(HERE / version / "squeue-running.json", version, release, "squeue", jobs)
        jobs = [sacct_job(release, *job) for job in FORGOTTEN]
        write(HERE / version / "sacct-forgotten.json", version, release, "sacct", jobs)


if __name__ == "__main__":
    main()
