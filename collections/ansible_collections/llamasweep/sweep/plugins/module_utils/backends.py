"""The scheduler backends, one module each behind one interface (standard library only).

A backend is what runs a sweep's tasks: `local` (backend_local.py: run-local.sh runs them one
at a time on the machine that runs the sweep) or `slurm` (backend_slurm.py: build jobs and job
arrays). What is common to every backend is the plan (sweep_plan.py: tasks, arrays, time
limits), the task script (run-task.sh.j2), the build scripts and the collector. A backend
module has:

- NAME: the value of sweep_backend that chooses it;
- REMOTE: whether its sweeps live on cluster storage (the controller's results/<id>/ holds
  remote.json until a fetch brings them) rather than on the controller;
- FINAL_STATES: its scheduler's states that end a job, and the status each gives a run that
  wrote no status file of its own (sweep_rules' STATUS_*; None: the state says nothing);
- scheduled_status(started, output_text, job, build, build_error, partition): the collector's
  (status, reason) of a task without a status file, from the scheduler's last view
  (scheduler.json), or None;
- a progress report: run as `python3 tools/backend_<NAME>.py SWEEP_DIR` (the sweep's own copy,
  beside sweep_rules.py), one line that starts with "finished" when nothing is left to wait
  for; the role's poll calls it.

The role's side is roles/sweep/tasks/backend_<NAME>.yml, one task file whose steps the role
calls by sweep_backend_step (query, check, build, run, active, resume; its header lists what
each sets), and, for a scheduler, its submit script's template.
"""

from ansible_collections.llamasweep.sweep.plugins.module_utils import backend_local, backend_slurm

BACKENDS = {backend.NAME: backend for backend in (backend_local, backend_slurm)}
NAMES = tuple(BACKENDS)


def backend(name):
    """The module of backend NAME; ValueError naming the valid ones."""
    try:
        return BACKENDS[name]
    except KeyError:
        raise ValueError(
            f"backend {name!r} is none of this project's: {', '.join(NAMES)}"
        ) from None
