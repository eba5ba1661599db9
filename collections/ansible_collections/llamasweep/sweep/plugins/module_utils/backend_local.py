#!/usr/bin/env python3
"""The local backend (the interface: backends.py): run-local.sh runs one task at a time on
the machine that runs the sweep, which is the controller, so no scheduler state outlives a
run (FINAL_STATES is empty and scheduled_status says nothing: a run's own files say how it
ended). Its progress report, in one line: runs done of total, failures, the task running
now; it starts with "finished" once nothing is left to wait for.

Usage: backend_local.py SWEEP_DIR   (the sweep's tools/backend_local.py)

Reads SWEEP_DIR/plan.json (the task records: only tasks of kind run are counted) and each
task's status file (a run that ended failed unless sweep_rules.run_ok); run-local.sh leaves
driver.pid and, at its end, finished; while it waits for another local sweep,
waiting-for.txt (that sweep's id), and refused.txt when it was told not to wait (then this exits 1
with its message). Standard library only: it runs with the target's python3.
"""

import json
import os
import sys

try:  # in the collection: the controller (the collector)
    from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_rules import (
        read_status,
        task_dir_ok,
    )
except ImportError:  # run from the sweep's tools/, beside sweep_rules.py
    from sweep_rules import read_status, task_dir_ok

NAME = "local"
# The sweep's directory is the controller's results/<id>/.
REMOTE = False
# run-local.sh runs tasks by index: no array task, no job, no scheduler's output (whatever
# a Slurm allocation the sweep was started in sets).
TASK_ENVIRONMENT = {}
TASK_OUTPUT = ""
# No scheduler: no job state says how a run ended.
FINAL_STATES = {}


def scheduled_status(started, output_text, job, build, build_error, partition):
    """None: the run's own files are all there is (the interface: backends.py)."""
    return None


class Refused(Exception):
    """The sweep did not run (refused.txt says why)."""


def progress(sweep_dir):
    refused = read_status(os.path.join(sweep_dir, "refused.txt"))
    if refused is not None:
        raise Refused(refused)
    with open(os.path.join(sweep_dir, "plan.json")) as plan_file:
        tasks = json.load(plan_file)["tasks"]
    statuses = [
        (task, read_status(os.path.join(sweep_dir, task["dir"], "status"))) for task in tasks
    ]
    done = [
        (task, status) for task, status in statuses if task["kind"] == "run" and status is not None
    ]
    runs = [task for task in tasks if task["kind"] == "run"]
    failed = sum(not task_dir_ok(sweep_dir, task, status) for task, status in done)
    summary = f"{len(done)}/{len(runs)} runs done, {failed} failed"
    if os.path.exists(os.path.join(sweep_dir, "finished")):
        return f"finished: {summary}"
    if not driver_alive(sweep_dir):
        return f"finished: {summary}; the sweep stopped before the end"
    waiting_for = read_status(os.path.join(sweep_dir, "waiting-for.txt"))
    if waiting_for is not None:
        return f"{summary}; waiting for sweep {waiting_for} to finish (one local sweep at a time)"
    # One task at a time, in index order: the first without a status runs now.
    running = next((task for task, status in statuses if status is None), None)
    now = f"{running['kind']} {running['dir']}" if running else "(finishing)"
    return f"{summary}; running {now}"


def driver_alive(sweep_dir):
    """Whether run-local.sh runs (True before it wrote its pid: it is starting)."""
    pid = read_status(os.path.join(sweep_dir, "driver.pid"))
    if pid is None:
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def main(argv):
    if len(argv) != 2 or not os.path.isfile(os.path.join(argv[1], "plan.json")):
        print(f"usage: {argv[0]} SWEEP_DIR (a local sweep, with its plan.json)", file=sys.stderr)
        return 2
    try:
        print(progress(argv[1]))
    except Refused as refused:
        print(
            f"Sweep {os.path.basename(os.path.abspath(argv[1]))} refused: {refused}",
            file=sys.stderr,
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
