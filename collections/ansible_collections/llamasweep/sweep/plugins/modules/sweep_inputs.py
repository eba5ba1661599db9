DOCUMENTATION = r"""
module: sweep_inputs
short_description: Check the sweep's inputs, reporting every error at once
description:
  - Reads the sweep role's inputs from the task's variables (sweep_models, sweep_flag_sets,
    sweep_threads, ..., checkpoint_catalog) and fails with one message per bad input, each
    naming the bad value and what is valid.
  - The rules are module_utils/sweep_inputs.py's C(errors()); the plan (sweep_plan.py) uses
    the same ones.
  - Implemented by the action plugin of the same name, on the controller; this file only
    documents it.
options: {}
author: llamasweep developers
"""

EXAMPLES = r"""
- name: Check the sweep definition
  llamasweep.sweep.sweep_inputs:
"""

RETURN = r"""
msg:
  description: One line per bad input, when the task fails.
  type: str
  returned: failure
"""
