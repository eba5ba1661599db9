DOCUMENTATION = r"""
module: poll
short_description: Show the progress of a running sweep until it finishes
description:
  - Runs a status command on the target every I(interval) seconds and displays each new line
    it prints. Stops when the line starts with C(finished), fails after I(timeout) seconds.
  - Implemented by the action plugin of the same name; this file only documents it.
options:
  command:
    description: Status command, a string or an argv list.
    type: raw
    required: true
  interval:
    description: Seconds between polls.
    type: float
    default: 5
  max_interval:
    description:
      - Most seconds between polls. While the status line does not change, the wait doubles
        from I(interval) up to this; a new line starts again from I(interval).
      - Defaults to I(interval) (no back-off).
    type: float
  timeout:
    description: Seconds before giving up (the sweep itself goes on).
    type: float
    default: 86400
author: llamasweep developers
"""

EXAMPLES = r"""
- name: Wait for the sweep
  llamasweep.sweep.poll:
    command: [bash, /path/to/progress.sh]
    interval: 5
    max_interval: 60
"""

RETURN = r"""
msg:
  description: The last status line.
  type: str
  returned: always
"""
