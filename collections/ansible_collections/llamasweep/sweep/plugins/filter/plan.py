"""The sweep plan's filters; the plan itself is module_utils/sweep_plan.py."""

from ansible.errors import AnsibleFilterError
from ansible_collections.llamasweep.sweep.plugins.module_utils import (
    backend_slurm,
    backends,
    sweep_inputs,
    sweep_record,
)
from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_plan as plan

DOCUMENTATION = r"""
name: partition_plan
short_description: Resolve the sweep's partitions into what is compiled and submitted
description:
  - Fills in each partition's defaults (compiler, flag sets merged over the sweep's, thread
    counts per flag set, cores) and derives its Slurm time limit. C(sweep_plan) then lists
    every task of the sweep (plan.json) and C(tasks_tsv) writes the job script's tasks.tsv;
    C(resume_partitions) gives a resumed sweep's partitions with arrays over its unfinished
    tasks alone, C(topup_plan) a plan with more repetitions of its noisy configurations;
    C(sweep_json) types sweep.json's facts (module_utils/sweep_record.py).
positional: _input
options:
  _input:
    description: The partitions, a list of mappings with at least C(name).
    type: list
    required: true
"""

EXAMPLES = r"""
partitions: "{{ sweep_partitions | llamasweep.sweep.partition_plan(flag_sets=..., ...) }}"
plan: "{{ partitions | llamasweep.sweep.sweep_plan(sweep_id, sweep_dir, ...) }}"
"""

RETURN = r"""
_value:
  description: One mapping per partition, in the given order.
  type: list
"""


def raising_filter_errors(function):
    """The plan's PlanError (and sweep.json's ValueError) as Ansible's filter error (the
    message unchanged)."""

    def wrapped(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (plan.PlanError, ValueError) as error:
            raise AnsibleFilterError(str(error)) from error

    return wrapped


class FilterModule:
    def filters(self):
        # emulated.yml checks the emulated partitions it picks with the inventory's rules.
        return {
            "backend_remote": lambda name: backends.backend(name).REMOTE,
            "backend_task_facts": raising_filter_errors(backends.task_facts),
            "partition_errors": sweep_inputs.partition_errors,
            "sinfo_partitions": backend_slurm.partitions,
            "sweep_json": raising_filter_errors(sweep_record.sweep_json),
            **{
                name: raising_filter_errors(getattr(plan, name))
                for name in (
                    "announcement",
                    "partition_plan",
                    "emulator_words",
                    "sweep_plan",
                    "tasks_tsv",
                    "plan_files",
                    "resume_problems",
                    "slurped_texts",
                    "resume_partitions",
                    "topup_plan",
                )
            },
        }
