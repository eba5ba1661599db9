"""The scheduler backends, one module each behind one interface (the Slurm backend needs
jmespath, as its progress report does on the login node).

A backend is what runs a sweep's tasks: `local` (backend_local.py: run-local.sh runs them one
at a time on the machine that runs the sweep) or `slurm` (backend_slurm.py: build jobs and job
arrays). What is common to every backend is the plan (sweep_plan.py: tasks, arrays, time
limits), the task script (run-task.sh.j2), the build scripts and the collector. A backend
module has:

- NAME: the value of sweep_backend that chooses it;
- REMOTE: whether its sweeps live on cluster storage (the controller's results/<id>/ holds
  remote.json until a fetch brings them) rather than on the controller;
- TASK_ENVIRONMENT: {field of TASK_FIELDS: the environment variable of a running task that
  holds it}; TASK_OUTPUT: where the scheduler writes a task's output in the sweep's directory
  (%A: the array's job id, %a: the task's id), "" for none. run-task.sh reads only these
  (task_facts), so that it runs a task of any backend;
- FINAL_STATES: its scheduler's states that end a job, and the status each gives a run that
  wrote no status file of its own (sweep_rules' STATUS_*; None: the state says nothing);
- scheduled_status(started, output_text, job, build, build_error, partition): the collector's
  (status, reason) of a task without a status file, from the scheduler's last view
  (scheduler.json), or None;
- a progress report: run as `python3 tools/backend_<NAME>.py SWEEP_DIR` (the sweep's own copy,
  beside sweep_rules.py), one line that starts with "finished" when nothing is left to wait
  for; the role's poll calls it.

The role's side is roles/sweep/tasks/backend_<NAME>.yml, one task file whose steps the role
calls by sweep_backend_step (query, files, build, run, active, resume; its header lists what
each sets), and, for a scheduler, its submit script's template.
"""

from ansible_collections.llamasweep.sweep.plugins.module_utils import backend_local, backend_slurm

BACKENDS = {backend.NAME: backend for backend in (backend_local, backend_slurm)}
NAMES = tuple(BACKENDS)

# What run-task.sh knows of its task from the backend: its id in its array (the task is
# run-task.sh's FIRST_INDEX plus it), the array's job id, its own job id. execution.txt
# records them as slurm_array_task_id, slurm_array_job_id and slurm_job_id, the names
# results have always had.
TASK_FIELDS = ("array_task_id", "array_job_id", "job_id")


def task_facts(name):
    """{"environment": {field: variable or ""} for every TASK_FIELDS, "output": TASK_OUTPUT}
    of backend NAME: what run-task.sh.j2 renders."""
    module = backend(name)
    return {
        "environment": {field: module.TASK_ENVIRONMENT.get(field, "") for field in TASK_FIELDS},
        "output": module.TASK_OUTPUT,
    }


def backend(name):
    """The module of backend NAME; ValueError naming the valid ones."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(
            f"backend {name!r} is none of this project's: {', '.join(NAMES)}"
        ) from None
