"""Create one sweep's directory exclusively (the module part of llamasweep.sweep.sweep_dir).

mkdir without -p: a directory that exists already belongs to another sweep, so the answer
is clash=true (not a failure) and the action plugin picks another id.
"""

import os

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: sweep_dir
short_description: Name a sweep and create its directory, exclusively
description:
  - Picks the sweep id C(YYYYmmdd-HHMMSS-<4 random hex digits>) (the controller's local time)
    and creates I(parent)/<id> on the target with mkdir, never reusing a directory that
    exists already; on a clash it picks a new id. With I(controller_parent) the id's
    directory is also created, exclusively, under that directory on the controller first
    (a Slurm sweep's results/<id>/), and an id must be free on both.
  - Implemented by the action plugin of the same name, which runs this module on the target
    with one id to create.
options:
  parent:
    description: Directory on the target that holds the sweeps' directories (created if missing).
    type: path
    required: true
  controller_parent:
    description: Directory on the controller that must also get the id's directory.
    type: path
  sweep_id:
    description:
      - The id to create, set by the action plugin (a playbook gives none). An existing
        directory is not an error here but a clash, and the action plugin tries another id.
    type: str
author: llamasweep developers
"""

EXAMPLES = r"""
- name: Name the sweep and create its directory
  llamasweep.sweep.sweep_dir:
    parent: /home/me/llamasweep/sweeps
    controller_parent: /home/me/llamasweep-project/results
  register: sweep_named
"""

RETURN = r"""
sweep_id:
  description: The sweep's id.
  type: str
  returned: success
path:
  description: The sweep's directory on the target, I(parent)/<sweep_id>.
  type: str
  returned: success
controller_path:
  description: Its directory on the controller, when I(controller_parent) was given.
  type: str
  returned: when controller_parent was given
"""


def main():
    module = AnsibleModule(
        argument_spec={
            "parent": {"type": "path", "required": True},
            "sweep_id": {"type": "str", "required": True},
        }
    )
    parent, sweep_id = module.params["parent"], module.params["sweep_id"]
    path = os.path.join(parent, sweep_id)
    try:
        os.makedirs(parent, mode=0o700, exist_ok=True)
        os.mkdir(path, 0o700)
    except FileExistsError:
        module.exit_json(changed=False, clash=True, path=path)
    except OSError as error:
        module.fail_json(msg=f"cannot create the sweep's directory {path}: {error}")
    module.exit_json(changed=True, clash=False, path=path, sweep_id=sweep_id)


if __name__ == "__main__":
    main()
