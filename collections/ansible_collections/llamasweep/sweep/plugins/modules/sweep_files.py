"""Write a sweep's files in one transfer (the module part of llamasweep.sweep.sweep_files).

Each file is written beside its place and renamed into it, so that a reader sees the whole
file or none; a file whose content and mode are already those asked for is left alone
(module_utils/file_writes.py).
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.llamasweep.sweep.plugins.module_utils.file_writes import write_all

DOCUMENTATION = r"""
module: sweep_files
short_description: Write many files on the target in one transfer
description:
  - Creates I(directories) and writes I(files) under I(dest), all in one module call. The
    contents travel with the module's arguments, so the cost is one round trip whatever the
    number of files.
  - Each file is written beside its place and renamed into it (readers see the whole file
    or none); a file that already has the content and mode asked for is not rewritten.
  - Implemented by the action plugin of the same name, which reads I(src) and
    I(python_package) entries on the controller and passes every file's content.
options:
  dest:
    description: The directory that relative paths are under (it must exist).
    type: path
    required: true
  directories:
    description: Directories to create (mode 0700) under I(dest), with their parents.
    type: list
    elements: str
    default: []
  files:
    description:
      - The files to write. Each is a mapping with C(path) (relative to I(dest), or
        absolute), C(mode) (octal string, default C(0600)) and one of C(content) (the text),
        C(src) (a file on the controller, found like the copy module's, in the role's files/
        first) or C(python_package) (an importable pure-Python package of the controller,
        whose .py files are written under C(path)/<package>/).
    type: list
    elements: dict
    default: []
  links:
    description: Symbolic links to make under I(dest), {name relative to I(dest) = target}.
    type: dict
    default: {}
  controller:
    description:
      - Write on the controller, by the action plugin itself (no module call, no
        connection), instead of on the target.
    type: bool
    default: false
author: llamasweep developers
"""

EXAMPLES = r"""
- name: Write the sweep's files
  llamasweep.sweep.sweep_files:
    dest: "{{ sweep_dir }}"
    directories: [runs, tools]
    files:
      - {path: plan.json, content: "{{ sweep_plan | to_nice_json }}\n"}
      - {path: run-task.sh, content: "{{ lookup('template', 'run-task.sh.j2') }}", mode: "0700"}
      - {path: tools/triad.c, src: triad.c}
      - {path: /home/me/llamasweep/lib/python, python_package: jmespath}
"""

RETURN = r"""
written:
  description:
    - The paths written and the links made (as given), in order; what was as asked already
      is not listed.
  type: list
  elements: str
  returned: success
"""


def main():
    module = AnsibleModule(
        argument_spec={
            "dest": {"type": "path", "required": True},
            "directories": {"type": "list", "elements": "str", "default": []},
            "files": {"type": "list", "elements": "dict", "default": []},
            "links": {"type": "dict", "default": {}},
        }
    )
    params = module.params
    try:
        written = write_all(params["dest"], params["directories"], params["files"], params["links"])
    except OSError as error:
        module.fail_json(msg=f"cannot write under {params['dest']}: {error}")
    module.exit_json(changed=bool(written), written=written)


if __name__ == "__main__":
    main()
